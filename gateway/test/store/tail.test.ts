/**
 * The in-memory tail of unpacked samples (typed arrays in log order, a chain per point): against a plain
 * model through many appends, packed prefixes, rolled-back suffixes and text values.
 */
import t from 'tap';
import type { RawSample } from '../../src/store/sample-blocks.js';
import { SampleTail } from '../../src/store/sample-blocks.js';

interface Row {
  id: number;
  point: number;
  ts: number;
  num: number | null;
  txt: string | null;
  q: number;
}

// The second capacity makes appends reach the arrays' end again and again: compacted, and grown.
for (const capacity of [1 << 16, 64]) t.test(`appends, packed prefixes and rolled-back suffixes keep every point’s rows as a plain list would (${capacity} slots at first)`, async (t) => {
  const tail = new SampleTail(1e9, 0, capacity);
  let model: Row[] = [];
  let id = 0;
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const check = (what: string): void => {
    for (let point = 1; point <= 3; point++) {
      const out: RawSample[] = [];
      tail.collect(point, -Infinity, Infinity, out);
      const want = model.filter((r) => r.point === point).map((r) => ({ ts: r.ts, value: r.txt ?? r.num, quality: (['good', 'bad', 'stale'] as const)[r.q] }));
      t.same(out, want, `${what}: point ${point}`);
      t.equal(tail.countOf(point), want.length);
    }
    t.equal(tail.size, model.length, `${what}: size`);
  };
  for (let round = 0; round < 80; round++) {
    const n = 1 + rand(120);
    for (let i = 0; i < n; i++) {
      const point = 1 + rand(3);
      const kind = rand(10);
      const row: Row = { id: ++id, point, ts: id * 10, num: kind === 0 ? null : kind === 1 ? null : id / 3, txt: kind === 1 ? `s${id}` : null, q: rand(3) };
      t.ok(tail.push(row.id, row.point, row.ts, row.num, row.txt, row.q));
      model.push(row);
    }
    if (round % 2 === 0) {
      // Packing: a point's first k rows (often all but a few).
      const point = 1 + rand(3);
      const rows = model.filter((r) => r.point === point);
      const k = round % 4 === 0 ? rand(rows.length + 1) : Math.max(0, rows.length - rand(8));
      tail.dropPrefix(point, k);
      const gone = new Set(rows.slice(0, k).map((r) => r.id));
      model = model.filter((r) => !gone.has(r.id));
    }
    if (round % 7 === 6) {
      // A write that rolled back: the last rows.
      const from = id - rand(20);
      tail.dropFrom(from);
      model = model.filter((r) => r.id < from);
      id = from - 1;
      tail.end = id;
    }
    check(`round ${round}`);
  }
  // Every point packed up to the last id but a few.
  const upTo = id - 5;
  for (let point = 1; point <= 3; point++) tail.dropPrefix(point, tail.countUpTo(point, upTo));
  model = model.filter((r) => r.id > upTo);
  check('packed up to the end');
  // Evicted up to an id, then appends after a gap (rows not kept).
  tail.dropUpTo(id - 2);
  model = model.filter((r) => r.id > id - 2);
  check('evicted');
  id += 1000;
  tail.end = id;
  for (let i = 0; i < 200; i++) {
    const row: Row = { id: ++id, point: 1 + rand(3), ts: id * 10, num: id, txt: null, q: 0 };
    t.ok(tail.push(row.id, row.point, row.ts, row.num, row.txt, row.q));
    model.push(row);
  }
  check('after a gap');
  // The boundary: the first row (log order) of a minute not complete yet.
  const late = model[50]!;
  t.equal(tail.boundary(late.ts, late.ts + 1), late.id - 1);
  t.equal(tail.boundary(Infinity, Infinity), tail.end, 'no such row: up to the end');
});

t.test('a rolled-back write that had moved the slots: the next appends start where it did', async (t) => {
  const tail = new SampleTail(1e9, 0, 3);
  for (let id = 1; id <= 3; id++) tail.push(id, 1, id, id, null, 0);
  tail.dropPrefix(1, 3); // packed: nothing held
  for (let id = 4; id <= 9; id++) tail.push(id, 2, id, id, null, 0); // the slots full: they start again at 4, then grow
  tail.dropFrom(4); // rolled back
  t.equal(tail.size, 0);
  for (let id = 4; id <= 6; id++) t.ok(tail.push(id, 3, id, id, 'x', 1));
  const out: RawSample[] = [];
  tail.collect(3, -Infinity, Infinity, out);
  t.same(out.map((s) => [s.ts, s.value]), [[4, 'x'], [5, 'x'], [6, 'x']]);
  t.equal(tail.countOf(2), 0);
});

t.test('timestamps: whole ms kept as offsets, any other ts kept exactly, across compactions and months of time', async (t) => {
  const DAY = 86_400_000;
  const T0 = Date.UTC(2026, 10, 28);
  const tail = new SampleTail(1e9, 0, 16);
  const model: { id: number; point: number; ts: number }[] = [];
  let id = 0;
  const odd = [T0 - 40 * DAY, T0 + 0.5, Number.NaN, T0 + 30 * DAY, -1, 2 ** 53, Infinity];
  // 400 rows a day apart (so the newest is more than a year after the first), every seventh an odd one.
  for (let i = 0; i < 400; i++) {
    const ts = i % 7 === 3 ? odd[((i / 7) | 0) % odd.length]! : T0 + i * DAY;
    const point = 1 + (i % 2);
    t.ok(tail.push(++id, point, ts, i, null, 0));
    model.push({ id, point, ts });
    if (i % 25 === 24) {
      // Packed: all but the last 10 rows of each point (the slots compact, the offsets move).
      for (const p of [1, 2]) {
        const rows = model.filter((r) => r.point === p);
        const k = Math.max(0, rows.length - 10);
        tail.dropPrefix(p, k);
        const gone = new Set(rows.slice(0, k).map((r) => r.id));
        for (let m = model.length - 1; m >= 0; m--) if (gone.has(model[m]!.id)) model.splice(m, 1);
      }
    }
    for (const p of [1, 2]) {
      const got: number[] = [];
      tail.eachUpTo(p, Infinity, (ts) => got.push(ts));
      t.same(got, model.filter((r) => r.point === p).map((r) => r.ts), `row ${i}: point ${p}'s timestamps`);
    }
  }
  const out: RawSample[] = [];
  tail.collect(1, T0 + 390 * DAY, Infinity, out);
  t.same(out.map((s) => s.ts), model.filter((r) => r.point === 1 && r.ts >= T0 + 390 * DAY && r.ts < Infinity).map((r) => r.ts), 'collect by time, late rows');
  const late = model.find((r) => r.ts >= T0 + 399 * DAY && r.ts < Infinity)!;
  t.equal(tail.boundary(T0 + 399 * DAY, Infinity), late.id - 1, 'the boundary reads the timestamps too');
});
