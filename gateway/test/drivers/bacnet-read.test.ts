/**
 * Reading with the BACnet driver against the simulated device: every value type in one
 * ReadPropertyMultiple, per-property errors that name the BACnet error class and code
 * while the other points still read, and the fall-back to ReadProperty when the device
 * refuses ReadPropertyMultiple (Reject, Error or Abort).
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import type { PointResult } from '../../src/drivers/driver.js';
import { createBacnetDriver, type BacnetDriver } from '../../src/drivers/bacnet/driver.js';
import type { PointSpec } from '../../src/core/config/profile.js';
import { planBlocks, silentLog, startRig } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));
const DEVICE = { id: 'dut', profile: ALL_TYPES, deviceInstance: 1201 };
// Values stay put between reads: the model ticks once a minute.
const STILL = { tickMs: 60_000 };

async function readNamed(driver: BacnetDriver, all: readonly PointSpec[], names?: readonly string[]): Promise<{ results: Map<string, PointResult>; requests: number }> {
  const points = all.filter((p) => names === undefined || names.includes(p.name));
  const results = new Map<string, PointResult>();
  const blocks = planBlocks(driver, points);
  for (const block of blocks) {
    const r = await driver.read(block);
    block.points.forEach((p, i) => results.set(p.spec.name, r[i]!));
  }
  return { results, requests: blocks.length };
}

const value = (r: PointResult | undefined) => (r?.ok === true ? r.value : r?.error.message);

t.test('every value type in one ReadPropertyMultiple', async (t) => {
  const rig = await startRig(t, [DEVICE], STILL);
  const dev = rig.sim.devices[0]!.device;
  dev.set('iv_signed', -42);
  dev.set('piv_unsigned', 4_000_000_000);
  dev.set('lav_double', 1234567.891234);
  dev.set('csv_string', '运行 running');
  dev.set('msv_state', 3);
  dev.set('bi_bool', true);
  dev.set('ai_real', 21.5);
  const driver = rig.driver('dut');
  await driver.connect();
  t.ok(driver.isConnected());
  const names = ['ai_real', 'ai_units', 'ai_out_of_service', 'ai_name', 'bi_bool', 'msv_state', 'msv_text_2', 'iv_signed', 'piv_unsigned', 'lav_double', 'csv_string', 'ao_valve', 'bo_start', 'av_setpoint'];
  const { results, requests } = await readNamed(driver, rig.config('dut').profile.points, names);
  t.equal(requests, 1, 'one request for 14 points (maxPropertiesPerRequest 20)');
  t.ok(driver.readPropertyMultiple);
  t.same(
    Object.fromEntries(names.map((n) => [n, value(results.get(n))])),
    {
      ai_real: 21.5, // REAL
      ai_units: 62, // ENUMERATED (degrees-celsius)
      ai_out_of_service: false, // BOOLEAN
      ai_name: 'ai_real', // CHARACTER STRING
      bi_bool: true, // BACnetBinaryPV active → true
      msv_state: 3, // UNSIGNED
      msv_text_2: 'manual', // array element
      iv_signed: -42, // SIGNED
      piv_unsigned: 4_000_000_000, // UNSIGNED beyond 2^31
      lav_double: 1234567.891234, // DOUBLE
      csv_string: '运行 running',
      ao_valve: dev.get('ao_valve'),
      bo_start: false,
      av_setpoint: dev.get('av_setpoint'),
    },
  );
});

t.test('a per-property error names class and code; the other points still read', async (t) => {
  const rig = await startRig(t, [DEVICE], { ...STILL, behaviour: { dut: { missing: ['ai_2'] } } });
  const driver = rig.driver('dut');
  await driver.connect();
  const { results } = await readNamed(driver, rig.config('dut').profile.points, ['ai_real', 'ai_2', 'ai_bogus_property', 'bi_bool']);
  const ghost = results.get('ai_2');
  t.equal(ghost?.ok, false);
  if (ghost?.ok === false) {
    t.ok(isGatewayError(ghost.error, 'GW_ERR_BACNET_ERROR'));
    t.match(ghost.error.message, /analog-input:2 present-value: BACnet error object\/unknown-object/);
  }
  const bogus = results.get('ai_bogus_property');
  t.equal(bogus?.ok, false);
  if (bogus?.ok === false) t.match(bogus.error.message, /property\/unknown-property/);
  t.equal(results.get('ai_real')?.ok, true);
  t.equal(results.get('bi_bool')?.ok, true);
  t.ok(driver.readPropertyMultiple, 'per-property errors are no reason to give up RPM');

  // The same, one point per request (a single point is read with ReadProperty).
  const single = await driver.read(planBlocks(driver, [rig.point('dut', 'ai_2')])[0]!);
  t.equal(single[0]?.ok, false, 'a lone unknown object fails its point, not the request');
});

for (const refusal of ['reject', 'error', 'abort'] as const) {
  t.test(`a device that refuses ReadPropertyMultiple (${refusal}) is read one property at a time`, async (t) => {
    const rig = await startRig(t, [DEVICE], { ...STILL, behaviour: { dut: { refuseRpm: refusal } } });
    const dev = rig.sim.devices[0]!.device;
    dev.set('ai_real', 33.25);
    const driver = rig.driver('dut');
    await driver.connect();
    t.equal(driver.limits('1201').maxCount, 20);
    const first = await readNamed(driver, rig.config('dut').profile.points, ['ai_real', 'bi_bool', 'msv_state', 'ai_name']);
    t.equal(value(first.results.get('ai_real')), 33.25, 'the refused block is read again with ReadProperty');
    t.equal(value(first.results.get('ai_name')), 'ai_real');
    t.notOk(driver.readPropertyMultiple, 'the refusal is remembered');
    t.same(driver.limits('1201'), { maxCount: 1, maxGap: 1 }, 'the poller plans one point per request from now on');
    const again = await readNamed(driver, rig.config('dut').profile.points, ['ai_real', 'bi_bool']);
    t.equal(again.requests, 2);
    t.equal(value(again.results.get('ai_real')), 33.25);
  });
}

t.test('readMultiple: false never tries ReadPropertyMultiple', async (t) => {
  const rig = await startRig(t, [DEVICE], { ...STILL, behaviour: { dut: { refuseRpm: 'reject' } } });
  const config = rig.config('dut');
  const profile = { ...config.profile, protocolOptions: { maxPropertiesPerRequest: 20, readMultiple: false } };
  const driver = createBacnetDriver({ ...config, profile, connection: { ...config.connection, port: rig.sim.devices[0]!.port } }, silentLog);
  t.teardown(() => driver.close());
  await driver.connect();
  t.equal(driver.limits('1201').maxCount, 1);
  t.notOk(driver.readPropertyMultiple);
  const r = await driver.read(planBlocks(driver, [rig.point('dut', 'ai_real')])[0]!);
  t.equal(r[0]?.ok, true);
});
