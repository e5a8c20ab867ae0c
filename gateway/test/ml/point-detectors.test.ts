/**
 * The streaming detector on points without a model: which points get one, and how its
 * scores become `anomaly.detected` events — none during warm-up or on a steady signal, one
 * per episode (hysteresis), at most one per point per interval, and a site-wide cap.
 */
import t from 'tap';
import type { Reading } from '../../src/core/model.js';
import { POINT_DETECTOR_DEFAULTS, PointDetectors, pointsWithoutModel, type WatchableDevice } from '../../src/ml/point-detectors.js';
import { UnivariateDetector } from '../../src/ml/detectors/univariate-detector.js';
import type { MlEvent } from '../../src/ml/runtime.js';
import { createRng } from '../../../scripts/sim/models/prng.js';

const pump: WatchableDevice['profile'] = {
  id: 'water/vfd-pump',
  points: [
    { name: 'outlet_pressure', type: 'float32' },
    { name: 'vibration', type: 'uint16' },
    { name: 'run_hours', type: 'uint32' },
    { name: 'running', type: 'bits' },
    { name: 'start_stop', type: 'bool', access: 'rw' },
    { name: 'fault_code', type: 'uint16', states: { '0': 'ok' } },
    { name: 'pressure_setpoint', type: 'uint16', access: 'rw' },
    { name: 'name', type: 'string' },
  ],
};

t.test('every read-only numeric point without a model is watched; profile and point can opt out', async (t) => {
  const none = (): Set<string> => new Set();
  t.same(Object.fromEntries(pointsWithoutModel([{ id: 'p1', profile: pump }], none)), { p1: ['outlet_pressure', 'vibration', 'run_hours'] }, 'numbers only: no bits, bool, states, string; no setpoint');
  t.same(
    Object.fromEntries(pointsWithoutModel([{ id: 'p1', profile: pump }], (d) => new Set(d === 'p1' ? ['outlet_pressure', 'vibration'] : []))),
    { p1: ['run_hours'] },
    "a model's inputs are left to the model",
  );
  t.same(Object.fromEntries(pointsWithoutModel([{ id: 'p1', profile: { ...pump, anomalyDetection: false } }], none)), {}, 'profile anomalyDetection: false');
  const points = pump.points.map((p) => (p.name === 'vibration' ? { ...p, anomalyDetection: false } : p.name === 'pressure_setpoint' ? { ...p, anomalyDetection: true } : p));
  t.same(Object.fromEntries(pointsWithoutModel([{ id: 'p1', profile: { ...pump, points } }], none)), { p1: ['outlet_pressure', 'run_hours', 'pressure_setpoint'] }, 'point anomalyDetection: false / true');
  t.same(Object.fromEntries(pointsWithoutModel([{ id: 'p1', enabled: false, profile: pump }], none)), {}, 'disabled device');
});

/** A noisy daily-ish pattern, one value a minute; `shiftAt` adds a level shift of `shift`. */
function signal(n: number, seed: number, shiftAt = Infinity, shift = 0): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, (_, i) => 5 + 2 * Math.sin((2 * Math.PI * i) / 240) + rng.normal(0.1) + (i >= shiftAt ? shift : 0));
}

function feed(d: PointDetectors, device: string, point: string, values: readonly number[], t0 = 0, stepMs = 60_000): void {
  values.forEach((v, i) => {
    const r: Reading = { point: `${device}.${point}`, ts: t0 + i * stepMs, value: v, quality: 'good' };
    d.readings(device, [r]);
    if (i % 50 === 49) d.flush();
  });
  d.flush();
}

t.test('a steady signal raises nothing; a level shift raises one anomaly.detected', async (t) => {
  const events: MlEvent[] = [];
  const d = new PointDetectors(new Map([['p1', ['outlet_pressure']]]), (e) => events.push(e), {}, false);
  feed(d, 'p1', 'outlet_pressure', signal(2500, 1));
  t.equal(events.length, 0, 'no event on 2,500 values of the usual pattern');
  const events2: MlEvent[] = [];
  const d2 = new PointDetectors(new Map([['p1', ['outlet_pressure']]]), (e) => events2.push(e), {}, false);
  feed(d2, 'p1', 'outlet_pressure', signal(2500, 1, 2000, 4));
  t.equal(events2.length, 1, 'one event for the shift (it lasts 500 values)');
  t.match(events2[0], { device: 'p1', type: 'anomaly.detected', severity: 'minor', body: { model: 'univariate', point: 'outlet_pressure', threshold: 0.99, contributing: [{ point: 'outlet_pressure', share: 1 }] } });
  t.ok((events2[0]!.ts - 2000 * 60_000) / 60_000 < 30, `raised ${(events2[0]!.ts - 2000 * 60_000) / 60_000} values after the shift`);
  t.match(d2.metrics(), { ml_univariate_points: 1, ml_univariate_values_total: 2500, ml_univariate_events_total: 1 });
});

t.test('no event during warm-up, whatever the values', async (t) => {
  const events: MlEvent[] = [];
  const d = new PointDetectors(new Map([['p1', ['x']]]), (e) => events.push(e), { warmupValues: 1000 }, false);
  feed(d, 'p1', 'x', signal(1000, 2, 600, 10));
  t.equal(events.length, 0);
});

t.test('hysteresis and the per-point interval: repeated episodes close together give one event', async (t) => {
  // Shifts every 300 values, each back to normal in between: without the interval every
  // episode could raise once the point re-armed.
  const values = signal(3000, 3).map((v, i) => (i >= 1500 && Math.floor(i / 100) % 3 === 0 ? v + 5 : v));
  const events: MlEvent[] = [];
  const d = new PointDetectors(new Map([['p1', ['x']]]), (e) => events.push(e), { minIntervalMs: 24 * 3_600_000, clearCount: 20 }, false);
  feed(d, 'p1', 'x', values);
  t.equal(events.length, 1, 'one event in the day');
  const quick: MlEvent[] = [];
  const d2 = new PointDetectors(new Map([['p1', ['x']]]), (e) => quick.push(e), { minIntervalMs: 0, clearCount: 20 }, false);
  feed(d2, 'p1', 'x', values);
  t.ok(quick.length >= 2, `with no interval the re-armed point raises again (${quick.length} events)`);
  t.ok(d.metrics().ml_univariate_suppressed_total! >= 1, 'the suppressed ones are counted');
});

t.test('the site-wide cap: many points at once give at most maxEventsPerMinute', async (t) => {
  const names = Array.from({ length: 8 }, (_, i) => `p${i}`);
  const events: MlEvent[] = [];
  const d = new PointDetectors(new Map([['dev', names]]), (e) => events.push(e), { maxEventsPerMinute: 3 }, false);
  // Every point has the same values: they all raise in the same minute.
  const series = names.map(() => signal(2200, 10, 2000, 5));
  for (let k = 0; k < 2200; k++) {
    d.readings('dev', names.map((p, i) => ({ point: `dev.${p}`, ts: k * 60_000, value: series[i]![k]!, quality: 'good' })));
    if (k % 50 === 49) d.flush();
  }
  d.flush();
  const perMinute = new Map<number, number>();
  for (const e of events) perMinute.set(Math.floor(e.ts / 60_000), (perMinute.get(Math.floor(e.ts / 60_000)) ?? 0) + 1);
  t.equal(events.length, 3, 'three of the eight raise');
  t.equal(perMinute.size, 1, 'in the same minute');
  t.equal(d.metrics().ml_univariate_suppressed_total, 5, 'the other five are counted as suppressed');
  t.equal(new Set(events.map((e) => e.body.point)).size, 3, 'one event per point');
});

t.test('bad quality and non-numbers are not fed; the queue is bounded', async (t) => {
  const d = new PointDetectors(new Map([['p1', ['x']]]), () => {}, { maxQueue: 10, minSpacingMs: 0 }, false);
  d.readings('p1', [
    { point: 'p1.x', ts: 0, value: null, quality: 'bad' },
    { point: 'p1.x', ts: 1, value: 'a', quality: 'good' },
    { point: 'p1.y', ts: 1, value: 3, quality: 'good' },
  ]);
  d.flush();
  t.equal(d.metrics().ml_univariate_values_total, 0);
  for (let i = 0; i < 25; i++) d.readings('p1', [{ point: 'p1.x', ts: i, value: i, quality: 'good' }]);
  d.flush();
  t.match(d.metrics(), { ml_univariate_values_total: 10, ml_univariate_dropped_total: 15 });
});

t.test('a point\'s queue grows as needed and keeps the newest maxQueue values in order', async (t) => {
  const options = { window: 3, contextScales: [5], historyLength: 20, longLength: 60 };
  const d = new PointDetectors(new Map([['p1', ['x']]]), () => {}, { maxQueue: 37, minSpacingMs: 0, detector: options }, false);
  const reference = new UnivariateDetector({ ...POINT_DETECTOR_DEFAULTS.detector, ...options });
  let seed = 3;
  const next = (): number => (seed = (seed * 16807) % 2147483647);
  let ts = 0;
  let kept = 0;
  let sent = 0;
  for (let batch = 0; batch < 60; batch++) {
    // Batches of 1 to 90 values between two passes: under, at and over the bound, so the
    // ring grows (4, 8, 16, 32, 37), wraps and drops.
    const size = 1 + (next() % 90);
    const values = Array.from({ length: size }, () => Math.sin(ts / 7) * 10 + (next() % 100) / 50 + (batch % 13 === 0 ? 25 : 0));
    for (let i = 0; i < size; i += 1 + (i % 3)) d.readings('p1', values.slice(i, i + 1 + (i % 3)).map((value, k) => ({ point: 'p1.x', ts: ts + i + k, value, quality: 'good' })));
    for (const v of values.slice(-37)) reference.update(v);
    kept += Math.min(size, 37);
    sent += size;
    ts += size;
    d.flush();
  }
  t.match(d.metrics(), { ml_univariate_values_total: kept, ml_univariate_dropped_total: sent - kept });
  // The same values in the same order leave the same state: the next scores agree to the bit.
  const detector = (d as unknown as { watched: Map<string, { detector: UnivariateDetector }> }).watched.get('p1.x')!.detector;
  const probes = Array.from({ length: 40 }, (_, i) => Math.cos(i) * 12);
  t.same(probes.map((v) => detector.update(v)), probes.map((v) => reference.update(v)));
  t.ok(probes.some((v) => reference.update(v) > 0), 'the probes score (past warm-up)');
});

t.test('at most about one value a second a point is scored (minSpacingMs); the rest are counted', async (t) => {
  // Every 100 ms for 60 s: the first, then one every 900 ms (the first at least 900 ms after the last taken): 67 of 600.
  const fast = new PointDetectors(new Map([['p1', ['x']]]), () => {}, {}, false);
  for (let i = 0; i < 600; i++) fast.readings('p1', [{ point: 'p1.x', ts: 1_000_000 + i * 100, value: Math.sin(i), quality: 'good' }]);
  fast.flush();
  t.match(fast.metrics(), { ml_univariate_values_total: 67, ml_univariate_decimated_total: 533 });
  // Every second with ±40 ms of jitter (gaps of 920 and 1,080 ms): every value is taken.
  const steady = new PointDetectors(new Map([['p1', ['x']]]), () => {}, {}, false);
  for (let i = 0; i < 300; i++) {
    steady.readings('p1', [{ point: 'p1.x', ts: 1_000_000 + i * 1000 + (i % 2 === 0 ? 40 : -40), value: i, quality: 'good' }]);
    if (i % 50 === 49) steady.flush();
  }
  steady.flush();
  t.match(steady.metrics(), { ml_univariate_values_total: 300, ml_univariate_decimated_total: 0 });
  // A value older than the last one taken is not scored out of order.
  steady.readings('p1', [{ point: 'p1.x', ts: 1_000_000, value: 1, quality: 'good' }]);
  steady.flush();
  t.match(steady.metrics(), { ml_univariate_values_total: 300, ml_univariate_decimated_total: 1 });
  // 0 scores every value.
  const all = new PointDetectors(new Map([['p1', ['x']]]), () => {}, { minSpacingMs: 0 }, false);
  for (let i = 0; i < 50; i++) all.readings('p1', [{ point: 'p1.x', ts: i * 100, value: i, quality: 'good' }]);
  all.flush();
  t.match(all.metrics(), { ml_univariate_values_total: 50, ml_univariate_decimated_total: 0 });
  t.throws(() => new PointDetectors(new Map(), () => {}, { minSpacingMs: -1 }, false), /minSpacingMs/);
});
