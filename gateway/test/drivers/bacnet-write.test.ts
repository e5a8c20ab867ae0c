/**
 * Writing with the BACnet driver: WriteProperty at the point's priority (default 8,
 * manual operator) lands in the device's priority array and wins over the device's own
 * program (priority 16); relinquish (NULL at that priority) hands control back.
 * Refusals: read-only points before anything is sent, device errors named by class/code.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import { planBlocks, startRig } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));
const DEVICE = { id: 'dut', profile: ALL_TYPES, deviceInstance: 1301 };

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

t.test('a write at the default priority 8 overrides the program; relinquish hands back', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  dev.set('ao_valve', 35); // the device's program, at priority 16
  const driver = rig.driver('dut');
  await driver.connect();
  const valve = rig.point('dut', 'ao_valve');

  await driver.write(valve, 80);
  const pa = dev.priorityArray('ao_valve')!;
  t.equal(pa[7], 80, 'priority 8 holds the command');
  t.equal(pa[15], 35, 'priority 16 still holds the program’s');
  t.equal(dev.get('ao_valve'), 80, 'present-value is the highest priority');
  const read = await driver.read(planBlocks(driver, [valve])[0]!);
  t.same(read[0], { ok: true, value: 80 });

  await driver.relinquish(valve);
  t.equal(dev.priorityArray('ao_valve')![7], null, 'priority 8 is empty again');
  t.equal(dev.get('ao_valve'), 35, 'the program’s value is back');

  // A null value written through the Driver contract relinquishes too (e.g. from MQTT JSON).
  await driver.write(valve, 50);
  await driver.write(valve, null as unknown as number);
  t.equal(dev.priorityArray('ao_valve')![7], null);
});

t.test("a point's own priority is used", async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut');
  await driver.connect();
  await driver.write(rig.point('dut', 'bo_start'), true);
  const pa = dev.priorityArray('bo_start')!;
  t.equal(pa[4], true, 'priority 5 (critical equipment control), as the profile says');
  t.equal(pa[7], null, 'not the default 8');
  t.equal(dev.get('bo_start'), true);
  await driver.relinquish(rig.point('dut', 'bo_start'));
  t.equal(dev.get('bo_start'), false, 'relinquish-default');
});

t.test('values of every writable type reach the device', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut');
  await driver.connect();
  const cases: [string, number | boolean | string][] = [
    ['av_setpoint', 22.5],
    ['msv_state', 2],
    ['iv_signed', -7],
    ['piv_unsigned', 70_000],
    ['lav_double', 0.1 + 0.2],
    ['csv_string', 'hello'],
  ];
  for (const [name, v] of cases) {
    await driver.write(rig.point('dut', name), v);
    t.equal(dev.get(name), v, name);
  }
  t.equal(dev.priorityArray('av_setpoint'), undefined, 'a setpoint analog-value is not commandable: the priority is ignored (§15.9.1.1.5)');
});

t.test('refusals: read-only points, wrong types, and errors from the device', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const driver = rig.driver('dut');
  await driver.connect();
  const ro = await errorOf(driver.write(rig.point('dut', 'ai_real'), 1));
  t.ok(isGatewayError(ro, 'GW_ERR_WRITE_REFUSED'), 'access: r is refused before sending');
  const wrongType = await errorOf(driver.write(rig.point('dut', 'bo_start'), 'on'));
  t.ok(isGatewayError(wrongType, 'GW_ERR_WRITE_REFUSED'));
  const notCommandable = await errorOf(driver.relinquish(rig.point('dut', 'ai_units')));
  t.ok(isGatewayError(notCommandable, 'GW_ERR_WRITE_REFUSED'));
  const outOfRange = await errorOf(driver.write(rig.point('dut', 'msv_state'), 9));
  t.ok(isGatewayError(outOfRange, 'GW_ERR_BACNET_ERROR'), 'state 9 of 3');
  if (isGatewayError(outOfRange)) {
    t.match(outOfRange.message, /property\/value-out-of-range/);
    t.same(outOfRange.details, { errorClass: 'property', errorCode: 'value-out-of-range' });
    t.equal(outOfRange.kind, 'contract');
  }
  t.ok(driver.isConnected(), 'an error answer leaves the driver connected');
});

t.test("an operator's stop at priority 8 holds against the AHU program's start at 16", async (t) => {
  const rig = await startRig(t, [{ id: 'ahu-1', profile: 'hvac/ahu', deviceInstance: 260001 }], { tickMs: 20 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('ahu-1');
  await driver.connect();
  const fan = rig.point('ahu-1', 'supply_fan_command');
  const programStarts = dev.priorityArray('supply_fan_command')![15];
  await driver.write(fan, false);
  await new Promise((r) => setTimeout(r, 150)); // several model ticks
  t.equal(dev.priorityArray('supply_fan_command')![15], programStarts, 'the program keeps commanding at 16');
  t.equal(dev.get('supply_fan_command'), false, 'the operator’s stop wins');
  await driver.relinquish(fan);
  t.equal(dev.get('supply_fan_command'), programStarts, 'relinquished: the program’s command is back');
});
