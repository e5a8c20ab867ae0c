/**
 * The store's background work, done in small bounded steps so that it never holds the
 * event loop (and so the poller) for long:
 *
 * 1. **Roll-ups**: raw samples of good quality become 1-minute roll-ups
 *    (min/max/sum/count/last per point), merged chunk by chunk; once every sample of a
 *    minute is in, the minute's roll-ups are queued for the cloud (lane 2,
 *    `telemetry.rollup`). The watermark (last sample rowid rolled up) commits with the
 *    roll-ups, so a crash repeats nothing and skips nothing.
 * 2. **Retention**: samples older than rawRetentionDays (only once rolled up), roll-ups
 *    older than rollupRetentionDays, and events, alarm history and audit entries older
 *    than eventRetentionDays are deleted a few thousand rows at a time.
 * 3. **Size budget**: past maxSizeMb the oldest samples go first, then unsent lane-2
 *    items (their bodies replaced by a stub, keeping the sequence unbroken for the cloud),
 *    then the oldest roll-ups — with a `buffer.evicted` event saying what was dropped.
 *    Lanes 0 and 1 (alarms, work orders, events) are never evicted.
 */
import { LIMITS, type WireRollup } from '../../../protocol/v1.js';
import type { Severity } from '../core/model.js';
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
  /** Rows per step. */
  readonly chunkRows?: number;
  /** Roll-ups in one outbox item. */
  readonly rollupsPerItem?: number;
}

export interface MaintenanceStats {
  rolledUpSamples: number;
  rollupItemsQueued: number;
  samplesExpired: number;
  rollupsExpired: number;
  /** Events, alarm history and audit entries past eventRetentionDays. */
  eventsExpired: number;
  samplesEvicted: number;
  itemsEvicted: number;
  rollupsEvicted: number;
}

const MINUTE = 60_000;
/** Largest roll-up item body: half the cloud's per-item limit. */
const ITEM_BYTES = LIMITS.maxItemBytes / 2;
const DAY = 86_400_000;

export class StoreMaintenance {
  readonly stats: MaintenanceStats = { rolledUpSamples: 0, rollupItemsQueued: 0, samplesExpired: 0, rollupsExpired: 0, eventsExpired: 0, samplesEvicted: 0, itemsEvicted: 0, rollupsEvicted: 0 };
  private readonly graceMs: number;
  private readonly chunk: number;
  private readonly perItem: number;
  private readonly q;

  constructor(
    private readonly store: GatewayStore,
    private readonly options: MaintenanceOptions,
  ) {
    this.graceMs = options.graceMs ?? 5_000;
    this.chunk = options.chunkRows ?? 5_000;
    this.perItem = options.rollupsPerItem ?? 2_000;
    const db = store.db;
    this.q = {
      chunkEnd: db.prepare('SELECT MAX(rowid) AS id FROM (SELECT rowid FROM samples WHERE rowid > ? ORDER BY rowid LIMIT ?)'),
      firstLate: db.prepare('SELECT MIN(rowid) AS id FROM samples WHERE rowid > ? AND rowid <= ? AND ts >= ?'),
      rows: db.prepare('SELECT point, ts, num FROM samples WHERE rowid > ? AND rowid <= ? AND quality = 0 AND num IS NOT NULL'),
      merge: db.prepare(
        `INSERT INTO rollups (point, minute, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(point, minute) DO UPDATE SET min = MIN(min, excluded.min), max = MAX(max, excluded.max), sum = sum + excluded.sum,
           count = count + excluded.count, last = CASE WHEN excluded.last_ts >= last_ts THEN excluded.last ELSE last END,
           last_ts = MAX(last_ts, excluded.last_ts)`,
      ),
      minutes: db.prepare(
        'SELECT p.name AS id, r.minute, r.min, r.max, r.sum, r.count, r.last FROM rollups r JOIN points p ON p.id = r.point WHERE r.minute > ? AND r.minute < ? ORDER BY r.minute, p.name',
      ),
      firstSampleTs: db.prepare('SELECT ts FROM samples ORDER BY rowid LIMIT 1'),
      expireSamples: db.prepare('DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples WHERE rowid <= ? ORDER BY rowid LIMIT ?) AND ts < ?'),
      oldestSample: db.prepare('SELECT ts FROM samples ORDER BY rowid LIMIT 1'),
      expireRollups: db.prepare('DELETE FROM rollups WHERE (point, minute) IN (SELECT point, minute FROM rollups WHERE minute < ? ORDER BY minute LIMIT ?)'),
      evictSamples: db.prepare('DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples ORDER BY rowid LIMIT ?) RETURNING ts'),
      evictItems: db.prepare(
        `UPDATE outbox SET kind = 'telemetry.evicted', body = json_object('evicted', kind) WHERE lane = 2 AND kind != 'telemetry.evicted'
           AND seq IN (SELECT seq FROM outbox WHERE lane = 2 AND seq > ? AND kind != 'telemetry.evicted' ORDER BY seq LIMIT ?) RETURNING seq`,
      ),
      // Oldest first, a chunk at a time (each table has an index on ts). The outbox keeps its
      // own copy of every event, so an event not yet sent is never lost by this.
      expireEvents: db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)'),
      expireAlarmHistory: db.prepare('DELETE FROM alarm_history WHERE seq IN (SELECT seq FROM alarm_history WHERE ts < ? ORDER BY ts LIMIT ?)'),
      expireAudit: db.prepare('DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ? ORDER BY ts LIMIT ?)'),
      evictRollups: db.prepare('DELETE FROM rollups WHERE (point, minute) IN (SELECT point, minute FROM rollups ORDER BY minute LIMIT ?) RETURNING minute'),
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
   * Rolls up one chunk of samples. Returns true while there is more to do before the
   * current cutoff; queues the roll-ups of complete minutes once caught up.
   */
  rollupStep(now: number = Date.now()): boolean {
    const cutoff = this.cutoff(now);
    const wm = this.getNum('rollup.watermark', 0);
    const end = (this.q.chunkEnd.get(wm, this.chunk) as { id: number | null }).id;
    let upTo = end ?? wm;
    if (end !== null) {
      const late = (this.q.firstLate.get(wm, end, cutoff) as { id: number | null }).id;
      if (late !== null) upTo = late - 1;
    }
    if (upTo > wm) {
      const rows = this.q.rows.all(wm, upTo) as { point: number; ts: number; num: number }[];
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
        for (const a of acc.values()) this.q.merge.run(a.point, a.minute, a.min, a.max, a.sum, a.count, a.last, a.lastTs);
        this.store.setState('rollup.watermark', String(upTo));
      })();
      this.stats.rolledUpSamples += rows.length;
      if (end !== null && upTo === end) return true; // a full chunk: there may be more
    }
    this.queueCompleteMinutes(cutoff);
    return false;
  }

  /** Queues the roll-ups of minutes in (last queued, cutoff) as `telemetry.rollup` items. */
  private queueCompleteMinutes(cutoff: number): void {
    const first = (this.q.firstSampleTs.get() as { ts: number } | undefined)?.ts;
    const last = this.getNum('rollup.queuedMinute', first === undefined ? cutoff - MINUTE : Math.floor(first / MINUTE) * MINUTE - MINUTE);
    if (cutoff - MINUTE <= last) return;
    this.store.db.transaction(() => {
      const rows = this.q.minutes.all(last, cutoff) as { id: string; minute: number; min: number; max: number; sum: number; count: number; last: number }[];
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

  /** Deletes one chunk of expired samples (rolled up ones only) or roll-ups; true while more. */
  retentionStep(now: number = Date.now()): boolean {
    const wm = this.getNum('rollup.watermark', 0);
    const rawCut = now - this.options.rawRetentionDays * DAY;
    const oldest = (this.q.oldestSample.get() as { ts: number } | undefined)?.ts;
    if (oldest !== undefined && oldest < rawCut) {
      const n = this.q.expireSamples.run(wm, this.chunk, rawCut).changes;
      this.stats.samplesExpired += n;
      if (n > 0) return true;
    }
    const n = this.q.expireRollups.run(now - this.options.rollupRetentionDays * DAY, this.chunk).changes;
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
   * Evicts telemetry while the database is over budget: samples, then unsent lane-2
   * items, then roll-ups; records one `buffer.evicted` event for what it dropped.
   * Returns true while still over budget.
   */
  budgetStep(now: number = Date.now()): boolean {
    if (this.usedBytes() <= this.options.maxBytes) return false;
    const dropped: Record<string, unknown> = {};
    const samples = this.q.evictSamples.all(this.chunk) as { ts: number }[];
    if (samples.length > 0) {
      this.stats.samplesEvicted += samples.length;
      Object.assign(dropped, { samples: samples.length, samplesFrom: Math.min(...samples.map((s) => s.ts)), samplesTo: Math.max(...samples.map((s) => s.ts)) });
    } else {
      const acked = this.store.lane(2).ackedSeq;
      const items = this.q.evictItems.all(acked, Math.ceil(this.chunk / 100)) as { seq: number }[];
      if (items.length > 0) {
        this.stats.itemsEvicted += items.length;
        Object.assign(dropped, { lane2Items: items.length, seqFrom: items[0]!.seq, seqTo: items[items.length - 1]!.seq });
      } else {
        const rollups = this.q.evictRollups.all(this.chunk) as { minute: number }[];
        this.stats.rollupsEvicted += rollups.length;
        if (rollups.length === 0) return false; // nothing evictable left: lanes 0/1 stay
        Object.assign(dropped, { rollups: rollups.length, minutesFrom: Math.min(...rollups.map((r) => r.minute)), minutesTo: Math.max(...rollups.map((r) => r.minute)) });
      }
    }
    const severity: Severity = 'warning';
    this.store.recordEvent({ ts: now, type: 'buffer.evicted', severity, body: { ...dropped, maxBytes: this.options.maxBytes } });
    return this.usedBytes() > this.options.maxBytes;
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
