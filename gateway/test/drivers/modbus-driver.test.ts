/**
 * The Modbus driver against the simulator's server: every data type in every word and
 * byte order, from all four tables, read back as the bank holds it; writes by FC 5, 6
 * and 16 land in the bank; RTU over TCP; locate/limits/linkKey.
 */
import t from 'tap';
import type { PointSpec } from '../../src/core/config/profile.js';
import { isGatewayError } from '../../src/core/errors.js';
import { createModbusDriver } from '../../src/drivers/modbus/driver.js';
import { banksFor, DeviceIo } from '../../../scripts/sim/device-io.js';
import { startModbusServer, type ModbusServer } from '../../../scripts/sim/modbus-server.js';
import type { RegisterBank } from '../../../scripts/sim/register-bank.js';
import { deviceConfig, loadAllTypes, planBlocks, readAll, silentLog } from './modbus-fixture.js';

const profile = loadAllTypes();
const point = (name: string): PointSpec => {
  const p = profile.points.find((q) => q.name === name);
  if (p === undefined) throw new Error(`no point ${name}`);
  return p;
};
const registerOf = (name: string) => (point(name).address as { register: number }).register;

const ORDERS = ['abcd', 'cdab', 'badc', 'dcba'];
const VALUES: Record<string, number | boolean | string> = {
  h_int16: -1234,
  h_int16_bl: -2,
  h_uint16: 54321,
  h_uint16_bl: 0x1234,
  h_bool: true,
  h_bit0: true,
  h_bit3: false,
  h_bit15: true,
  h_string: 'PUMP-1',
  h_string_bl: 'ABCDEFGH',
  i_float32: 101.5,
  i_int16: 42,
  i_uint32_cdab: 70000,
  i_float64_dcba: Math.PI,
  i_string: 'B2F',
  c_run: true,
  c_reset: false,
  c_far: true,
  d_door: true,
  d_alarm: false,
  d_far: true,
};
ORDERS.forEach((o, i) => {
  VALUES[`h_int32_${o}`] = [-123456789, 987654321, -2, 0x12345678][i]!;
  VALUES[`h_uint32_${o}`] = [3_000_000_000, 70000, 0xdeadbeef, 1][i]!;
  VALUES[`h_float32_${o}`] = [23.5, -1536.25, 0.15625, 725000][i]!;
  VALUES[`h_float64_${o}`] = [-12345.678901, Math.E, 1e-300, 6.02214076e23][i]!;
  VALUES[`h_int64_${o}`] = [-9_007_199_254_740_991, 12345678901, -1, 0x0102030405060][i]!;
  VALUES[`h_uint64_${o}`] = [9_007_199_254_740_991, 0, 65536, 0x0102030405060][i]!;
});

function fill(io: DeviceIo) {
  for (const [name, value] of Object.entries(VALUES)) io.set(name, value);
}

async function setup(t: { teardown(fn: () => unknown): void }, extra: { framing?: 'mbap' | 'rtu'; options?: Record<string, unknown> } = {}) {
  const bank: RegisterBank = banksFor(profile, 1).get(1)!;
  const io = new DeviceIo(profile, 1, () => bank);
  fill(io);
  const server: ModbusServer = await startModbusServer({ units: bank, ...(extra.framing === undefined ? {} : { framing: extra.framing }) });
  const p = extra.options === undefined ? profile : { ...profile, protocolOptions: { ...profile.protocolOptions, ...extra.options } };
  const protocol = extra.framing === 'rtu' ? 'modbus-rtu-tcp' : 'modbus-tcp';
  const driver = createModbusDriver(deviceConfig(p, { protocol, host: '127.0.0.1', port: server.port }), silentLog);
  t.teardown(async () => {
    await driver.close();
    await server.close();
  });
  await driver.connect();
  return { bank, io, server, driver };
}

t.test('reads every data type, word order and byte order from all four tables', async (t) => {
  const { driver } = await setup(t);
  t.ok(driver.isConnected());
  const values = await readAll(driver, profile.points);
  t.equal(values.size, profile.points.length);
  for (const [name, expected] of Object.entries(VALUES)) t.equal(values.get(name), expected, name);
});

t.test('the bank holds each order as it should be on the wire', async (t) => {
  const { bank } = await setup(t);
  const regs = (name: string, n: number) => Array.from(bank.holding.subarray(registerOf(name), registerOf(name) + n));
  t.same(regs('h_float32_abcd', 2), [0x41bc, 0x0000], 'float32 23.5 ABCD');
  t.same(regs('h_int16', 1), [0xfb2e], 'int16 -1234');
  t.same(regs('h_int16_bl', 1), [0xfeff], 'int16 -2 byte-swapped');
  t.same(regs('h_int32_dcba', 2), [0x7856, 0x3412], 'int32 0x12345678 DCBA');
  t.same(regs('h_string', 4), [0x5055, 0x4d50, 0x2d31, 0x0000], 'PUMP-1');
  t.equal(bank.holding[registerOf('h_bit0')], 0x8001, 'bits 0 and 15 set');
});

t.test('one block per point reads the same as coalesced blocks', async (t) => {
  const { driver } = await setup(t);
  for (const spec of profile.points) {
    const at = driver.locate(spec);
    const [r] = await driver.read({ space: at.space, start: at.start, count: at.count, points: [{ spec, at }] });
    t.same(r, { ok: true, value: VALUES[spec.name] }, spec.name);
  }
});

t.test('coalesced blocks respect the profile limits and read through gaps', async (t) => {
  const { driver, server } = await setup(t);
  const blocks = planBlocks(driver, profile.points);
  const spaces = blocks.map((b) => `${b.space} ${b.start}+${b.count}`);
  t.same(spaces, ['1/coil 0+2', '1/coil 20+1', '1/discrete 0+10', '1/holding 0+86', '1/input 0+16']);
  const before = server.stats.requests;
  await readAll(driver, profile.points);
  t.equal(server.stats.requests - before, blocks.length, 'one request per block');
  t.same(server.stats.functions, { 1: 2, 2: 1, 3: 1, 4: 1 });
});

t.test('a NaN float is a bad reading; the other points of the block are fine', async (t) => {
  const { driver, io } = await setup(t);
  io.set('i_float32', NaN);
  const results = await driver.read(planBlocks(driver, profile.points.filter((p) => p.name.startsWith('i_')))[0]!);
  const [nan, ...rest] = results;
  t.equal(nan?.ok, false);
  if (nan !== undefined && !nan.ok) {
    t.ok(isGatewayError(nan.error, 'GW_ERR_DECODE'));
    t.match(nan.error.message, /i_float32.*NaN/);
  }
  t.ok(rest.every((r) => r.ok));
});

t.test('writes land in the bank: FC5 coils, FC6 single registers, FC16 wider values, bits by read-modify-write', async (t) => {
  const { driver, io, server } = await setup(t);
  const fcs = () => ({ ...server.stats.functions });

  await driver.write(point('c_run'), false);
  await driver.write(point('c_reset'), true);
  t.equal(io.get('c_run'), false);
  t.equal(io.get('c_reset'), true);
  t.equal(fcs()[5], 2, 'FC5');

  await driver.write(point('h_int16'), -32768);
  await driver.write(point('h_uint16'), 349.99999999999994);
  await driver.write(point('h_int16_bl'), 300);
  t.equal(io.get('h_int16'), -32768);
  t.equal(io.get('h_uint16'), 350, 'float noise from unscaling is rounded');
  t.equal(io.get('h_int16_bl'), 300);
  t.equal(fcs()[6], 3, 'FC6');

  for (const o of ORDERS) {
    await driver.write(point(`h_float32_${o}`), -0.5);
    await driver.write(point(`h_float64_${o}`), 1234.5678);
    await driver.write(point(`h_int64_${o}`), -42);
    await driver.write(point(`h_uint32_${o}`), 4_000_000_000);
  }
  await driver.write(point('h_string'), 'B2-P3');
  for (const o of ORDERS) {
    t.equal(io.get(`h_float32_${o}`), -0.5);
    t.equal(io.get(`h_float64_${o}`), 1234.5678);
    t.equal(io.get(`h_int64_${o}`), -42);
    t.equal(io.get(`h_uint32_${o}`), 4_000_000_000);
  }
  t.equal(io.get('h_string'), 'B2-P3');
  t.equal(fcs()[16], 17, 'FC16 for every multi-register point');

  // bits: only the addressed bit changes (bit 15 stays set, bit 0 stays set).
  await driver.write(point('h_bit3'), true);
  t.equal(io.get('h_bit3'), true);
  t.equal(io.get('h_bit0'), true);
  t.equal(io.get('h_bit15'), true);
  await driver.write(point('h_bit0'), false);
  t.equal(io.get('h_bit0'), false);
  t.equal(io.get('h_bit3'), true);
  t.equal(io.get('h_bit15'), true);

  // and the driver reads back what it wrote
  const values = await readAll(driver, profile.points);
  t.equal(values.get('h_float32_dcba'), -0.5);
  t.equal(values.get('h_string'), 'B2-P3');
  t.equal(values.get('c_reset'), true);
});

t.test('writeSingleWithMultiple sends single registers with FC16', async (t) => {
  const { driver, io, server } = await setup(t, { options: { writeSingleWithMultiple: true } });
  await driver.write(point('h_uint16'), 7);
  t.equal(io.get('h_uint16'), 7);
  t.equal(server.stats.functions[16], 1);
  t.equal(server.stats.functions[6], undefined);
});

t.test('writes are refused before anything is sent: read-only tables and points, values that do not fit', async (t) => {
  const { driver, server } = await setup(t);
  const before = server.stats.requests;
  await t.rejects(driver.write(point('i_int16'), 1), { code: 'GW_ERR_WRITE_REFUSED', message: /input registers are read-only/ });
  await t.rejects(driver.write(point('d_door'), true), { code: 'GW_ERR_WRITE_REFUSED', message: /discrete inputs are read-only/ });
  await t.rejects(driver.write(point('h_uint16_bl'), 1), { code: 'GW_ERR_WRITE_REFUSED', message: /read-only \(access: r/ });
  await t.rejects(driver.write(point('h_int16'), 40000), { code: 'GW_ERR_WRITE_REFUSED' });
  await t.rejects(driver.write(point('h_string'), 'far too long for four registers'), { code: 'GW_ERR_WRITE_REFUSED' });
  await t.rejects(driver.write(point('c_run'), 'on'), { code: 'GW_ERR_WRITE_REFUSED' });
  t.equal(server.stats.requests, before, 'nothing reached the device');
});

t.test('modbus-rtu-tcp: RTU frames with CRC over TCP', async (t) => {
  const { driver, io, server } = await setup(t, { framing: 'rtu' });
  t.equal(driver.linkKey, `rtu-tcp://127.0.0.1:${server.port}`);
  const values = await readAll(driver, profile.points);
  for (const [name, expected] of Object.entries(VALUES)) t.equal(values.get(name), expected, name);
  await driver.write(point('h_float64_cdab'), -1.25);
  await driver.write(point('h_uint16'), 9);
  await driver.write(point('c_far'), false);
  t.equal(io.get('h_float64_cdab'), -1.25);
  t.equal(io.get('h_uint16'), 9);
  t.equal(io.get('c_far'), false);
});

t.test('locate, limits and linkKey', async (t) => {
  const tcp = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port: 15020, unitId: 3 }), silentLog);
  t.same(tcp.locate(point('h_float64_abcd')), { space: '3/holding', start: registerOf('h_float64_abcd'), count: 4 });
  t.same(tcp.locate(point('h_string')), { space: '3/holding', start: registerOf('h_string'), count: 4 });
  t.same(tcp.locate(point('c_far')), { space: '3/coil', start: 20, count: 1 });
  t.same(tcp.locate(point('d_far')), { space: '3/discrete', start: 9, count: 1 });
  const override = { ...point('i_int16'), address: { table: 'input', register: 2, unitId: 9 } };
  t.same(tcp.locate(override), { space: '9/input', start: 2, count: 1 }, 'address.unitId wins over the connection');
  t.same(tcp.limits('3/holding'), { maxCount: 120, maxGap: 8 });
  t.same(tcp.limits('3/coil'), { maxCount: 64, maxGap: 8 });
  t.equal(tcp.protocol, 'modbus-tcp');
  t.equal(tcp.linkKey, 'tcp://127.0.0.1:15020');
  t.equal(createModbusDriver(deviceConfig(profile, { protocol: 'modbus-rtu-tcp', host: 'gw.local', port: 4001 }), silentLog).linkKey, 'rtu-tcp://gw.local:4001');
  t.equal(createModbusDriver(deviceConfig(profile, { protocol: 'modbus-rtu', path: '/dev/ttyUSB0', baudRate: 9600, parity: 'even', dataBits: 8, stopBits: 1 }), silentLog).linkKey, 'rtu:///dev/ttyUSB0');
  t.equal(createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '::1', port: 502 }), silentLog).linkKey, 'tcp://[::1]:502');
  t.notOk(tcp.isConnected());
  await t.rejects(tcp.read({ space: '3/holding', start: 0, count: 1, points: [] }), { code: 'GW_ERR_MODBUS_CONNECT' }, 'read before connect');
});

t.test('devices on one link share one connection; the last close closes it', async (t) => {
  const { driver, server } = await setup(t);
  const other = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port: server.port, unitId: 2 }, 'other'), silentLog);
  await other.connect();
  t.equal(other.linkKey, driver.linkKey);
  t.equal(server.stats.connections, 1, 'one TCP connection for both');
  const v = await readAll(other, [point('h_int16')]);
  t.equal(v.get('h_int16'), -1234);
  await other.close();
  t.ok(driver.isConnected(), 'closing one device keeps the link for the other');
  t.equal((await readAll(driver, [point('h_int16')])).get('h_int16'), -1234);
  await driver.close();
  await driver.close();
  t.notOk(driver.isConnected(), 'close is idempotent');
  await t.rejects(driver.read(planBlocks(driver, [point('h_int16')])[0]!), { code: 'GW_ERR_MODBUS_CONNECT' });
  await driver.connect();
  t.equal((await readAll(driver, [point('h_int16')])).get('h_int16'), -1234, 'connect again after close');
});
