/**
 * The points' process-wide slots (core/model.ts `pointSlot`): the poller hands them over with
 * each cycle's readings, and the store and the point detectors find a point's state by slot
 * instead of by its id. Given or not, the outcome must be the same — also for two stores in
 * one process (their own ids for the same slot) and after a write that rolled back.
 */
import t from 'tap';
import { pointSlot, type Reading } from '../../src/core/model.js';
import { PointDetectors } from '../../src/ml/point-detectors.js';
import { GatewayStore } from '../../src/store/store.js';

const T0 = Date.UTC(2026, 10, 28, 1, 0, 0);

function cycle(device: string, names: readonly string[], ts: number, value: (k: number) => number): { readings: Reading[]; slots: number[] } {
  const readings = names.map((n, k): Reading => ({ point: `${device}.${n}`, ts, value: value(k), quality: 'good' }));
  return { readings, slots: readings.map((r) => pointSlot(r.point)) };
}

t.test('a slot is given once per id, densely, and stays', async (t) => {
  const a = pointSlot('slots-test.a');
  const b = pointSlot('slots-test.b');
  t.equal(b, a + 1, 'the next id, the next slot');
  t.equal(pointSlot('slots-test.a'), a, 'the same id, the same slot');
});

t.test('the store: by slot or by id, the same samples and latest values; two stores, their own ids', async (t) => {
  const bySlot = new GatewayStore({ dataDir: ':memory:', site: 's' });
  const byId = new GatewayStore({ dataDir: ':memory:', site: 's' });
  const other = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => {
    bySlot.close();
    byId.close();
    other.close();
  });
  // `other` sees d2.y first: its id 1 is d2.y's, while the others give id 1 to d1.x.
  const first = cycle('d2', ['y'], T0, () => 7);
  other.writeBatch([{ device: 'd2', ...first }]);
  for (let s = 0; s < 5; s++) {
    const ts = T0 + s * 1000;
    const c1 = cycle('d1', ['x', 'y', 'z'], ts, (k) => k * 10 + s);
    // Some cycles report fewer points (report by exception): positions move, slots do not.
    const c2 = cycle('d2', s % 2 === 0 ? ['y'] : ['x', 'y'], ts, (k) => 100 + k + s);
    bySlot.writeBatch([{ device: 'd1', ...c1 }, { device: 'd2', ...c2 }]);
    byId.writeBatch([{ device: 'd1', readings: c1.readings }, { device: 'd2', readings: c2.readings }]);
    other.writeBatch([{ device: 'd1', ...c1 }, { device: 'd2', ...c2 }]);
  }
  for (const p of ['d1.x', 'd1.y', 'd1.z', 'd2.x', 'd2.y']) {
    const want = byId.samples(p, T0, T0 + 10_000);
    t.ok(want.length > 0, `${p}: samples`);
    t.same(bySlot.samples(p, T0, T0 + 10_000), want, `${p}: the same samples by slot`);
    const others = other.samples(p, T0, T0 + 10_000);
    t.same(p === 'd2.y' ? others.slice(1) : others, want, `${p}: the same in a store that numbered the points otherwise`);
  }
  t.same(bySlot.latest(), byId.latest(), 'the same latest values');
  t.equal(other.latest().find((r) => r.point === 'd2.y')?.value, 104, "the other store's d2.y");
});

t.test('the store: a write that rolls back forgets the ids it made, by slot too', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  const c = cycle('rb', ['p', 'q'], T0, (k) => k);
  store.writeBatch([{ device: 'rb', ...c }]);
  // A point the database refuses to add fails the whole transaction, after rb.r got its id in it.
  store.db.exec("CREATE TEMP TRIGGER boom BEFORE INSERT ON points WHEN NEW.name = 'rb.s' BEGIN SELECT RAISE(ABORT, 'boom'); END");
  const bad = cycle('rb', ['r', 's'], T0 + 1000, (k) => k);
  t.throws(() => store.writeBatch([{ device: 'rb', ...bad }]), 'the refused write throws');
  store.db.exec('DROP TRIGGER boom');
  const next = cycle('rb', ['r', 'p'], T0 + 2000, (k) => 50 + k);
  store.writeBatch([{ device: 'rb', ...next }]);
  t.same(
    store.samples('rb.r', T0, T0 + 10_000).map((s) => s.value),
    [50],
    'rb.r: the sample after the rollback only',
  );
  t.same(
    store.samples('rb.p', T0, T0 + 10_000).map((s) => s.value),
    [0, 51],
    'rb.p: its two samples',
  );
});

t.test('the point detectors: by slot or by id, the same values queued; unwatched points skipped', async (t) => {
  const mk = () => new PointDetectors(new Map([['pd', ['a', 'c']]]), () => undefined, {}, false);
  const bySlot = mk();
  const byId = mk();
  for (let s = 0; s < 20; s++) {
    const c = cycle('pd', s % 3 === 0 ? ['b', 'c'] : ['a', 'b', 'c'], T0 + s * 1000, (k) => k + s);
    bySlot.readings('pd', c.readings, c.slots);
    byId.readings('pd', c.readings);
  }
  bySlot.flush();
  byId.flush();
  t.same(bySlot.metrics(), byId.metrics(), 'the same counters');
  t.match(bySlot.metrics(), { ml_univariate_values_total: 20 + 13 });
});
