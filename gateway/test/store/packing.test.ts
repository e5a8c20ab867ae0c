/**
 * Raw samples of complete, rolled-up minutes are packed one row per point per minute:
 * queries answer the same before and after, a late reading is merged, retention and the
 * size budget drop packed samples first, and the `samples` table keeps only the tail.
 */
import t from 'tap';
import type { Reading } from '../../src/core/model.js';
import { StoreMaintenance } from '../../src/store/maintenance.js';
import { GatewayStore } from '../../src/store/store.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
const POINTS = 5;

function write(store: GatewayStore, fromS: number, toS: number): void {
  for (let s = fromS; s < toS; s++) {
    const ts = T0 + s * 1000;
    const readings: Reading[] = Array.from({ length: POINTS }, (_, p) => ({ point: `d.p${p}`, ts, value: p === 4 ? (s % 2 === 0 ? 'on' : 'off') : s + p / 10, quality: s % 17 === 0 ? 'bad' : 'good' }));
    store.writeReadings('d', readings);
  }
}

const count = (store: GatewayStore, table: string) => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

t.test('packing keeps every sample, in order, and empties samples of complete minutes', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  write(store, 0, 185); // 3 complete minutes and 5 s of the fourth
  const before = [0, 1, 2, 3, 4].map((p) => store.samples(`d.p${p}`, T0, T0 + 10 * MIN));
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  const now = T0 + 185_000 + 6000;
  while (m.run(1000, () => now));
  t.equal(m.stats.samplesPacked, 3 * 60 * POINTS, 'three complete minutes packed');
  t.equal(count(store, 'samples'), 5 * POINTS, 'only the incomplete minute stays unpacked');
  t.equal(count(store, 'sample_blocks'), 3 * POINTS, 'one block per point per minute');
  t.equal(store.sampleCount(), 185 * POINTS);
  const after = [0, 1, 2, 3, 4].map((p) => store.samples(`d.p${p}`, T0, T0 + 10 * MIN));
  t.same(after, before, 'queries answer the same: values, strings, qualities, order');
  t.same(
    store.samples('d.p1', T0 + 59_500, T0 + 61_000).map((s) => [s.ts - T0, s.value]),
    [[60_000, 60.1]],
    'a range inside blocks is cut exactly',
  );
  t.equal(store.samples('d.p0', T0, T0 + 10 * MIN, 100).length, 100, 'the limit holds');
  t.equal(store.rollups('d.p0', T0, T0 + 10 * MIN).length, 3, 'roll-ups are unaffected');

  // A late reading for a packed minute is merged into its block.
  store.writeReadings('d', [{ point: 'd.p0', ts: T0 + 30_500, value: -1, quality: 'good' }]);
  t.same(
    store.samples('d.p0', T0 + 30_000, T0 + 31_001).map((s) => s.value),
    [30, -1, 31],
    'found before packing, in time order',
  );
  const later = T0 + 4 * MIN + 6000;
  write(store, 185, 240);
  while (m.run(1000, () => later));
  t.same(
    store.samples('d.p0', T0 + 30_000, T0 + 31_001).map((s) => s.value),
    [30, -1, 31],
    'and after',
  );
  t.equal(count(store, 'samples'), 0, 'merged into the block');
});

t.test('retention and the size budget drop packed samples first', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  write(store, 0, 600);
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  while (m.run(1000, () => T0 + 11 * MIN));
  t.equal(count(store, 'sample_blocks'), 10 * POINTS);
  // Eight days later, raw samples expire; roll-ups stay.
  const late = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  while (late.run(1000, () => T0 + 8 * 86_400_000));
  t.equal(count(store, 'sample_blocks'), 0);
  t.equal(store.rollups('d.p0', T0, T0 + 11 * MIN).length, 10);

  write(store, 600, 1200);
  const tight = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  while (tight.run(1000, () => T0 + 21 * MIN));
  const budget = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1 });
  budget.budgetStep(T0 + 21 * MIN);
  const ev = store.events({ type: 'buffer.evicted' })[0];
  t.ok(ev !== undefined && (ev.body as { samples: number }).samples > 0, 'buffer.evicted names the samples dropped');
  t.ok(count(store, 'sample_blocks') < 10 * POINTS, 'blocks went first');
});
