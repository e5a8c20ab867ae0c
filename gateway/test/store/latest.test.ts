/**
 * Latest values held in memory and written to the `latest` table in bulk (issue 3): the
 * API reads them current from memory; a crash between two writes of the table loses none
 * (they are replayed from the sample log past 'latest.through'), keeps their types and
 * their change marks for the cloud's telemetry snapshot; the maintenance loop never
 * deletes log rows the table does not reflect yet.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { Reading } from '../../src/core/model.js';
import { StoreMaintenance } from '../../src/store/maintenance.js';
import { GatewayStore } from '../../src/store/store.js';

const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);
const tmp = () => mkdtempSync(path.join(tmpdir(), 'steward-latest-'));
/** A store that writes its `latest` table with the first flush that has something to write, then an hour apart (unless told). */
const open = (dir: string, latestSaveIntervalMs = 3_600_000) => new GatewayStore({ dataDir: dir, site: 's', latestSaveIntervalMs });
/** The process dies: the connection goes without close() (no last write of the table, no checkpoint). */
const crash = (store: GatewayStore) => store.db.close();
const tableRows = (dir: string) => {
  const db = new Database(path.join(dir, 'gateway.db'), { readonly: true });
  try {
    return db.prepare('SELECT p.name AS point, l.value, l.quality, l.ts, l.dirty FROM latest l JOIN points p ON p.id = l.point ORDER BY p.name').all() as { point: string; value: string | null; quality: string; ts: number; dirty: number }[];
  } finally {
    db.close();
  }
};
const r = (point: string, ts: number, value: Reading['value'], quality: Reading['quality'] = 'good'): Reading => ({ point: `d.${point}`, ts, value, quality });

t.test('latest values are read from memory at once, and the table is written in bulk', async (t) => {
  const dir = tmp();
  const store = open(dir);
  store.writeReadings('d', [r('a', T0, 1)]);
  store.writeReadings('d', [r('a', T0 + 1000, 2), r('b', T0 + 1000, 'x')]); // writes the table as it was before it: a = 1
  store.writeReadings('d', [r('a', T0 + 2000, 2)]);
  t.same(store.latest('d').map((x) => [x.point, x.value, x.ts]), [['d.a', 2, T0 + 2000], ['d.b', 'x', T0 + 1000]], 'current, from memory');
  t.same(tableRows(dir).map((x) => [x.point, x.value, x.ts]), [['d.a', '1', T0]], 'the table not written with every flush');
  t.same(store.latest('e'), [], 'a device without values');
  store.writeReadings('e', [{ point: 'e.z', ts: T0, value: 5, quality: 'good' }]);
  t.same(store.latest('e').map((x) => [x.point, x.device, x.value]), [['e.z', 'e', 5]], 'its first value seen at once');
  t.same(store.latest('d').length, 2);
  store.saveLatest();
  t.same(tableRows(dir).filter((x) => x.point.startsWith('d.')).map((x) => [x.point, x.value, x.ts, x.dirty]), [['d.a', '2', T0 + 2000, 1], ['d.b', '"x"', T0 + 1000, 1]], 'written in bulk, marked changed');
  store.close();
  t.same(tableRows(dir).length, 3);
});

t.test('a crash between two writes of the table loses no latest value: replayed from the log, types kept', async (t) => {
  const dir = tmp();
  let store = open(dir);
  store.writeReadings('d', [r('n', T0, 1.5), r('b', T0, false), r('s', T0, 'auto')]);
  store.saveLatest();
  t.equal(store.queueTelemetrySnapshot(T0), 3, 'the first values queued for the cloud');
  store.writeReadings('d', [r('n', T0 + 1000, 2.5), r('b', T0 + 1000, true), r('s', T0 + 1000, 'auto'), r('x', T0 + 1000, null, 'bad')]);
  store.writeReadings('d', [r('n', T0 + 500, 9)]); // late: a sample, not the latest value
  store.writeReadings('d', [r('i', T0 + 2000, 7), r('i', T0 + 3000, 7)]);
  const before = store.latest();
  t.same(
    before.map((x) => [x.point, x.value, x.quality, x.ts]),
    [
      ['d.b', true, 'good', T0 + 1000],
      ['d.i', 7, 'good', T0 + 3000],
      ['d.n', 2.5, 'good', T0 + 1000],
      ['d.s', 'auto', 'good', T0 + 1000],
      ['d.x', null, 'bad', T0 + 1000],
    ],
  );
  crash(store);
  t.same(
    tableRows(dir).map((x) => [x.point, x.value, x.ts]),
    [['d.b', 'false', T0], ['d.n', '1.5', T0], ['d.s', '"auto"', T0]],
    'the table was behind when the process died',
  );

  store = open(dir);
  t.teardown(() => store.close());
  t.same(store.latest(), before, 'every latest value back, with its type (a boolean stays a boolean)');
  t.equal(store.queueTelemetrySnapshot(T0 + 5000), 4, 'what changed since the last snapshot is queued after the crash (d.s did not change)');
  const [item] = store.peek(2, 10).slice(-1);
  t.same((item!.body as { readings: { id: string; v: unknown }[] }).readings.map((x) => [x.id, x.v]), [['d.b', true], ['d.i', 7], ['d.n', 2.5], ['d.x', null]]);
  t.same(store.samples('d.n', 0, Infinity).map((x) => x.value), [1.5, 9, 2.5], 'the samples as before');
});

t.test('after a crash the change marks of the table and of the replayed log both count', async (t) => {
  const dir = tmp();
  let store = open(dir, 0); // the table written with every flush (before it)
  store.writeReadings('d', [r('a', T0, 1), r('b', T0, 1)]);
  store.queueTelemetrySnapshot(T0);
  store.writeReadings('d', [r('a', T0 + 1000, 2)]); // a changed: marked in memory
  store.writeReadings('d', [r('b', T0 + 2000, 1)]); // this flush writes a's mark to the table; b unchanged
  store.writeReadings('d', [r('c', T0 + 3000, 5)]); // only in the log when it dies
  crash(store);
  t.same(tableRows(dir).map((x) => [x.point, x.dirty]), [['d.a', 1], ['d.b', 0]]);
  store = open(dir);
  t.teardown(() => store.close());
  t.equal(store.queueTelemetrySnapshot(T0 + 5000), 2);
  const [item] = store.peek(2, 10).slice(-1);
  t.same((item!.body as { readings: { id: string; v: unknown; ts: number }[] }).readings.map((x) => [x.id, x.v, x.ts]), [['d.a', 2, T0 + 1000], ['d.c', 5, T0 + 3000]]);
  t.equal(store.queueTelemetrySnapshot(T0 + 6000), 0, 'and marked sent');
  t.same(tableRows(dir).map((x) => x.dirty), [0, 0, 0], 'the snapshot wrote the table with it');
});

t.test('a failed flush changes no latest value', async (t) => {
  const store = open(tmp());
  t.teardown(() => store.close());
  store.writeReadings('d', [r('a', T0, 1)]);
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`);
  const big = Array.from({ length: 20_000 }, (_, i) => r(i % 2 === 0 ? 'a' : `new${i}`, T0 + 1 + i, i));
  t.throws(() => store.writeReadings('d', big), { code: 'GW_ERR_STORE_IO' });
  store.db.pragma('max_page_count = 1073741823');
  t.same(store.latest().map((x) => [x.point, x.value, x.ts]), [['d.a', 1, T0]]);
  store.writeReadings('d', [r('z', T0 + 50_000, 3)]);
  t.same(store.latest().map((x) => x.point), ['d.a', 'd.z']);
});

t.test('the maintenance loop keeps the log rows the table does not reflect until it does; a crash in between loses nothing', async (t) => {
  const dir = tmp();
  let store = open(dir);
  // Three minutes of 1 Hz readings of two points; the table written only with the second flush.
  for (let s = 0; s < 180; s++) store.writeReadings('d', [r('a', T0 + s * 1000, s), r('b', T0 + s * 1000, s % 2 === 0)]);
  let m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12, chunkRows: 10 });
  const logRows = () => (store.db.prepare('SELECT COUNT(*) AS n FROM sample_batches').get() as { n: number }).n;
  const catchUp = () => {
    let steps = 0;
    while ((m.rollupStep(T0 + 180_000) || m.retentionStep(T0 + 180_000)) && steps++ < 10_000);
  };
  catchUp();
  t.ok(m.stats.samplesPacked >= 2 * 60 * 2, 'complete minutes packed');
  const mark = store.latestSavedThrough;
  t.ok(mark <= 2, 'the periodic write is not due: the table still reflects the second flush only');
  t.equal(logRows(), 180 - mark / 2, 'so the packed log rows after its mark are kept (a flush is a row)');
  const before = store.latest();
  store.writeReadings('d', [r('a', T0 + 180_000, 1000)]);
  crash(store);
  store = open(dir, 0); // every flush a periodic write
  t.same(store.latest().map((x) => [x.point, x.value, x.ts]), [['d.a', 1000, T0 + 180_000], ['d.b', before[1]!.value, before[1]!.ts]], 'replayed from the kept log rows');
  t.equal(before[1]!.value, false);
  // The next flush writes the table; then the packed log goes (the minutes not complete yet stay).
  store.writeReadings('d', [r('a', T0 + 181_000, 1001)]);
  t.equal(store.latestSavedThrough, store.lastLogId - 1, 'written with the flush, as of before it');
  m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12, chunkRows: 10 });
  catchUp();
  t.ok(logRows() <= 62, 'packed log rows the table reflects: deleted');
  crash(store);
  store = open(dir);
  t.teardown(() => store.close());
  t.same(store.latest().map((x) => [x.point, x.value, x.ts]), [['d.a', 1001, T0 + 181_000], ['d.b', before[1]!.value, before[1]!.ts]]);
});

t.test('the maintenance loop writes the table itself when the periodic writes are overdue (no flushes)', async (t) => {
  const dir = tmp();
  let store = open(dir, 1); // overdue 2 ms after a write
  for (let s = 0; s < 180; s++) store.writeReadings('d', [r('a', T0 + s * 1000, s), r('b', T0 + s * 1000, s % 2 === 0)]);
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12, chunkRows: 10 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  let steps = 0;
  while ((m.rollupStep(T0 + 180_000) || m.retentionStep(T0 + 180_000)) && steps++ < 10_000);
  t.ok(store.latestSavedThrough >= 2 * 60 * 2, 'the table written first');
  t.ok((store.db.prepare('SELECT COUNT(*) AS n FROM sample_batches').get() as { n: number }).n <= 62, 'then the packed log rows deleted');
  const before = store.latest();
  crash(store);
  store = open(dir);
  t.teardown(() => store.close());
  t.same(store.latest(), before);
});

t.test('a periodic write of the table is spread over flushes; the mark moves once it is done; a crash midway loses nothing', async (t) => {
  const dir = tmp();
  let store = new GatewayStore({ dataDir: dir, site: 's', latestSaveIntervalMs: 0, latestRowsPerFlush: 2 });
  const five = (ts: number, v: number) => ['a', 'b', 'c', 'd', 'e'].map((p) => r(p, ts, v));
  store.writeReadings('d', five(T0, 1)); // nothing to write yet: the mark only
  const mark0 = store.latestSavedThrough;
  t.equal(mark0, 0);
  store.writeReadings('d', [r('f', T0 + 1000, 1)]); // the round of a-e begins: a, b
  t.same(tableRows(dir).map((x) => x.point), ['d.a', 'd.b'], 'two rows a flush');
  t.equal(store.latestSavedThrough, 0, 'the mark waits for the round');
  store.writeReadings('d', [r('a', T0 + 2000, 2)]); // c, d; a changed again: the next round
  t.same(tableRows(dir).map((x) => x.point), ['d.a', 'd.b', 'd.c', 'd.d']);
  t.equal(store.latestSavedThrough, 0);
  const before = store.latest();
  crash(store);
  store = new GatewayStore({ dataDir: dir, site: 's', latestSaveIntervalMs: 0, latestRowsPerFlush: 2 });
  t.same(store.latest(), before, 'replayed from the mark: every value as it was');
  t.equal(store.queueTelemetrySnapshot(T0 + 3000), 6);
  store.writeReadings('d', [r('b', T0 + 4000, 3)]);
  store.writeReadings('d', [r('b', T0 + 5000, 4)]);
  store.writeReadings('d', [r('b', T0 + 6000, 5)]);
  t.equal(store.latestSavedThrough, store.lastLogId - 1, 'rounds of one row each keep the mark one flush behind');
  store.close();
  t.same(tableRows(dir).map((x) => [x.point, x.value]), [['d.a', '2'], ['d.b', '5'], ['d.c', '1'], ['d.d', '1'], ['d.e', '1'], ['d.f', '1']], 'close writes the rest');
});
