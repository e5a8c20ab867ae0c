/**
 * The BACnet driver when the device goes quiet, and discovery: a stalled device is
 * GW_ERR_BACNET_TIMEOUT and the driver recovers through connect() (what the poller
 * does); a device that never answers fails connect(); devices on one local port share
 * one socket; a unicast Who-Is finds the device and its object list.
 */
import { createSocket } from 'node:dgram';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import { createBacnetDriver } from '../../src/drivers/bacnet/driver.js';
import { planBlocks, startRig } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

t.test('a stalled device times out with GW_ERR_BACNET_TIMEOUT; the driver recovers', async (t) => {
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1501 }], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut', { timeoutMs: 250 });
  await driver.connect();
  const points = rig.config('dut').profile.points.filter((p) => ['ai_real', 'bi_bool'].includes(p.name));
  const block = planBlocks(driver, points)[0]!;
  dev.stall(true);
  const started = Date.now();
  const err = await errorOf(driver.read(block));
  t.ok(isGatewayError(err, 'GW_ERR_BACNET_TIMEOUT'));
  if (isGatewayError(err)) {
    t.equal(err.kind, 'timeout');
    t.match(err.message, /ReadPropertyMultiple .*device 1501 at 127\.0\.0\.1:\d+.*no answer within 250 ms/);
  }
  t.ok(Date.now() - started < 1000, 'within the configured timeout');
  t.notOk(driver.isConnected(), 'the poller will reconnect before the next read');
  t.ok(isGatewayError(await errorOf(driver.connect()), 'GW_ERR_BACNET_TIMEOUT'), 'still silent: connect fails');
  dev.stall(false);
  await driver.connect();
  t.ok(driver.isConnected());
  const results = await driver.read(block);
  t.ok(results.every((r) => r.ok), 'reads again');
});

t.test('connect() to an address where no device answers fails with a timeout', async (t) => {
  // A UDP port that is bound but silent.
  const silent = createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  t.teardown(() => silent.close());
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1502 }], { tickMs: 60_000 });
  const config = rig.config('dut');
  const driver = createBacnetDriver({ ...config, connection: { ...config.connection, port: silent.address().port, timeoutMs: 200 } }, createLogger({ level: 'silent' }));
  t.teardown(() => driver.close());
  const err = await errorOf(driver.connect());
  t.ok(isGatewayError(err, 'GW_ERR_BACNET_TIMEOUT'));
  t.notOk(driver.isConnected());
});

t.test('devices on the same local port share one socket; the last close releases it', async (t) => {
  const rig = await startRig(
    t,
    [
      { id: 'ahu-1', profile: 'hvac/ahu', deviceInstance: 260001 },
      { id: 'ch-1', profile: 'hvac/chiller', deviceInstance: 270001 },
    ],
    { tickMs: 60_000 },
  );
  const a = rig.driver('ahu-1');
  const b = rig.driver('ch-1');
  await a.connect();
  await b.connect();
  const localOf = (d: unknown) => (d as { link?: { local?: { port: number } } }).link?.local?.port;
  t.ok(localOf(a) !== undefined && localOf(a) !== 47808, 'an ephemeral port, never 47808');
  t.equal(localOf(a), localOf(b), 'one socket for both');
  t.not(a.linkKey, b.linkKey, 'but each device is its own link for the poller (UDP: no head-of-line blocking)');
  await a.close();
  t.ok(b.isConnected(), 'closing one device leaves the other working');
  const r = await b.read(planBlocks(b, rig.config('ch-1').profile.points)[0]!);
  t.ok(r.every((x) => x.ok));
});

t.test('discover: unicast Who-Is → I-Am → object list with names', async (t) => {
  const rig = await startRig(t, [{ id: 'ahu-1', profile: 'hvac/ahu', deviceInstance: 260001 }], { tickMs: 60_000 });
  const driver = rig.driver('ahu-1');
  const found = await driver.discover();
  t.equal(found.length, 1);
  const d = found[0]!;
  t.equal(d.protocol, 'bacnet-ip');
  t.same(d.connection, { protocol: 'bacnet-ip', host: '127.0.0.1', port: rig.sim.devices[0]!.port, deviceInstance: 260001 });
  t.equal(d.vendor, 'Steward simulator');
  t.equal(d.model, 'DDC-AHU');
  const objects = (d.details as { objects: { type: string; instance: number; name?: string }[] }).objects;
  t.equal(objects.length, 17, 'the device object and the 16 objects of the profile');
  t.same(objects[0], { type: 'device', instance: 260001, name: 'ahu-1' });
  t.ok(objects.some((o) => o.type === 'analog-input' && o.instance === 1 && o.name === 'supply_air_temperature'));
  t.ok(objects.some((o) => o.type === 'multi-state-value' && o.instance === 1 && o.name === 'operating_mode'));
});

t.test('discover at an address where nothing answers finds nothing', async (t) => {
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1503 }], { tickMs: 60_000 });
  rig.sim.devices[0]!.device.stall(true);
  const driver = rig.driver('dut', { timeoutMs: 200 });
  t.same(await driver.discover(), []);
});

t.test('the RPM refusal is logged naming the reject reason', async (t) => {
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1504 }], { tickMs: 60_000, behaviour: { dut: { refuseRpm: 'reject' } } });
  const out = new PassThrough();
  const lines: string[] = [];
  out.on('data', (c: Buffer) => lines.push(c.toString()));
  const config = rig.config('dut');
  const driver = createBacnetDriver({ ...config, connection: { ...config.connection, port: rig.sim.devices[0]!.port } }, createLogger({ level: 'warn', destination: out }));
  t.teardown(() => driver.close());
  await driver.connect();
  await driver.read(planBlocks(driver, config.profile.points.slice(0, 3))[0]!);
  t.match(lines.join(''), /rejected by the device \(unrecognized-service\)/);
});
