/**
 * PointTable is the poller's hot path for scale/offset, range and report by exception;
 * `toEngineering` and `DeadbandFilter` state the rules. Fed the same readings, the two
 * must give the same values, qualities and pass/drop decisions.
 */
import t from 'tap';
import type { PointSpec } from '../../src/core/config/profile.js';
import type { Reading } from '../../src/core/model.js';
import { DeadbandFilter } from '../../src/poller/deadband.js';
import { PointTable } from '../../src/poller/points.js';
import { toEngineering } from '../../src/poller/transform.js';

const spec = (name: string, extra: Partial<PointSpec>): PointSpec => ({ name, type: 'uint16', scale: 1, offset: 0, access: 'r', ...extra }) as PointSpec;

const SPECS: PointSpec[] = [
  spec('plain', {}),
  spec('tenth', { scale: 0.1 }),
  spec('hundredth_range', { scale: 0.01, range: [0, 16], deadbandPercent: 0.5 }),
  spec('offset', { type: 'int16', scale: 0.1, offset: -40, range: [-40, 60], deadband: 0.2 }),
  spec('odd_scale', { scale: 0.37, offset: 1.5, deadbandPercent: 2 }),
  spec('float', { type: 'float32', range: [-20, 120], deadbandPercent: 0.5 }),
  spec('float_scaled', { type: 'float32', scale: 0.1, deadband: 0.05, maxSilenceMs: 50 }),
  spec('counter', { type: 'uint32', scale: 0.1, deadband: 1 }),
  spec('state', { deadband: 0 }),
  spec('bit', { type: 'bits', deadband: 0 }),
  spec('flag', { type: 'bool' }),
  spec('big', { type: 'uint64', scale: 0.001 }),
];

/** Deterministic pseudo-random sequence. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

t.test('fast path (numbers from the driver) equals toEngineering + DeadbandFilter', async (t) => {
  const table = new PointTable('d', SPECS);
  const filter = new DeadbandFilter();
  const r = rng(11);
  let checked = 0;
  for (let step = 0; step < 400; step++) {
    const ts = step * 10;
    SPECS.forEach((p, i) => {
      let raw: number;
      if (p.type === 'bits' || p.type === 'bool') raw = r() < 0.2 ? 1 - (step % 2) : step % 7 === 0 ? 1 : 0;
      else if (p.type === 'float32') raw = r() < 0.05 ? NaN : Math.fround(50 + (r() - 0.5) * (step % 50 === 0 ? 400 : 2));
      else if (p.type === 'uint64') raw = Math.floor(r() * 2 ** 52);
      else raw = Math.floor(r() * (step % 40 === 0 ? 3000 : 1600));
      table.setRaw(i, raw, ts);
      // The reference: what the driver's read() result and toEngineering make of it.
      let want: Reading;
      if (Number.isNaN(raw)) want = { point: `d.${p.name}`, ts, value: null, quality: 'bad' };
      else {
        const { value, quality } = toEngineering(p, p.type === 'bits' || p.type === 'bool' ? raw !== 0 : raw);
        want = { point: `d.${p.name}`, ts, value, quality };
      }
      t.same(table.reading(i), want, `${p.name} step ${step}`);
      t.equal(table.pass(i), filter.pass(p, want), `${p.name} step ${step} pass`);
      checked++;
    });
  }
  t.equal(checked, 400 * SPECS.length);
});

t.test('general path (any raw value) and stale readings equal the reference', async (t) => {
  const p = [spec('s', { type: 'string', deadband: 0 }), spec('n', { scale: 0.5, deadband: 1 }), spec('inf', { type: 'float32', deadband: 1 })];
  const table = new PointTable('d', p);
  const filter = new DeadbandFilter();
  // [point, raw value (null: unreadable), quality, the stale value expected]
  const seq: [number, string | number | boolean | null, 'good' | 'bad' | 'stale', (string | number)?][] = [
    [0, 'abc', 'good'],
    [0, 'abc', 'good'],
    [0, 'abd', 'good'],
    [2, Infinity, 'bad'],
    [1, 3, 'good'],
    [1, true, 'good'],
    [1, null, 'bad'],
    [0, null, 'stale', 'abd'],
    [2, null, 'stale', Infinity],
  ];
  let ts = 0;
  for (const [i, raw, quality, staleValue] of seq) {
    ts += 10;
    const point = p[i]!;
    const id = `d.${point.name}`;
    let want: Reading;
    if (quality === 'stale') {
      table.setStale(i, ts);
      want = { point: id, ts, value: staleValue!, quality };
    } else if (raw === null) {
      table.setBad(i, ts);
      want = { point: id, ts, value: null, quality };
    } else {
      table.setValue(i, raw, ts);
      want = { point: id, ts, ...toEngineering(point, raw) };
    }
    t.same(table.reading(i), want, `${point.name} ${String(raw)} ${quality}`);
    t.equal(table.pass(i), filter.pass(point, want), `${point.name} ${String(raw)} ${quality} pass`);
  }
  t.equal(table.lastValue(1), true);
  t.equal(table.lastValue(0), 'abd');
});

t.test('decimal scales give the decimal itself, with no float noise even where offset and value nearly cancel', async (t) => {
  // [scale, offset, k, offset in units of 10^-k]
  const cases: [number, number, number, number][] = [
    [0.1, 0, 1, 0],
    [0.01, -273.15, 2, -27315],
    [0.001, 2, 3, 2000],
    [0.1, -40, 1, -400],
  ];
  const specs = cases.map(([scale, offset], i) => spec(`p${i}`, { type: 'int32', scale, offset }));
  const table = new PointTable('d', specs);
  for (const raw of [0, 1, 3, 7, 234, 399, 401, 999, 1001, 27314, 27316, 65535, -1, -32768, 2 ** 31 - 1, 123456789]) {
    cases.forEach(([, , k, add], i) => {
      table.setRaw(i, raw, 0);
      const want = Number(`${raw + add}e-${k}`);
      t.equal(table.value(i), want, `${raw} × ${specs[i]!.scale} + ${specs[i]!.offset}`);
      t.equal(toEngineering(specs[i]!, raw).value, want);
    });
  }
  // 234 × 0.1 in plain floating point is 23.400000000000002
  t.equal(toEngineering(spec('x', { scale: 0.1 }), 234).value, 23.4);
  // Not decimal: 15 significant digits
  t.equal(toEngineering(spec('y', { scale: 0.37, offset: 1.5 }), 10).value, 5.2);
});
