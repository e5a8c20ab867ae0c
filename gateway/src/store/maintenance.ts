/**
 * The store's background work, done in small bounded steps so that it never holds the
 * event loop (and so the poller) for long:
 *
 * 1. **Roll-ups and packing**: once a minute is complete, the raw samples of the log not
 *    packed yet are taken from the store's in-memory tail (no reading back from SQLite)
 *    and packed point by point: one `sample_blocks` row per point and minute (all
 *    samples: sample-blocks.ts) and its 1-minute roll-up (min/max/sum/count/last of the
 *    good numeric samples), a bounded number of points per transaction, each recording
 *    how far it got ('pack.boundary', 'pack.point', then 'pack.watermark'). A crash
 *    repeats nothing and skips nothing. Once caught up, the roll-ups of complete minutes
 *    are queued for the cloud (lane 2, `telemetry.rollup`). An upgraded gateway's rows in
 *    the schema-4 `samples` table not rolled up yet go first ('rollup.watermark').
 * 2. **Retention**: packed log batches are deleted (from the start of the log, once the
 *    `latest` table reflects them: store.ts writes it every latestSaveIntervalMs); blocks
 *    older than rawRetentionDays (always rolled up), roll-ups older than
 *    rollupRetentionDays, and events, alarm history and audit entries older than
 *    eventRetentionDays are deleted a bounded number of rows at a time.
 * 3. **Size budget**: past maxSizeMb the oldest raw samples go first (old rows, then
 *    blocks, then the log not packed yet), then unsent lane-2 items (their bodies
 *    replaced by a stub, keeping the sequence unbroken for the cloud), then the oldest
 *    roll-ups — with a `buffer.evicted` event saying what was dropped. Lanes 0 and 1
 *    (alarms, work orders, events) are never evicted.
 */
import { LIMITS, type WireRollup } from '../../../protocol/v1.js';
import type { Severity } from '../core/model.js';
import { BlockBuilder, blockKey, decodeBatch, MAX_POINT_ID, MINUTE } from './sample-blocks.js';
import type { GatewayStore } from './store.js';

export interface MaintenanceOptions {
  readonly rawRetentionDays: number;
  readonly rollupRetentionDays: number;
  /** Events, alarm history and audit entries older than this are deleted (default 365). */
  readonly eventRetentionDays?: number;
  /** Size budget of the database in bytes (pages in use, not the file's size). */
  readonly maxBytes: number;
  /** A minute is complete this long after it ended (late readings of slow devices), ms. */
  readonly graceMs?: number;
  /** Rows per step (deletes and loads; packing: up to 10× this many samples and chunk/4 blocks a transaction). */
  readonly chunkRows?: number;
  /** Roll-ups in one outbox item. */
  readonly rollupsPerItem?: number;
}

export interface MaintenanceStats {
  rolledUpSamples: number;
  rollupItemsQueued: number;
  /** Raw samples packed into blocks. */
  samplesPacked: number;
  samplesExpired: number;
  rollupsExpired: number;
  /** Events, alarm history and audit entries past eventRetentionDays. */
  eventsExpired: number;
  samplesEvicted: number;
  itemsEvicted: number;
  rollupsEvicted: number;
}

/** Largest roll-up item body: half the cloud's per-item limit. */
const ITEM_BYTES = LIMITS.maxItemBytes / 2;
const DAY = 86_400_000;
/** A sample this far past the cutoff (a device clock set ahead) does not hold the minutes before it back. */
const FAR_MS = 3 * MINUTE;

/** One point's minute being gathered: its packed samples and its roll-up so far. */
interface Pending {
  readonly block: BlockBuilder;
  min: number;
  max: number;
  sum: number;
  count: number;
  last: number;
  lastTs: number;
}

function addToRollup(p: Pending, ts: number, num: number): void {
  if (p.count === 0) {
    p.min = p.max = p.sum = p.last = num;
    p.lastTs = ts;
  } else {
    if (num < p.min) p.min = num;
    if (num > p.max) p.max = num;
    p.sum += num;
    if (ts >= p.lastTs) {
      p.last = num;
      p.lastTs = ts;
    }
  }
  p.count++;
}

export class StoreMaintenance {
  readonly stats: MaintenanceStats = {
    rolledUpSamples: 0,
    rollupItemsQueued: 0,
    samplesPacked: 0,
    samplesExpired: 0,
    rollupsExpired: 0,
    eventsExpired: 0,
    samplesEvicted: 0,
    itemsEvicted: 0,
    rollupsEvicted: 0,
  };
  private readonly graceMs: number;
  private readonly chunk: number;
  private readonly perItem: number;
  private readonly q;
  /** The round of packing under way: its boundary, the points with rows then, the next one to pack. */
  private round: { boundary: number; points: number[]; next: number } | undefined;

  constructor(
    private readonly store: GatewayStore,
    private readonly options: MaintenanceOptions,
  ) {
    this.graceMs = options.graceMs ?? 5_000;
    this.chunk = options.chunkRows ?? 5_000;
    this.perItem = options.rollupsPerItem ?? 2_000;
    const db = store.db;
    // Roll-ups keyed blockKey(minute, point) (migration 7): a minute's are appended together.
    const mergeRollup = `INSERT INTO rollup_minutes (id, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum,
           count = count + excluded.count, last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
           last_ts = MAX(last_ts, excluded.last_ts)`;
    this.q = {
      merge: db.prepare(mergeRollup),
      // A late sample of a minute already packed: its record is appended to the block.
      mergeBlock: db.prepare(
        'INSERT INTO sample_blocks (id, point, minute, n, data) VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET n = n + excluded.n, data = CAST(data || excluded.data AS BLOB)',
      ),
      firstBatch: db.prepare('SELECT id, last FROM sample_batches ORDER BY id LIMIT 1'),
      deleteBatch: db.prepare('DELETE FROM sample_batches WHERE id = ?'),
      batchData: db.prepare('SELECT data FROM sample_batches WHERE id = ?').pluck(),
      firstBlock: db.prepare('SELECT id FROM sample_blocks ORDER BY id LIMIT 1'),
      expireBlocks: db.prepare('DELETE FROM sample_blocks WHERE id IN (SELECT id FROM sample_blocks WHERE id < ? ORDER BY id LIMIT ?) RETURNING n'),
      evictBlocks: db.prepare('DELETE FROM sample_blocks WHERE id IN (SELECT id FROM sample_blocks ORDER BY id LIMIT ?) RETURNING minute, n'),
      // The samples table of schema 1-4 (an upgraded gateway), as before.
      legacyChunkEnd: db.prepare('SELECT MAX(rowid) AS id FROM (SELECT rowid FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?)'),
      legacyRows: db.prepare('SELECT point, ts, num FROM samples WHERE rowid > ? AND rowid <= ? AND quality = 0 AND num IS NOT NULL'),
      oldestLegacy: db.prepare('SELECT ts FROM samples ORDER BY rowid LIMIT 1'),
      expireLegacy: db.prepare('DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE rowid <= ? ORDER BY rowid LIMIT ?) AND ts < ?'),
      evictLegacy: db.prepare('DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples ORDER BY rowid LIMIT ?) RETURNING ts'),
      firstRollupMinute: db.prepare(`SELECT MIN(id) / ${MAX_POINT_ID} * ${MINUTE} AS minute FROM rollup_minutes`),
      // The roll-ups with keys in [?, ?): whole minutes, in time order, then point order.
      minutes: db.prepare(
        `SELECT p.name AS id, r.id / ${MAX_POINT_ID} * ${MINUTE} AS minute, r.min, r.max, r.sum, r.count, r.last FROM rollup_minutes r JOIN points p ON p.id = r.id % ${MAX_POINT_ID} WHERE r.id >= ? AND r.id < ? ORDER BY r.id`,
      ),
      expireRollups: db.prepare('DELETE FROM rollup_minutes WHERE id IN (SELECT id FROM rollup_minutes WHERE id < ? ORDER BY id LIMIT ?)'),
      evictItems: db.prepare(
        `UPDATE outbox SET kind = 'telemetry.evicted', body = json_object('evicted', kind) WHERE lane = 2 AND kind != 'telemetry.evicted'
           AND seq IN (SELECT seq FROM outbox WHERE lane = 2 AND seq > ? AND kind != 'telemetry.evicted' ORDER BY seq LIMIT ?) RETURNING seq`,
      ),
      // Oldest first, a chunk at a time (each table has an index on ts). The outbox keeps its
      // own copy of every event, so an event not yet sent is never lost by this.
      expireEvents: db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)'),
      expireAlarmHistory: db.prepare('DELETE FROM alarm_history WHERE seq IN (SELECT seq FROM alarm_history WHERE ts < ? ORDER BY ts LIMIT ?)'),
      expireAudit: db.prepare('DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ? ORDER BY ts LIMIT ?)'),
      evictRollups: db.prepare(`DELETE FROM rollup_minutes WHERE id IN (SELECT id FROM rollup_minutes ORDER BY id LIMIT ?) RETURNING id / ${MAX_POINT_ID} * ${MINUTE} AS minute`),
    };
  }

  private getNum(key: string, fallback: number): number {
    const v = this.store.getState(key);
    return v === undefined ? fallback : Number(v);
  }

  /** Start of the newest minute whose samples are all in, at `now`. */
  private cutoff(now: number): number {
    return Math.floor((now - this.graceMs) / MINUTE) * MINUTE;
  }

  /**
   * One step of rolling up and packing. Returns true while there is more to do before the
   * current cutoff; queues the roll-ups of complete minutes once caught up.
   *
   * A round packs the log rows up to a boundary (just before the first row of a minute not
   * complete yet), point by point from the in-memory tail, a bounded number of points per
   * transaction; each transaction records how far it got ('pack.boundary', 'pack.point'),
   * the last one moves 'pack.watermark' to the boundary. A crash repeats nothing and
   * skips nothing: on restart the tail is rebuilt from the log without what was packed.
   */
  rollupStep(now: number = Date.now()): boolean {
    if (this.store.hasLegacySamples && this.legacyRollupStep()) return true;
    const tail = this.store.rawTail;
    const state = this.store.packState;
    if (state.boundary > state.watermark) {
      // A round under way; after a restart the tail first reloads up to its boundary.
      if (tail.end < state.boundary) this.store.extendTail(this.chunk * 4);
      else this.packRound(state);
      return true;
    }
    const last = this.store.lastLogId;
    if (tail.end < last) {
      const end = tail.end;
      this.store.extendTail(this.chunk * 4);
      if (tail.end > end) return true; // else no room: pack first
    }
    const cutoff = this.cutoff(now);
    const boundary = tail.boundary(cutoff, cutoff + FAR_MS);
    if (boundary > state.watermark) {
      this.packRound({ watermark: state.watermark, boundary, point: 0 });
      return true;
    }
    // The tail is full (extendTail found no room above) and holds nothing of a complete
    // minute: nothing can move before the cutoff does, so no more now. (This said "more"
    // before, and the loop ran 50 ms passes every 20 ms — ~70 % of the thread — until the
    // minute completed: at the poll bench's saturation the 2,000,000-sample tail fills in
    // ~12 s, and points/s fell from ~515,000 to ~180,000 for the rest of each minute.)
    if (tail.end >= last) this.queueCompleteMinutes(cutoff);
    return false;
  }

  /** Packs the next points of a round (one transaction). */
  private packRound(state: { readonly watermark: number; readonly boundary: number; readonly point: number }): void {
    const tail = this.store.rawTail;
    const B = state.boundary;
    if (this.round?.boundary !== B) this.round = { boundary: B, points: tail.pointIds().filter((p) => p > state.point), next: 0 };
    const round = this.round;
    const pending: { key: number; p: Pending }[] = [];
    const taken: [number, number][] = [];
    let samples = 0;
    let lastPoint = state.point;
    while (round.next < round.points.length && samples < this.chunk * 10 && pending.length < Math.max(1, this.chunk / 4)) {
      const point = round.points[round.next++]!;
      if (point <= state.point) continue; // packed by another instance
      lastPoint = point;
      let byMinute: Map<number, Pending> | undefined;
      let cur: Pending | undefined;
      const k = tail.eachUpTo(point, B, (ts, num, txt, q) => {
        const minute = Math.floor(ts / MINUTE) * MINUTE;
        if (cur?.block.minute !== minute) {
          byMinute ??= new Map();
          cur = byMinute.get(minute);
          if (cur === undefined) {
            cur = { block: new BlockBuilder(point, minute), min: 0, max: 0, sum: 0, count: 0, last: 0, lastTs: 0 };
            byMinute.set(minute, cur);
            pending.push({ key: blockKey(minute, point), p: cur });
          }
        }
        cur.block.push(ts, Number.isNaN(num) ? null : num, txt, q);
        if (q === 0 && txt === null && !Number.isNaN(num)) addToRollup(cur, ts, num);
      });
      if (k === 0) continue;
      taken.push([point, k]);
      samples += k;
    }
    const finished = round.next >= round.points.length;
    const next = finished ? { watermark: B, boundary: B, point: 0 } : { watermark: state.watermark, boundary: B, point: lastPoint };
    pending.sort((a, b) => a.key - b.key);
    let rolled = 0;
    try {
      this.store.db.transaction(() => {
        for (const { key, p } of pending) {
          if (p.count > 0) this.q.merge.run(key, p.min, p.max, p.sum, p.count, p.last, p.lastTs);
          this.q.mergeBlock.run(key, p.block.point, p.block.minute, p.block.n, p.block.bytes());
          rolled += p.count;
        }
        if (samples > 0) this.store.setState('samples.packed', String(this.getNum('samples.packed', 0) + samples));
        this.store.writePackState(next);
      })();
    } catch (err) {
      // Rolled back (a full disk): the round starts again from its recorded progress, so
      // that these points are not skipped.
      this.round = undefined;
      throw err;
    }
    this.store.packCommitted(next);
    for (const [point, k] of taken) tail.dropPrefix(point, k);
    if (finished) this.round = undefined;
    this.stats.samplesPacked += samples;
    this.stats.rolledUpSamples += rolled;
  }

  /** Rolls up one chunk of the schema-4 samples table (an upgraded gateway); true when it did. */
  private legacyRollupStep(): boolean {
    const wm = this.getNum('rollup.watermark', 0);
    const end = (this.q.legacyChunkEnd.get(wm, this.chunk) as { id: number | null }).id;
    if (end === null) return false;
    const rows = this.q.legacyRows.all(wm, end) as { point: number; ts: number; num: number }[];
    const acc = new Map<string, { point: number; minute: number; min: number; max: number; sum: number; count: number; last: number; lastTs: number }>();
    for (const r of rows) {
      const minute = Math.floor(r.ts / MINUTE) * MINUTE;
      const key = `${r.point}:${minute}`;
      const a = acc.get(key);
      if (a === undefined) acc.set(key, { point: r.point, minute, min: r.num, max: r.num, sum: r.num, count: 1, last: r.num, lastTs: r.ts });
      else {
        if (r.num < a.min) a.min = r.num;
        if (r.num > a.max) a.max = r.num;
        a.sum += r.num;
        a.count++;
        if (r.ts >= a.lastTs) {
          a.last = r.num;
          a.lastTs = r.ts;
        }
      }
    }
    this.store.db.transaction(() => {
      for (const a of acc.values()) this.q.merge.run(blockKey(a.minute, a.point), a.min, a.max, a.sum, a.count, a.last, a.lastTs);
      this.store.setState('rollup.watermark', String(end));
    })();
    this.stats.rolledUpSamples += rows.length;
    return true;
  }

  /** Queues the roll-ups of minutes in (last queued, cutoff) as `telemetry.rollup` items. */
  private queueCompleteMinutes(cutoff: number): void {
    const first = (this.q.firstRollupMinute.get() as { minute: number | null }).minute;
    const last = this.getNum('rollup.queuedMinute', first === null ? cutoff - MINUTE : first - MINUTE);
    if (cutoff - MINUTE <= last) return;
    this.store.db.transaction(() => {
      // Minutes after `last` (a minute's start) and before `cutoff`.
      const rows = this.q.minutes.all(blockKey((Math.floor(last / MINUTE) + 1) * MINUTE, 0), blockKey(cutoff, 0)) as { id: string; minute: number; min: number; max: number; sum: number; count: number; last: number }[];
      // Items are cut by count and by size: an item past the cloud's LIMITS.maxItemBytes
      // would be refused for ever and block lane 2 (long point ids make 2,000 roll-ups ~300 KB).
      let part: WireRollup[] = [];
      let bytes = 0;
      const flush = () => {
        if (part.length === 0) return;
        this.store.appendOutbox(2, 'telemetry.rollup', part[0]!.minute, { rollups: part });
        this.stats.rollupItemsQueued++;
        part = [];
        bytes = 0;
      };
      for (const r of rows) {
        const rollup: WireRollup = { id: r.id, minute: r.minute, min: r.min, max: r.max, avg: r.sum / r.count, count: r.count, last: r.last };
        const size = JSON.stringify(rollup).length + 1;
        if (part.length >= this.perItem || bytes + size > ITEM_BYTES) flush();
        part.push(rollup);
        bytes += size;
      }
      flush();
      this.store.setState('rollup.queuedMinute', String(cutoff - MINUTE));
    })();
  }

  /**
   * Deletes log batches already packed, from the start of the log (about 2 chunks of
   * samples); true when it did. The latest values are rebuilt from the log rows after
   * 'latest.through' after a crash, so a batch past it waits for the store's next periodic
   * write of the table (at most latestSaveIntervalMs) — written here at once only when
   * `force`d (the size budget) or when those writes are overdue.
   */
  private deletePackedLog(force: boolean): boolean {
    const packed = this.store.packState.watermark;
    let n = 0;
    for (;;) {
      const first = this.q.firstBatch.get() as { id: number; last: number } | undefined;
      if (first === undefined || first.last > packed) return n > 0;
      if (first.last > this.store.latestSavedThrough) {
        if (!force && !this.store.latestSaveOverdue) return n > 0;
        this.store.saveLatest();
      }
      this.q.deleteBatch.run(first.id);
      n += first.last - first.id + 1;
      if (n >= this.chunk * 2) return true;
    }
  }

  /** Deletes blocks and the packed count of their samples (one transaction); returns what went. */
  private deleteBlocks(run: () => { minute?: number; n: number }[]): { minute?: number; n: number }[] {
    return this.store.db.transaction(() => {
      const gone = run();
      const n = gone.reduce((sum, b) => sum + b.n, 0);
      if (n > 0) this.store.setState('samples.packed', String(this.getNum('samples.packed', 0) - n));
      return gone;
    })();
  }

  /**
   * Deletes one chunk of packed log rows, of raw samples past rawRetentionDays (rolled up
   * ones only: blocks always are), of roll-ups or of events; true while more.
   */
  retentionStep(now: number = Date.now()): boolean {
    if (this.deletePackedLog(false)) return true;
    const rawCut = now - this.options.rawRetentionDays * DAY;
    // Blocks of the minutes that ended before rawCut.
    const cutKey = blockKey(Math.floor(rawCut / MINUTE) * MINUTE, 0);
    const first = (this.q.firstBlock.get() as { id: number } | undefined)?.id;
    if (first !== undefined && first < cutKey) {
      const gone = this.deleteBlocks(() => this.q.expireBlocks.all(cutKey, Math.max(1, Math.ceil(this.chunk / 5))) as { n: number }[]);
      this.stats.samplesExpired += gone.reduce((sum, b) => sum + b.n, 0);
      if (gone.length > 0) return true;
    }
    if (this.store.hasLegacySamples) {
      const oldest = (this.q.oldestLegacy.get() as { ts: number } | undefined)?.ts;
      if (oldest !== undefined && oldest < rawCut) {
        const n = this.q.expireLegacy.run(this.getNum('rollup.watermark', 0), this.chunk, rawCut).changes;
        this.stats.samplesExpired += n;
        if (n < this.chunk) this.store.refreshLegacySamples();
        if (n > 0) return true;
      }
    }
    // Roll-ups of minutes that started before the cut.
    const rollupCut = Math.ceil((now - this.options.rollupRetentionDays * DAY) / MINUTE) * MINUTE;
    const n = this.q.expireRollups.run(blockKey(rollupCut, 0), this.chunk).changes;
    this.stats.rollupsExpired += n;
    if (n > 0) return true;
    const eventCut = now - (this.options.eventRetentionDays ?? 365) * DAY;
    let e = 0;
    for (const q of [this.q.expireEvents, this.q.expireAlarmHistory, this.q.expireAudit]) e += q.run(eventCut, this.chunk).changes;
    this.stats.eventsExpired += e;
    return e > 0;
  }

  /** Bytes of the database in use (pages not on the free list). */
  usedBytes(): number {
    const db = this.store.db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    const size = db.pragma('page_size', { simple: true }) as number;
    return (pages - free) * size;
  }

  /**
   * Evicts telemetry while the database is over budget: raw samples (packed log rows
   * first, which loses nothing; then the schema-4 rows, the blocks, the log not packed
   * yet — oldest first), then unsent lane-2 items, then roll-ups; records one
   * `buffer.evicted` event for what it dropped. Returns true while still over budget.
   */
  budgetStep(now: number = Date.now()): boolean {
    if (this.usedBytes() <= this.options.maxBytes) return false;
    if (this.deletePackedLog(true)) return this.usedBytes() > this.options.maxBytes;
    const dropped = this.evictSamples() ?? this.evictItems() ?? this.evictRollups();
    if (dropped === undefined) return false; // nothing evictable left: lanes 0/1 stay
    const severity: Severity = 'warning';
    this.store.recordEvent({ ts: now, type: 'buffer.evicted', severity, body: { ...dropped, maxBytes: this.options.maxBytes } });
    return this.usedBytes() > this.options.maxBytes;
  }

  /** Oldest raw samples: `{ samples, samplesFrom, samplesTo }` (ms epoch), or undefined when none. */
  private evictSamples(): Record<string, number> | undefined {
    const said = (n: number, from: number, to: number) => {
      this.stats.samplesEvicted += n;
      return { samples: n, samplesFrom: from, samplesTo: to };
    };
    if (this.store.hasLegacySamples) {
      const rows = this.q.evictLegacy.all(this.chunk) as { ts: number }[];
      if (rows.length < this.chunk) this.store.refreshLegacySamples();
      if (rows.length > 0) return said(rows.length, Math.min(...rows.map((s) => s.ts)), Math.max(...rows.map((s) => s.ts)));
    }
    const blocks = this.deleteBlocks(() => this.q.evictBlocks.all(Math.max(1, Math.ceil(this.chunk / 50))) as { minute: number; n: number }[]);
    if (blocks.length > 0) {
      const minutes = blocks.map((b) => b.minute!);
      return said(
        blocks.reduce((sum, b) => sum + b.n, 0),
        Math.min(...minutes),
        Math.max(...minutes) + MINUTE - 1,
      );
    }
    // The log not packed yet (oldest first, a batch at a time; not in the middle of a
    // round of packing): those samples are never rolled up either.
    const state = this.store.packState;
    const first = this.q.firstBatch.get() as { id: number; last: number } | undefined;
    if (state.boundary > state.watermark || first === undefined) return undefined;
    const next = { watermark: Math.max(first.last, state.watermark), boundary: Math.max(first.last, state.watermark), point: 0 };
    const rows: { ts: number }[] = [];
    if (first.last > this.store.latestSavedThrough) this.store.saveLatest(); // see deletePackedLog
    this.store.db.transaction(() => {
      decodeBatch(first.id, this.q.batchData.get(first.id) as Buffer, (id, _point, ts) => {
        if (id > state.watermark) rows.push({ ts });
      });
      this.q.deleteBatch.run(first.id);
      this.store.writePackState(next);
    })();
    this.store.packCommitted(next);
    this.store.rawTail.dropUpTo(next.watermark);
    if (rows.length === 0) return undefined;
    let from = Infinity;
    let to = -Infinity;
    for (const r of rows) {
      if (r.ts < from) from = r.ts;
      if (r.ts > to) to = r.ts;
    }
    return said(rows.length, from, to);
  }

  private evictItems(): Record<string, number> | undefined {
    const acked = this.store.lane(2).ackedSeq;
    const items = this.q.evictItems.all(acked, Math.ceil(this.chunk / 100)) as { seq: number }[];
    if (items.length === 0) return undefined;
    this.stats.itemsEvicted += items.length;
    return { lane2Items: items.length, seqFrom: items[0]!.seq, seqTo: items[items.length - 1]!.seq };
  }

  private evictRollups(): Record<string, number> | undefined {
    const rollups = this.q.evictRollups.all(this.chunk) as { minute: number }[];
    if (rollups.length === 0) return undefined;
    this.stats.rollupsEvicted += rollups.length;
    return { rollups: rollups.length, minutesFrom: Math.min(...rollups.map((r) => r.minute)), minutesTo: Math.max(...rollups.map((r) => r.minute)) };
  }

  /** Runs steps until `budgetMs` is spent or nothing is left; true when work remains. */
  run(budgetMs = 50, now: () => number = Date.now): boolean {
    const end = Date.now() + budgetMs;
    let more = true;
    while (more && Date.now() < end) {
      more = this.budgetStep(now());
      more = this.rollupStep(now()) || more;
      more = this.retentionStep(now()) || more;
    }
    return more;
  }
}
