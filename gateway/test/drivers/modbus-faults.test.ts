/**
 * The Modbus driver when things go wrong: exception responses, a device that stops
 * answering, a connection dropped by the device, a device that is gone — and recovery
 * through connect(), which is what the poller does.
 */
import net from 'node:net';
import t from 'tap';
import type { PointSpec } from '../../src/core/config/profile.js';
import { isGatewayError } from '../../src/core/errors.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createModbusDriver } from '../../src/drivers/modbus/driver.js';
import { banksFor, DeviceIo } from '../../../scripts/sim/device-io.js';
import { startModbusServer } from '../../../scripts/sim/modbus-server.js';
import { RegisterBank } from '../../../scripts/sim/register-bank.js';
import { deviceConfig, loadAllTypes, planBlocks, silentLog } from './modbus-fixture.js';

const profile = loadAllTypes();
const point = (name: string): PointSpec => profile.points.find((q) => q.name === name)!;
const TIMEOUT_MS = 300;

async function setup(t: { teardown(fn: () => unknown): void }, units?: ReadonlyMap<number, RegisterBank>) {
  const bank = banksFor(profile, 1).get(1)!;
  const io = new DeviceIo(profile, 1, () => bank);
  io.set('h_int16', -1234);
  const server = await startModbusServer({ units: units ?? bank });
  const driver = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port: server.port, timeoutMs: TIMEOUT_MS }), silentLog);
  t.teardown(async () => {
    await driver.close();
    await server.close();
  });
  await driver.connect();
  return { server, driver, io };
}

const readInt16 = (driver: Driver) => driver.read(planBlocks(driver, [point('h_int16')])[0]!);

t.test('an exception response is GW_ERR_MODBUS_EXCEPTION naming the code; the link stays up', async (t) => {
  const { server, driver } = await setup(t);
  const cases: [number, RegExp][] = [
    [1, /Modbus exception 1 \(illegal function\)/],
    [2, /Modbus exception 2 \(illegal data address\)/],
    [3, /Modbus exception 3 \(illegal data value\)/],
    [4, /Modbus exception 4 \(server device failure\)/],
    [6, /Modbus exception 6 \(server device busy\)/],
    [0x0a, /Modbus exception 10 \(gateway path unavailable\)/],
    [0x0b, /Modbus exception 11 \(gateway target device failed to respond\)/],
  ];
  for (const [code, message] of cases) {
    server.setFaults({ exception: code });
    const err = await readInt16(driver).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(isGatewayError(err, 'GW_ERR_MODBUS_EXCEPTION'), `code ${code}`);
    if (isGatewayError(err)) {
      t.match(err.message, message);
      t.equal(err.details.exceptionCode, code);
      t.equal(err.kind, 'contract');
    }
    t.ok(driver.isConnected(), 'an exception is an answer: the link is fine');
  }
  server.setFaults({});
  await t.rejects(driver.write(point('h_int16'), 5).then(() => {
    server.setFaults({ exception: 4 });
    return driver.write(point('h_int16'), 6);
  }), { code: 'GW_ERR_MODBUS_EXCEPTION', message: /FC6 write register 0.*exception 4/ }, 'writes too');
  server.setFaults({});
  t.same(await readInt16(driver), [{ ok: true, value: 5 }]);
});

t.test('registers outside the device map: exception 2 from the simulator itself', async (t) => {
  const { driver } = await setup(t);
  const spec = { ...point('h_int16'), address: { table: 'holding', register: 500 } };
  const at = driver.locate(spec);
  await t.rejects(driver.read({ space: at.space, start: at.start, count: 1, points: [{ spec, at }] }), { code: 'GW_ERR_MODBUS_EXCEPTION', message: /exception 2 \(illegal data address\).*check the addresses/ });
});

t.test('an unknown unit behind a gateway: exception 0x0B', async (t) => {
  const units = new Map([[7, new RegisterBank({ holding: 10 })]]);
  const { driver } = await setup(t, units);
  await t.rejects(readInt16(driver), { code: 'GW_ERR_MODBUS_EXCEPTION', message: /exception 11 \(gateway target device failed to respond\)/ });
});

t.test('a device that stops answering: GW_ERR_MODBUS_TIMEOUT within ~timeoutMs, then recovery through connect()', async (t) => {
  const { server, driver } = await setup(t);
  server.setFaults({ stall: true });
  const started = performance.now();
  await t.rejects(readInt16(driver), { code: 'GW_ERR_MODBUS_TIMEOUT', message: new RegExp(`within ${TIMEOUT_MS} ms`) });
  const elapsed = performance.now() - started;
  t.ok(elapsed >= TIMEOUT_MS - 5 && elapsed < TIMEOUT_MS + 400, `timed out after ${Math.round(elapsed)} ms`);
  t.notOk(driver.isConnected(), 'the link is marked down');
  await t.rejects(readInt16(driver), { code: 'GW_ERR_MODBUS_CONNECT' }, 'until reconnected');
  server.setFaults({});
  await driver.connect();
  t.ok(driver.isConnected());
  t.same(await readInt16(driver), [{ ok: true, value: -1234 }], 'reads again after reconnecting');
  t.equal(server.stats.connections, 2, 'on a fresh connection');
});

t.test('a connection dropped while a request waits: GW_ERR_MODBUS_CONNECT at once, not a timeout', async (t) => {
  const { server, driver } = await setup(t);
  server.setFaults({ stall: true });
  const started = performance.now();
  const pending = readInt16(driver);
  setTimeout(() => server.dropConnections(), 50);
  await t.rejects(pending, { code: 'GW_ERR_MODBUS_CONNECT' });
  t.ok(performance.now() - started < TIMEOUT_MS, 'before the timeout');
  t.notOk(driver.isConnected());
  server.setFaults({});
  await driver.connect();
  t.same(await readInt16(driver), [{ ok: true, value: -1234 }]);
});

t.test('a connection dropped while idle: the next read fails fast with GW_ERR_MODBUS_CONNECT', async (t) => {
  const { server, driver } = await setup(t);
  server.dropConnections();
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(driver.isConnected(), 'noticed without a request');
  await t.rejects(readInt16(driver), { code: 'GW_ERR_MODBUS_CONNECT' });
  await driver.connect();
  t.same(await readInt16(driver), [{ ok: true, value: -1234 }]);
});

t.test('a device that is gone: connect() fails with GW_ERR_MODBUS_CONNECT', async (t) => {
  const { server, driver } = await setup(t);
  await server.close();
  for (let i = 0; i < 100 && driver.isConnected(); i++) await new Promise((r) => setTimeout(r, 10));
  t.notOk(driver.isConnected(), 'the closed connection is noticed');
  await t.rejects(readInt16(driver), { code: 'GW_ERR_MODBUS_CONNECT' });
  await t.rejects(driver.connect(), { code: 'GW_ERR_MODBUS_CONNECT', message: /cannot connect to tcp:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/ });
  t.notOk(driver.isConnected());
});

t.test('a device that refuses every connection (closes at once): connect or the first read fails with GW_ERR_MODBUS_CONNECT', async (t) => {
  const { server, driver } = await setup(t);
  server.setFaults({ close: true });
  await new Promise((r) => setTimeout(r, 20));
  const err = await driver
    .connect()
    .then(() => readInt16(driver))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.ok(isGatewayError(err, 'GW_ERR_MODBUS_CONNECT'), String(err));
});

t.test('close() while a request waits rejects it', async (t) => {
  const { server, driver } = await setup(t);
  server.setFaults({ stall: true });
  const pending = readInt16(driver);
  await driver.close();
  await t.rejects(pending, { code: 'GW_ERR_MODBUS_CONNECT' });
});

t.test('garbage sent to the simulator closes that connection only', async (t) => {
  const { server, driver } = await setup(t);
  for (const junk of [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0, 1, 0, 0, 0xff, 0xff, 1, 3]), Buffer.from([0, 1, 0, 0, 0, 0, 1])]) {
    const closed = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: server.port }, () => s.write(junk));
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 1000);
    });
    t.ok(closed, `closed after ${junk.toString('hex').slice(0, 16)}…`);
  }
  t.equal(server.stats.garbage, 3);
  t.same(await readInt16(driver), [{ ok: true, value: -1234 }], 'the server still serves');
});
