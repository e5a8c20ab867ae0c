/**
 * Raw samples (issue 4): appended to an unindexed log, packed per point and minute by the
 * maintenance loop, and read back by trend queries from the packed blocks and the
 * in-memory tail — every sample exactly once, in time order, whatever was packed when,
 * across restarts in the middle of packing, with the tail over its bound, and after an
 * upgrade from the schema-4 samples table.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import type { Reading, Value } from '../../src/core/model.js';
import { StoreMaintenance, type MaintenanceOptions } from '../../src/store/maintenance.js';
import { migrations } from '../../src/store/migrations.js';
import { GatewayStore } from '../../src/store/store.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 27, 8, 0, 0); // a minute boundary
const opts = (o: Partial<MaintenanceOptions> = {}): MaintenanceOptions => ({ rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12, ...o });
const tmp = () => mkdtempSync(path.join(tmpdir(), 'steward-samples-'));

/** `seconds` of 1 Hz readings of `points` points from `from`, one writeBatch per second. */
function write(store: GatewayStore, from: number, seconds: number, points: number, value = (p: number, ts: number): Value | null => p * 1000 + (ts - T0) / 1000): void {
  for (let s = 0; s < seconds; s++) {
    const ts = from + s * 1000;
    const readings: Reading[] = Array.from({ length: points }, (_, p) => ({ point: `d.p${p}`, ts, value: value(p, ts), quality: 'good' }));
    store.writeBatch([{ device: 'd', readings }]);
  }
}

const catchUp = (m: StoreMaintenance, now: number) => {
  let steps = 0;
  while ((m.rollupStep(now) || m.retentionStep(now)) && steps++ < 100_000);
};

t.test('a trend reads packed minutes and the tail not packed yet, each sample once, in order', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  write(store, T0, 150, 3); // 2.5 minutes
  const m = new StoreMaintenance(store, opts({ chunkRows: 5 })); // small steps: a round spans many transactions
  catchUp(m, T0 + 150_000);
  t.equal(m.stats.samplesPacked, 2 * 60 * 3, 'the two complete minutes are packed');
  t.equal(store.rawTail.size, 30 * 3, 'the incomplete minute is in the tail');
  const all = store.samples('d.p1', 0, Infinity, 1e6);
  t.same(
    all.map((s) => s.ts),
    Array.from({ length: 150 }, (_, s) => T0 + s * 1000),
  );
  t.same(all[61], { ts: T0 + 61_000, value: 1061, quality: 'good' });
  t.same(
    store.samples('d.p2', T0 + 59_000, T0 + 61_000).map((s) => s.value),
    [2059, 2060],
    'a range across a packed minute',
  );
  t.same(
    store.samples('d.p0', T0 + 30_000, T0 + 200_000, 100).map((s) => s.ts),
    Array.from({ length: 100 }, (_, s) => T0 + 30_000 + s * 1000),
    'limit keeps the oldest',
  );
  t.equal(store.sampleCount(), 450);
  t.same(store.rollups('d.p0', T0, T0 + 3 * MIN).map((r) => [r.count, r.min, r.max, r.last]), [
    [60, 0, 59, 59],
    [60, 60, 119, 119],
  ]);
});

t.test('every kind of value, quality and timestamp comes back as written; late samples join their packed minute', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  const readings: Reading[] = [
    { point: 'd.x', ts: T0 + 1, value: 1.5, quality: 'good' },
    { point: 'd.x', ts: T0 + 2, value: null, quality: 'stale' },
    { point: 'd.x', ts: T0 + 3, value: 'ünïcode \u0000 text', quality: 'good' },
    { point: 'd.x', ts: T0 + 4.25, value: -2.5, quality: 'bad' }, // a fractional millisecond
    { point: 'd.x', ts: T0 + 5, value: true, quality: 'good' },
    { point: 'd.x', ts: T0 + 6, value: Number.MAX_VALUE, quality: 'good' },
  ];
  store.writeReadings('d', readings);
  const expected = [
    { ts: T0 + 1, value: 1.5, quality: 'good' },
    { ts: T0 + 2, value: null, quality: 'stale' },
    { ts: T0 + 3, value: 'ünïcode \u0000 text', quality: 'good' },
    { ts: T0 + 4.25, value: -2.5, quality: 'bad' },
    { ts: T0 + 5, value: 1, quality: 'good' }, // booleans are kept as 0/1, as before
    { ts: T0 + 6, value: Number.MAX_VALUE, quality: 'good' },
  ];
  t.same(store.samples('d.x', T0, T0 + MIN), expected, 'from the tail');
  const m = new StoreMaintenance(store, opts());
  catchUp(m, T0 + 2 * MIN);
  t.equal(store.rawTail.size, 0);
  t.same(store.samples('d.x', T0, T0 + MIN), expected, 'from the packed block');
  // A late sample of that minute (a slow device) arrives after it was packed.
  store.writeReadings('d', [{ point: 'd.x', ts: T0 + 2.5, value: 7, quality: 'good' }]);
  t.same(
    store.samples('d.x', T0, T0 + MIN).map((s) => s.ts),
    [T0 + 1, T0 + 2, T0 + 2.5, T0 + 3, T0 + 4.25, T0 + 5, T0 + 6],
    'in time order, from block and tail',
  );
  catchUp(m, T0 + 3 * MIN);
  t.same(
    store.samples('d.x', T0, T0 + MIN).map((s) => s.value),
    [1.5, null, 7, 'ünïcode \u0000 text', -2.5, 1, Number.MAX_VALUE],
    'merged into the block',
  );
  t.same(store.rollups('d.x', T0, T0 + MIN).map((r) => [r.count, r.min, r.max]), [[4, 1, Number.MAX_VALUE]], 'good numbers rolled up, the late one merged');
  t.equal(store.sampleCount(), 7);
});

t.test('a restart in the middle of packing repeats nothing and loses nothing', async (t) => {
  const dir = tmp();
  let store = new GatewayStore({ dataDir: dir, site: 's' });
  write(store, T0, 130, 40);
  let m = new StoreMaintenance(store, opts({ chunkRows: 20 })); // 10 blocks a transaction
  for (let i = 0; i < 3; i++) m.rollupStep(T0 + 130_000);
  const mid = store.packState;
  t.ok(mid.boundary > mid.watermark && mid.point > 0, `stopped in a round: ${JSON.stringify(mid)}`);
  const packedBefore = m.stats.samplesPacked;
  t.ok(packedBefore > 0 && packedBefore < 2 * 60 * 40);
  store.close();

  store = new GatewayStore({ dataDir: dir, site: 's' });
  t.teardown(() => store.close());
  t.equal(store.sampleCount(), 130 * 40, 'every sample counted once after the restart');
  for (const p of [0, 17, 39]) {
    t.same(
      store.samples(`d.p${p}`, 0, Infinity, 1e6).map((s) => s.ts),
      Array.from({ length: 130 }, (_, s) => T0 + s * 1000),
      `d.p${p}: each sample once`,
    );
  }
  m = new StoreMaintenance(store, opts({ chunkRows: 20 }));
  catchUp(m, T0 + 130_000);
  t.equal(packedBefore + m.stats.samplesPacked, 2 * 60 * 40, 'the rest packed, none twice');
  t.same(store.rollups('d.p39', T0, T0 + 3 * MIN).map((r) => r.count), [60, 60]);
  t.same(store.samples('d.p39', 0, Infinity, 1e6).length, 130);
});

t.test('with the tail over its bound, queries read the log and the maintenance loop catches up', async (t) => {
  const dir = tmp();
  const store = new GatewayStore({ dataDir: dir, site: 's', tailSamples: 150 });
  t.teardown(() => store.close());
  write(store, T0, 200, 5); // 1,000 samples, 6.7 times the bound
  t.ok(store.rawTail.end < store.lastLogId, 'the tail stopped at its bound');
  const expect = Array.from({ length: 200 }, (_, s) => T0 + s * 1000);
  t.same(store.samples('d.p3', 0, Infinity, 1e6).map((s) => s.ts), expect, 'all there, from tail and log');
  const m = new StoreMaintenance(store, opts({ chunkRows: 10 }));
  catchUp(m, T0 + 200_000);
  t.equal(m.stats.samplesPacked, 3 * 60 * 5, 'the complete minutes packed');
  t.equal(store.rawTail.end, store.lastLogId, 'the tail caught up');
  t.same(store.samples('d.p3', 0, Infinity, 1e6).map((s) => s.ts), expect);
  t.equal(store.sampleCount(), 1000);
});

t.test('with the tail full of a minute not complete yet, the maintenance loop has nothing more to do until the minute completes', async (t) => {
  const dir = tmp();
  const store = new GatewayStore({ dataDir: dir, site: 's', tailSamples: 100 });
  t.teardown(() => store.close());
  write(store, T0, 40, 5); // 200 samples of the first minute, twice the bound
  t.ok(store.rawTail.end < store.lastLogId, 'the tail stopped at its bound');
  const m = new StoreMaintenance(store, opts({ chunkRows: 10 }));
  const now = T0 + 40_000; // the minute is not complete
  let steps = 0;
  while (m.rollupStep(now) && steps++ < 1000);
  t.ok(steps < 10, `rollupStep said "no more" (after ${steps} steps), not "more" on every call`);
  t.notOk(m.rollupStep(now), 'and again');
  t.equal(m.stats.samplesPacked, 0, 'nothing packed: the minute is not complete');
  t.equal(store.rawTail.size, 100, 'the tail still holds its bound');
  // The minute completes: everything is packed and the tail catches up with the log.
  catchUp(m, T0 + 2 * MIN);
  t.equal(m.stats.samplesPacked, 200);
  t.equal(store.rawTail.end, store.lastLogId);
  t.same(store.samples('d.p2', 0, Infinity, 1e6).map((s) => s.ts), Array.from({ length: 40 }, (_, s) => T0 + s * 1000));
});

t.test('a write that fails leaves no trace in the tail, and the next one goes on', async (t) => {
  const dir = tmp();
  const store = new GatewayStore({ dataDir: dir, site: 's' });
  t.teardown(() => store.close());
  write(store, T0, 2, 3);
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`);
  const big: Reading[] = Array.from({ length: 20_000 }, (_, i) => ({ point: `d.p${i % 3}`, ts: T0 + 5000 + i, value: i, quality: 'good' }));
  t.throws(() => store.writeReadings('d', big), { code: 'GW_ERR_STORE_IO' });
  store.db.pragma('max_page_count = 1073741823');
  t.equal(store.samples('d.p0', 0, Infinity).length, 2, 'nothing of the failed write');
  write(store, T0 + 10_000, 1, 3);
  t.same(store.samples('d.p0', 0, Infinity).map((s) => s.ts), [T0, T0 + 1000, T0 + 10_000]);
  t.equal(store.sampleCount(), 9);
});

t.test('retention deletes packed minutes past rawRetentionDays; the budget evicts the oldest blocks with buffer.evicted', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  write(store, T0, 180, 20);
  const m = new StoreMaintenance(store, opts({ rawRetentionDays: 1, chunkRows: 100 }));
  catchUp(m, T0 + 180_000);
  t.equal(store.sampleCount(), 3600);
  catchUp(m, T0 + 86_400_000 + MIN + 1);
  t.equal(m.stats.samplesExpired, 1200, 'the first minute is past a day: its blocks are deleted');
  t.equal(store.samples('d.p0', 0, Infinity, 1e6)[0]?.ts, T0 + MIN);
  t.equal(store.sampleCount(), 2400);
  t.equal(store.rollups('d.p0', 0, Infinity).length, 3, 'roll-ups kept');

  const budget = new StoreMaintenance(store, opts({ maxBytes: 1, chunkRows: 500 })); // 10 blocks a step
  // First the packed log rows still kept for the latest values (written first: nothing lost), then blocks.
  for (let i = 0; i < 10 && store.events({ type: 'buffer.evicted' }).length === 0; i++) budget.budgetStep(T0 + 86_400_000 + MIN + 2);
  const [evicted] = store.events({ type: 'buffer.evicted' });
  t.match(evicted?.body, { samples: 600, samplesFrom: T0 + MIN, samplesTo: T0 + 2 * MIN - 1, maxBytes: 1 }, 'the oldest minute first');
  t.equal(store.sampleCount(), 1800);
  t.equal(store.samples('d.p0', 0, Infinity, 1e6)[0]?.ts, T0 + 2 * MIN, 'the blocks of the first points went first');
  t.equal(store.samples('d.p19', 0, Infinity, 1e6)[0]?.ts, T0 + MIN);
});

t.test('a gateway upgraded from schema 4 keeps its raw samples: read, rolled up, expired and evicted as before', async (t) => {
  const dir = tmp();
  // A schema-4 database as the previous release left it: samples with their index, the first
  // 90 of 150 rolled up.
  const old = new Database(path.join(dir, 'gateway.db'));
  old.pragma('journal_mode = WAL');
  for (const mig of migrations.filter((x) => x.version <= 4)) old.exec(mig.sql);
  old.pragma('user_version = 4');
  old.prepare("INSERT INTO points (name, device) VALUES ('d.p0', 'd'), ('d.p1', 'd')").run();
  const ins = old.prepare('INSERT INTO samples (point, ts, num, txt, quality) VALUES (?, ?, ?, NULL, 0)');
  for (let s = 0; s < 75; s++) for (const p of [1, 2]) ins.run(p, T0 + s * 1000, s);
  old.prepare("INSERT INTO rollups (point, minute, min, max, sum, count, last, last_ts) VALUES (1, ?, 0, 44, 990, 45, 44, ?), (2, ?, 0, 44, 990, 45, 44, ?)").run(T0, T0 + 44_000, T0, T0 + 44_000);
  old.prepare("INSERT INTO kv (key, value) VALUES ('rollup.watermark', '90')").run();
  old.close();

  let store = new GatewayStore({ dataDir: dir, site: 's' });
  t.equal(store.db.pragma('user_version', { simple: true }), migrations[migrations.length - 1]!.version);
  t.ok(store.hasLegacySamples);
  t.equal(store.sampleCount(), 150);
  write(store, T0 + 75_000, 60, 2, (_p, ts) => (ts - T0) / 1000); // new samples, in the log
  t.same(
    store.samples('d.p0', 0, Infinity, 1e6).map((s) => s.value),
    Array.from({ length: 135 }, (_, s) => s),
    'old rows and new ones in one trend',
  );
  const m = new StoreMaintenance(store, opts({ rawRetentionDays: 1, chunkRows: 7 }));
  catchUp(m, T0 + 135_000);
  t.same(
    store.rollups('d.p1', T0, T0 + 3 * MIN).map((r) => [r.minute - T0, r.count, r.min, r.max]),
    [
      [0, 60, 0, 59],
      [MIN, 60, 60, 119],
    ],
    'the old rows not rolled up yet are, once; the new ones join them',
  );
  // Migration 7 moved the roll-ups into rollup_minutes (keyed minute, point); `rollups` is a view of them, and writable.
  t.same(
    store.db.prepare('SELECT point, minute - ? AS minute, count FROM rollups ORDER BY minute, point').all(T0),
    [
      { point: 1, minute: 0, count: 60 },
      { point: 2, minute: 0, count: 60 },
      { point: 1, minute: MIN, count: 60 },
      { point: 2, minute: MIN, count: 60 },
    ],
  );
  store.db.prepare('INSERT INTO rollups (point, minute, min, max, sum, count, last, last_ts) VALUES (2, ?, 1, 2, 3, 2, 2, ?)').run(T0 + 5 * MIN, T0 + 5 * MIN);
  t.same(store.rollups('d.p1', T0 + 2 * MIN, Infinity).map((r) => [r.minute - T0, r.count]), [[5 * MIN, 2]], 'a roll-up written through the view');
  t.same(store.rollups('d.p1', T0 + MIN, T0 + 6 * MIN, 1).map((r) => r.minute - T0), [MIN], 'limit');
  store.close();

  store = new GatewayStore({ dataDir: dir, site: 's' });
  t.teardown(() => store.close());
  t.equal(store.sampleCount(), 270, 'kept across a restart');
  const m2 = new StoreMaintenance(store, opts({ rawRetentionDays: 1, chunkRows: 7 }));
  catchUp(m2, T0 + 86_400_000 + MIN);
  t.equal(m2.stats.samplesExpired, 120, 'old rows of the first minute expire as before');
  t.equal(store.samples('d.p0', 0, Infinity, 1e6)[0]?.ts, T0 + MIN);
  const budget = new StoreMaintenance(store, opts({ maxBytes: 1, chunkRows: 1000 }));
  budget.budgetStep(T0 + 86_400_000 + MIN + 1);
  t.match(store.events({ type: 'buffer.evicted' })[0]?.body, { samples: 30, samplesFrom: T0 + MIN, samplesTo: T0 + 74_000 }, 'the old rows are evicted first');
  t.notOk(store.hasLegacySamples, 'the old table is empty now');
  t.equal(store.sampleCount(), 120);
});

t.test('a gateway upgraded from schema 5 keeps the samples of its per-sample log', async (t) => {
  const dir = tmp();
  // Schema 5 kept the log one row per sample (sample_log); the first 40 were packed.
  const old = new Database(path.join(dir, 'gateway.db'));
  old.pragma('journal_mode = WAL');
  for (const mig of migrations.filter((x) => x.version <= 5)) old.exec(mig.sql);
  old.pragma('user_version = 5');
  old.prepare("INSERT INTO points (name, device) VALUES ('d.p0', 'd'), ('d.p1', 'd')").run();
  const ins = old.prepare('INSERT INTO sample_log (id, point, ts, num, txt, quality) VALUES (?, ?, ?, ?, ?, ?)');
  let id = 0;
  for (let s = 0; s < 100; s++) {
    if (s === 60) id += 5; // a gap in the ids (rows evicted)
    for (const p of [1, 2]) ins.run(++id, p, T0 + s * 1000, s % 7 === 0 ? null : s, s === 50 ? 'text' : null, s % 7 === 0 ? 1 : 0);
  }
  old.prepare("INSERT INTO kv (key, value) VALUES ('pack.watermark', '40'), ('samples.packed', '0')").run();
  old.close();

  let store = new GatewayStore({ dataDir: dir, site: 's' });
  t.equal(store.db.pragma('user_version', { simple: true }), migrations[migrations.length - 1]!.version);
  t.equal((store.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'sample_log'").get() as { n: number }).n, 0, 'the per-sample log is gone');
  t.equal(store.sampleCount(), 160, 'the 160 not packed are there (the 40 packed were in blocks, not made here)');
  const d1 = store.samples('d.p1', 0, Infinity, 1e6);
  t.equal(d1.length, 80);
  t.same(d1[0], { ts: T0 + 20_000, value: 20, quality: 'good' });
  t.same(d1.find((x) => x.ts === T0 + 21_000), { ts: T0 + 21_000, value: null, quality: 'bad' });
  t.same(d1.find((x) => x.ts === T0 + 50_000), { ts: T0 + 50_000, value: 'text', quality: 'good' });
  store.close();
  store = new GatewayStore({ dataDir: dir, site: 's' });
  t.teardown(() => store.close());
  const m = new StoreMaintenance(store, opts());
  catchUp(m, T0 + 130_000);
  t.equal(m.stats.samplesPacked, 160, 'packed from the converted log');
  t.same(store.samples('d.p0', 0, Infinity, 1e6).map((x) => x.ts), Array.from({ length: 80 }, (_, s) => T0 + (s + 20) * 1000));
});

t.test('a packing transaction that fails (a full disk) is tried again: no point skipped, none packed twice', async (t) => {
  const store = new GatewayStore({ dataDir: tmp(), site: 's' });
  t.teardown(() => store.close());
  write(store, T0, 130, 40);
  const m = new StoreMaintenance(store, opts({ chunkRows: 20 })); // 5 points a transaction
  m.rollupStep(T0 + 130_000);
  t.ok(store.packState.point > 0, 'a round under way');
  store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
  t.throws(() => {
    for (let i = 0; i < 20; i++) m.rollupStep(T0 + 130_000);
  }, { code: 'SQLITE_FULL' });
  store.db.pragma('max_page_count = 1073741823');
  catchUp(m, T0 + 130_000);
  t.equal(m.stats.samplesPacked, 2 * 60 * 40, 'every complete minute packed once');
  for (const p of [0, 7, 39]) {
    t.same(store.rollups(`d.p${p}`, T0, T0 + 3 * MIN).map((r) => r.count), [60, 60], `d.p${p} rolled up once`);
    t.equal(store.samples(`d.p${p}`, 0, Infinity, 1e6).length, 130);
  }
  t.equal(store.sampleCount(), 130 * 40);
});
