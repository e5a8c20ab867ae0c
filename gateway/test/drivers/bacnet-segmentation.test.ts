/**
 * Answers that do not fit one APDU (ASHRAE 135 §5.2, §5.4.5): a controller with 600 more
 * objects than its profile names, whose object-list is about 3 kB.
 *
 * - A device that segments: the driver accepts the segmented ComplexACK (it says
 *   segmented-response-accepted in each request) and reassembles it, also two at once on
 *   the one socket devices share.
 * - A device that cannot segment aborts with segmentation-not-supported: discovery reads
 *   the object-list element by element (index 0 = length, then 1..N).
 * - A ReadPropertyMultiple whose answer is longer than the device's max APDU: segmented,
 *   or refused and read again one ReadProperty per point.
 */
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import type { PointResult } from '../../src/drivers/driver.js';
import { planBlocks, startRig } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));
const EXTRA = 600;
const STILL = { tickMs: 60_000 };

type Found = { type: string; instance: number; name?: string }[];

function expectObjects(t: Test, objects: Found, profileObjects: number): void {
  t.equal(objects.length, 1 + profileObjects + EXTRA, 'the device object, the profile objects and the 600 extra ones');
  const extra = objects.filter((o) => o.type === 'analog-value' && o.instance >= 100_000);
  t.equal(extra.length, EXTRA);
  t.same(extra[0], { type: 'analog-value', instance: 100_000, name: 'extra_av_0' });
  t.same(extra[EXTRA - 1], { type: 'analog-value', instance: 100_000 + EXTRA - 1, name: `extra_av_${EXTRA - 1}` });
  t.same(
    extra.map((o) => o.instance),
    Array.from({ length: EXTRA }, (_, i) => 100_000 + i),
    'in order, none lost or repeated',
  );
}

/**
 * One controller with EXTRA objects beyond its profile, discovered: what it answered, its
 * simulated device (segmenter stats) and how many objects its profile has.
 */
async function discoverExtended(t: Test, deviceInstance: number, behaviour: Record<string, unknown>) {
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance }], { ...STILL, behaviour: { dut: { extraObjects: EXTRA, ...behaviour } } });
  const dev = rig.sim.devices[0]!.device;
  const found = await rig.driver('dut', { timeoutMs: 2000 }).discover();
  return { found, details: found[0]!.details as { objects: Found; segmentation: number }, dev, profileObjects: dev.objects.size - 1 - EXTRA };
}

t.test('a device that segments: the object-list comes in one segmented answer', async (t) => {
  const { found, details, dev, profileObjects } = await discoverExtended(t, 1801, { segmentation: true });
  t.equal(found.length, 1);
  t.equal(details.segmentation, 1, 'the I-Am says segmented-transmit');
  expectObjects(t, details.objects, profileObjects);
  t.equal(dev.segmenter.stats.segmented, 1, 'the object-list was sent in segments, once');
  t.ok(dev.segmenter.stats.segmentsSent >= 3, `${dev.segmenter.stats.segmentsSent} segments`);
  t.equal(dev.segmenter.stats.aborted, 0);
});

t.test('a lost segment: the driver asks again from the gap (negative SegmentACK)', async (t) => {
  // About 3 kB in 1476-octet segments: 0, 1, 2. Losing 1 leaves a gap when 2 comes.
  const { details, dev, profileObjects } = await discoverExtended(t, 1806, { segmentation: true, dropSegments: [1] });
  expectObjects(t, details.objects, profileObjects);
  t.equal(dev.segmenter.stats.dropped, 1, 'segment 1 was lost once');
  t.ok(dev.segmenter.stats.negativeAcks >= 1, 'the driver sent a negative SegmentACK');
  t.equal(dev.segmenter.stats.segmented, 1, 'and the answer still came in one segmented answer, not a new request');
});

t.test('the last segment lost: the device sends its window again, and duplicates are dropped', async (t) => {
  const { details, dev, profileObjects } = await discoverExtended(t, 1807, { segmentation: true, dropSegments: [2] });
  expectObjects(t, details.objects, profileObjects);
  t.equal(dev.segmenter.stats.dropped, 1);
  t.ok(dev.segmenter.stats.resentWindows >= 1, 'the window 1–2 was sent again after Tseg');
  t.equal(dev.segmenter.stats.segmented, 1);
});

t.test('a device without segmentation aborts: the object-list is read element by element', async (t) => {
  const { found, details, dev, profileObjects } = await discoverExtended(t, 1802, {});
  t.equal(found.length, 1);
  t.equal(details.segmentation, 3, 'the I-Am says no-segmentation');
  expectObjects(t, details.objects, profileObjects);
  t.equal(dev.segmenter.stats.aborted, 1, 'the whole list was refused once (segmentation-not-supported)');
  t.equal(dev.segmenter.stats.segmented, 0);
});

t.test('two segmented answers at once on the shared socket are kept apart', async (t) => {
  const rig = await startRig(
    t,
    [
      { id: 'a', profile: ALL_TYPES, deviceInstance: 1803 },
      { id: 'b', profile: 'hvac/ahu', deviceInstance: 1804 },
    ],
    { ...STILL, behaviour: { a: { extraObjects: EXTRA, segmentation: true }, b: { extraObjects: EXTRA, segmentation: true } } },
  );
  const [da, db] = [rig.sim.devices[0]!.device, rig.sim.devices[1]!.device];
  const [fa, fb] = await Promise.all([rig.driver('a', { timeoutMs: 3000 }).discover(), rig.driver('b', { timeoutMs: 3000 }).discover()]);
  expectObjects(t, (fa[0]!.details as { objects: Found }).objects, da.objects.size - 1 - EXTRA);
  expectObjects(t, (fb[0]!.details as { objects: Found }).objects, db.objects.size - 1 - EXTRA);
  t.ok((fb[0]!.details as { objects: Found }).objects.some((o) => o.name === 'supply_air_temperature'), 'b is the AHU');
  t.equal(da.segmenter.stats.segmented + db.segmenter.stats.segmented, 2);
});

const NAMES = ['ai_real', 'ai_units', 'ai_name', 'bi_bool', 'msv_state', 'msv_text_2', 'iv_signed', 'piv_unsigned', 'lav_double', 'csv_string', 'ao_valve', 'bo_start', 'av_setpoint'];

async function readAll(t: Test, segmentation: boolean): Promise<{ values: Record<string, unknown>; rpm: boolean; stats: { segmented: number; aborted: number } }> {
  // 128 octets: the 13-property answer (≈ 250 octets) does not fit.
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1805 }], { ...STILL, behaviour: { dut: { maxApdu: 128, segmentation } } });
  const dev = rig.sim.devices[0]!.device;
  dev.set('ai_real', 21.5);
  dev.set('csv_string', 'a string long enough to need the room of another segment');
  const driver = rig.driver('dut', { timeoutMs: 2000 });
  await driver.connect();
  const points = rig.config('dut').profile.points.filter((p) => NAMES.includes(p.name));
  const values: Record<string, unknown> = {};
  for (const block of planBlocks(driver, points)) {
    const r = await driver.read(block);
    block.points.forEach((p, i) => {
      const res: PointResult = r[i]!;
      values[p.spec.name] = res.ok ? res.value : res.error.message;
    });
  }
  return { values, rpm: driver.readPropertyMultiple, stats: dev.segmenter.stats };
}

const EXPECTED = { ai_real: 21.5, ai_units: 62, ai_name: 'ai_real', csv_string: 'a string long enough to need the room of another segment' };

t.test('a ReadPropertyMultiple answer longer than the max APDU comes segmented', async (t) => {
  const { values, rpm, stats } = await readAll(t, true);
  t.match(values, EXPECTED);
  t.equal(Object.keys(values).length, NAMES.length);
  t.ok(rpm, 'still reading with RPM');
  t.equal(stats.segmented, 1);
  t.equal(stats.aborted, 0);
});

t.test('a device that cannot segment it aborts; the block is read one ReadProperty per point', async (t) => {
  const { values, rpm, stats } = await readAll(t, false);
  t.match(values, EXPECTED);
  t.equal(Object.keys(values).length, NAMES.length);
  t.notOk(rpm, 'RPM is given up for this device (segmentation-not-supported)');
  t.equal(stats.aborted, 1);
  t.equal(stats.segmented, 0);
});
