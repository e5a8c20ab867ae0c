/**
 * The gateway's SQLite store (better-sqlite3 v12, WAL): latest values, raw samples,
 * events and the transactional outbox. Knows nothing of drivers or sync (DESIGN.md
 * "Layout"): it keeps what it is given and hands out what is asked for.
 *
 * Durability (docs/operations.md): WAL with synchronous=NORMAL — a process crash loses
 * nothing committed; a power cut may lose the last transactions not yet synced, and a
 * telemetry flush commits with synchronous=FULL once a second (`syncIntervalMs`), so that
 * is at most the last second's telemetry. Each flush of poll cycles is one transaction.
 *
 * Latest values are held in memory (latest.ts) and written to the `latest` table in bulk —
 * the points changed since the last write, every `latestSaveIntervalMs`, with each
 * telemetry snapshot and at close — with the log id they reflect ('latest.through'); on
 * open the log rows after that mark are replayed into them (a crash loses none).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { laneOf, type Lane, type OutboxItem, type WireReading } from '../../../protocol/v1.js';
import { uuidv7 } from '../../../protocol/uuid.js';
import { GatewayError } from '../core/errors.js';
import type { GatewayEvent, Quality, Reading, Value } from '../core/model.js';
import { migrations } from './migrations.js';
import { LatestValues, latestValue } from './latest.js';
import { BatchBuilder, blockKey, decodeBatch, decodeBlock, MAX_POINT_ID, MINUTE, QUALITY_CODE, QUALITY_NAME, SampleTail, type RawSample } from './sample-blocks.js';

type Db = Database.Database;

/**
 * Rows per multi-row upsert of latest values, largest first (5 parameters a row, well
 * under SQLite's 32766): a write of thousands takes few statement steps, and what is left
 * over goes in the smaller ones.
 */
const ROWS_PER_STATEMENT = [500, 50, 5, 1] as const;
const LATEST_WIDTH = 5;
/**
 * A periodic write of the latest values also starts once the log holds this many samples
 * per point past the table's mark, however soon: at high rates (the poll saturation, the
 * store bench) the log kept for the table stays ~250 samples a point (~6 KB), and the
 * writes stay as rare per sample as at 5 s and 500,000 samples/s.
 */
const LATEST_LOG_PER_POINT = 250;
/** Default bound of the in-memory tail of samples not packed yet (~2 minutes of 10,000 points at 1 Hz is 1.2 M). */
const TAIL_SAMPLES = 2_000_000;

/** A latest value as the API shows it. */
export interface LatestRow {
  readonly point: string;
  readonly device: string;
  readonly value: Value | null;
  readonly quality: Quality;
  readonly ts: number;
}

/** An outbox item with its body as the stored JSON text. */
export interface RawOutboxItem {
  readonly lane: Lane;
  readonly seq: number;
  readonly id: string;
  readonly kind: string;
  readonly ts: number;
  readonly body: string;
}

export interface LaneStatus {
  readonly lastSeq: number;
  readonly ackedSeq: number;
  /** Items appended but not yet acknowledged. */
  readonly backlog: number;
  /** Age in ms of the oldest unacknowledged item, 0 when none. */
  readonly oldestMs: number;
}

export interface EventQuery {
  readonly type?: string;
  readonly device?: string;
  readonly since?: number;
  readonly limit?: number;
}

export interface AuditEntry {
  readonly id: string;
  readonly ts: number;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly result: 'ok' | 'refused' | 'failed';
}

export interface StoreOptions {
  /** Folder of the database file; created if missing. Use ':memory:' for a throwaway store. */
  readonly dataDir: string;
  readonly site: string;
  /** Most readings in one telemetry.latest outbox item. */
  readonly snapshotChunk?: number;
  /**
   * Most raw samples not packed yet held in memory for trend queries and packing
   * (default 2,000,000, ~32 bytes each; normally a minute or two of samples). Past it, queries read them from the log (slower) until the
   * maintenance loop has caught up.
   */
  readonly tailSamples?: number;
  /**
   * Telemetry commits on synchronous=NORMAL are made durable (the WAL fsynced: one
   * commit with synchronous=FULL) at least this often, ms (default 1000): a power cut
   * takes back at most the last second of samples. Without it, NORMAL syncs the WAL only
   * at checkpoints — many flushes apart with few points.
   */
  readonly syncIntervalMs?: number;
  /**
   * The latest values changed since the last write go to the `latest` table at most this
   * often, ms (default 60,000; also with every telemetry snapshot and at close). The API
   * reads them from memory; after a crash they are rebuilt from the sample log, whose rows
   * are kept until the table reflects them. Every point polled at 1 s changes within a few
   * seconds, so each write is nearly every point: at 5 s (before, issue 3) those upserts
   * were a third of the poll path's store CPU; at 60 s the log keeps up to a minute more.
   */
  readonly latestSaveIntervalMs?: number;
  /** Most latest values a flush writes to the table (a periodic write is spread over flushes; default 4000, ~5 ms). */
  readonly latestRowsPerFlush?: number;
  /**
   * SQLite's page cache, MiB (default 8; SQLite's own default is 2). It fills as pages are
   * read and stays resident (64 MiB before: most of it in a gateway running for days); in
   * `bench store` 8 and 64 MiB were within the noise (docs/benchmarks.md, memory).
   */
  readonly cacheMiB?: number;
}

/**
 * Upsert of `n` latest values as memory holds them (latest.ts: it decided what moves
 * forward and what is dirty, i.e. changed since the last telemetry snapshot).
 */
function upsertLatestSql(n: number): string {
  return `INSERT INTO latest (point, value, quality, ts, dirty) VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?)').join(', ')}
    ON CONFLICT(point) DO UPDATE SET value = excluded.value, quality = excluded.quality, ts = excluded.ts, dirty = excluded.dirty`;
}

/** Runs the rows left over (fewer than the largest statement takes) through the smaller statements. */
function runRows(statements: readonly Database.Statement[], rows: readonly unknown[], width: number): void {
  let i = 0;
  for (let s = 0; s < statements.length; s++) {
    const n = ROWS_PER_STATEMENT[s]! * width;
    for (; rows.length - i >= n; i += n) statements[s]!.run(rows.slice(i, i + n));
  }
}

/** Maps SQLite's I/O failures to an error that says what to do. */
function storeError(cause: unknown, doing: string): GatewayError {
  const code = (cause as { code?: string }).code ?? '';
  const hint = code === 'SQLITE_FULL' ? 'the disk is full' : code.startsWith('SQLITE_IOERR') ? 'an I/O error' : (cause as Error).message;
  return new GatewayError('GW_ERR_STORE_IO', `gateway database: ${doing} failed: ${hint}`, { cause, details: { sqlite: code } });
}

export class GatewayStore {
  readonly db: Db;
  readonly file: string;
  private readonly site: string;
  private readonly snapshotChunk: number;
  private readonly stmts;
  /** Point name → integer id. */
  private readonly ids = new Map<string, number>();
  /** The same ids by the points' process-wide slots (core/model.ts `pointSlot`); 0: not known yet. */
  private idBySlot = new Int32Array(0);
  private readonly eventListeners: ((event: GatewayEvent) => void)[] = [];
  /** Log samples (`sample_batches`) not packed yet, by point: trend queries and packing read them here. */
  private readonly tail: SampleTail;
  /** Id of the next raw sample. */
  private nextLogId = 1;
  /**
   * Packing progress (maintenance.ts): every log row with id ≤ `watermark` is rolled up and
   * packed, and so are those with id ≤ `boundary` of points ≤ `point` (a round of packing
   * done point by point, in bounded transactions). Kept in kv ('pack.*').
   */
  private pack = { watermark: 0, boundary: 0, point: 0 };
  private readonly syncIntervalMs: number;
  /** When a telemetry write last committed with synchronous=FULL (ms epoch). */
  private lastSync = 0;
  /** The samples table of schema 1-4 still holds rows (an upgraded gateway; read as before until emptied). */
  private legacySamples = false;
  /** Latest value of every point (the `latest` table is written from it in bulk). */
  private readonly latestValues = new LatestValues();
  private readonly latestSaveIntervalMs: number;
  /** When the latest values were last written to the table (ms epoch), and the log id they reflected then. */
  private lastLatestSave = 0;
  private latestThrough = 0;
  private readonly latestRowsPerFlush: number;
  /** A periodic write of the table under way (latest.ts rounds): the mark it moves to once done. */
  private latestRound: { through: number } | undefined;
  /** Point id of each reading of the flush being written (applied to the latest values once committed). */
  private flushIds = new Int32Array(1024);

  constructor(options: StoreOptions) {
    this.site = options.site;
    this.snapshotChunk = options.snapshotChunk ?? 2000;
    this.syncIntervalMs = options.syncIntervalMs ?? 1000;
    this.latestSaveIntervalMs = options.latestSaveIntervalMs ?? 60_000;
    this.latestRowsPerFlush = Math.max(1, options.latestRowsPerFlush ?? 4000);
    if (options.cacheMiB !== undefined && !(options.cacheMiB > 0 && Number.isFinite(options.cacheMiB))) throw new Error(`store: cacheMiB must be a number of MiB > 0, got ${options.cacheMiB}`);
    if (options.dataDir === ':memory:') this.file = ':memory:';
    else {
      mkdirSync(options.dataDir, { recursive: true });
      this.file = path.join(options.dataDir, 'gateway.db');
    }
    this.db = new Database(this.file);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      // Page cache (SQLite's default is 2 MiB): resident once filled, so sized to what the
      // store's writes and trend reads use, not more (StoreOptions.cacheMiB, issue 3).
      this.db.pragma(`cache_size = ${-Math.max(1, Math.round((options.cacheMiB ?? 8) * 1024))}`);
      this.db.pragma('foreign_keys = ON');
      // A truncated or damaged file fails here or in the header check below, before anything is written.
      const check = this.db.pragma('quick_check(1)', { simple: true }) as string;
      if (check !== 'ok') throw Object.assign(new Error(check), { code: 'SQLITE_CORRUPT' });
      this.migrate();
    } catch (cause) {
      this.db.close();
      const code = (cause as { code?: string }).code ?? '';
      if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || code.startsWith('SQLITE_CORRUPT')) {
        throw new GatewayError(
          'GW_ERR_STORE_CORRUPT',
          `gateway database ${this.file} is damaged or not a Steward database (${(cause as Error).message}). It was left as it is, for inspection: move it aside (with its -wal and -shm files) to start with an empty one; what it held that the cloud had not acknowledged is in it.`,
          { cause, details: { file: this.file } },
        );
      }
      throw cause;
    }
    this.stmts = this.prepare();
    const watermark = Number(this.getState('pack.watermark') ?? 0);
    this.pack = { watermark, boundary: Number(this.getState('pack.boundary') ?? watermark), point: Number(this.getState('pack.point') ?? 0) };
    this.nextLogId = Math.max((this.stmts.lastLogId.get() as { last: number } | undefined)?.last ?? 0, watermark) + 1;
    this.tail = new SampleTail(options.tailSamples ?? TAIL_SAMPLES, watermark);
    this.refreshLegacySamples();
    this.extendTail(Infinity);
    this.loadLatest();
  }

  /**
   * Loads the points and the `latest` table into memory, then replays the log rows after
   * 'latest.through' (written after the table's last write: a crash, or a power cut that
   * took back that write) — with the same rules as a flush: forward in time only, dirty
   * when value or quality changed. A database without the mark (written before the table
   * was kept in memory) had it written with every flush.
   */
  private loadLatest(): void {
    for (const { id, name, device } of this.db.prepare('SELECT id, name, device FROM points').all() as { id: number; name: string; device: string }[]) {
      this.ids.set(name, id);
      this.latestValues.named(id, name, device);
    }
    const rows = this.db.prepare('SELECT point, value, quality, ts, dirty FROM latest').all() as { point: number; value: string | null; quality: Quality; ts: number; dirty: number }[];
    for (const r of rows) this.latestValues.load(r.point, r.value === null ? null : (JSON.parse(r.value) as Value), r.quality, r.ts, r.dirty === 1);
    const mark = this.getState('latest.through');
    this.latestThrough = mark === undefined ? this.lastLogId : Number(mark);
    // Recorded at once: from here on the table lags the log until the first write is done.
    if (mark === undefined) {
      try {
        this.setState('latest.through', String(this.latestThrough));
      } catch (cause) {
        this.db.close();
        throw storeError(cause, 'recording where the latest values stand');
      }
    }
    if (this.latestThrough >= this.lastLogId) return;
    const through = this.latestThrough;
    for (const [first, data] of this.stmts.batchesFrom.iterate(through + 1) as IterableIterator<[number, Buffer]>) {
      decodeBatch(first, data, (id, point, ts, num, txt, q, bool) => {
        if (id <= through) return;
        const value = txt ?? (num === null ? null : bool ? num !== 0 : num);
        this.latestValues.set(point, latestValue(value), QUALITY_NAME[q] ?? 'bad', ts);
      });
    }
  }

  /** Writes the latest values changed since the last write to the table, with the log id they reflect. Inside a transaction. */
  private writeLatestRows(through: number): void {
    if (this.latestValues.unsavedCount > 0) runRows(this.stmts.upsertLatest, this.latestValues.unsavedRows(), LATEST_WIDTH);
    this.setState('latest.through', String(through));
  }

  /** Marks the write of `writeLatestRows` committed. */
  private latestSaved(through: number, now: number): void {
    this.latestValues.saved();
    this.latestRound = undefined;
    this.latestThrough = through;
    this.lastLatestSave = now;
  }

  /**
   * Writes the latest values changed since the last write to the `latest` table now (one
   * transaction). The maintenance loop calls it before deleting log rows the table does
   * not reflect yet; close() calls it.
   */
  saveLatest(): void {
    if (this.latestThrough >= this.lastLogId && this.latestValues.unsavedCount === 0) return;
    const through = this.lastLogId;
    try {
      this.db.transaction(() => this.writeLatestRows(through))();
    } catch (cause) {
      throw storeError(cause, 'writing the latest values');
    }
    this.latestSaved(through, Date.now());
  }

  /** The log id up to which the `latest` table reflects the samples (log rows after it must be kept). */
  get latestSavedThrough(): number {
    return this.latestThrough;
  }

  /**
   * Whether the periodic writes of the latest values are overdue (no flush for twice the
   * interval, e.g. polling stopped): the maintenance loop then writes them itself rather
   * than keep packed log rows the table does not reflect.
   */
  get latestSaveOverdue(): boolean {
    return Date.now() - this.lastLatestSave >= 2 * this.latestSaveIntervalMs;
  }

  /**
   * Loads log rows after the tail's end into it, up to `rows` of them and while it has
   * room — always at least up to the boundary of a round of packing under way. At start,
   * and from the maintenance loop when writes went past the tail's bound. True when the
   * tail now reaches the last row.
   */
  extendTail(rows: number): boolean {
    const { boundary, point: donePoint } = this.pack;
    const upTo = Math.min(this.tail.end + rows, this.lastLogId);
    let stopped = false;
    for (const [first, data] of this.stmts.batchesFrom.iterate(this.tail.end + 1) as IterableIterator<[number, Buffer]>) {
      if (first > upTo) break;
      decodeBatch(first, data, (id, point, ts, num, txt, q) => {
        if (id <= this.tail.end) return true;
        if (id > upTo) return false;
        if (id > this.tail.end + 1) this.tail.end = id - 1; // no such samples (evicted)
        if (id <= boundary && point <= donePoint) this.tail.skip(id);
        else if (!this.tail.push(id, point, ts, num, txt, q, id <= boundary)) {
          stopped = true; // no room
          return false;
        }
        return true;
      });
      if (stopped) break;
    }
    if (!stopped) this.tail.end = Math.max(this.tail.end, upTo);
    return this.tail.end >= this.lastLogId;
  }

  /** Calls `fn` with every log sample after the tail's end (a scan: the slow path). */
  private scanAfterTail(fn: (id: number, point: number, ts: number, num: number | null, txt: string | null, quality: number) => void): void {
    const end = this.tail.end;
    for (const [first, data] of this.stmts.batchesFrom.iterate(end + 1) as IterableIterator<[number, Buffer]>) {
      decodeBatch(first, data, (id, point, ts, num, txt, quality) => {
        if (id > end) fn(id, point, ts, num, txt, quality);
      });
    }
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    const latest = migrations[migrations.length - 1]?.version ?? 0;
    if (current > latest) {
      throw new GatewayError('GW_ERR_STORE_MIGRATION', `gateway database ${this.file} has schema version ${current}; this build knows up to ${latest}`);
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        m.run?.(this.db);
        this.db.pragma(`user_version = ${m.version}`);
      })();
    }
  }

  private prepare() {
    const db = this.db;
    return {
      pointId: db.prepare('SELECT id FROM points WHERE name = ?'),
      addPoint: db.prepare('INSERT INTO points (name, device) VALUES (?, ?) RETURNING id'),
      upsertLatest: ROWS_PER_STATEMENT.map((n) => db.prepare(upsertLatestSql(n))),
      insertBatch: db.prepare('INSERT INTO sample_batches (id, last, data) VALUES (?, ?, ?)'),
      lastLogId: db.prepare('SELECT last FROM sample_batches ORDER BY id DESC LIMIT 1'),
      // The batches holding samples with id ≥ ?, in order.
      batchesFrom: db.prepare(
        'SELECT id, data FROM sample_batches WHERE id >= coalesce((SELECT id FROM sample_batches WHERE id <= ? ORDER BY id DESC LIMIT 1), 0) ORDER BY id',
      ).raw(),
      blockBounds: db.prepare('SELECT MIN(id) AS first, MAX(id) AS last FROM sample_blocks'),
      // One rowid lookup per minute of the range (blockKey): no per-point index.
      blocksOf: db.prepare(
        `WITH RECURSIVE k(id) AS (SELECT ? UNION ALL SELECT id + ${MAX_POINT_ID} FROM k WHERE id + ${MAX_POINT_ID} <= ?)
         SELECT b.minute, b.data FROM k CROSS JOIN sample_blocks b ON b.id = k.id`,
      ).raw(),
      anyLegacySample: db.prepare('SELECT EXISTS (SELECT 1 FROM samples) AS yes'),
      countLegacy: db.prepare('SELECT COUNT(*) AS n FROM samples'),
      clearDirty: db.prepare('UPDATE latest SET dirty = 0 WHERE dirty = 1'),
      samplesOf: db.prepare('SELECT ts, num, txt, quality FROM samples WHERE point = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?'),
      rollupBounds: db.prepare('SELECT MIN(id) AS first, MAX(id) AS last FROM rollup_minutes'),
      // A point's roll-ups: one rowid lookup per minute of the range (blockKey), in time order.
      rollupsOf: db.prepare(
        `WITH RECURSIVE k(id) AS (SELECT ? UNION ALL SELECT id + ${MAX_POINT_ID} FROM k WHERE id + ${MAX_POINT_ID} <= ?)
         SELECT r.id / ${MAX_POINT_ID} * ${MINUTE} AS minute, r.min, r.max, r.sum, r.count, r.last FROM k CROSS JOIN rollup_minutes r ON r.id = k.id LIMIT ?`,
      ),
      insertEvent: db.prepare('INSERT INTO events (id, ts, device, type, severity, body) VALUES (?, ?, ?, ?, ?, ?)'),
      laneRow: db.prepare('SELECT last_seq AS lastSeq, acked_seq AS ackedSeq FROM lanes WHERE lane = ?'),
      bumpLane: db.prepare('UPDATE lanes SET last_seq = last_seq + 1 WHERE lane = ? RETURNING last_seq AS seq'),
      insertOutbox: db.prepare('INSERT INTO outbox (lane, seq, id, kind, ts, body) VALUES (?, ?, ?, ?, ?, ?)'),
      peek: db.prepare('SELECT lane, seq, id, kind, ts, body FROM outbox WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?'),
      peekSized: db.prepare('SELECT lane, seq, id, kind, ts, length(body) AS size FROM outbox WHERE lane = ? AND seq > ? ORDER BY seq LIMIT ?'),
      itemBody: db.prepare('SELECT body FROM outbox WHERE lane = ? AND seq = ?'),
      ack: db.prepare('UPDATE lanes SET acked_seq = ? WHERE lane = ? AND acked_seq < ?'),
      deleteAcked: db.prepare('DELETE FROM outbox WHERE lane = ? AND seq <= ?'),
      backlog: db.prepare('SELECT COUNT(*) AS n, MIN(ts) AS oldest FROM outbox WHERE lane = ? AND seq > ?'),
      getKv: db.prepare('SELECT value FROM kv WHERE key = ?'),
      setKv: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      insertAudit: db.prepare('INSERT INTO audit (id, ts, actor, action, target, detail, result) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      auditSince: db.prepare('SELECT id, ts, actor, action, target, detail, result FROM audit WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?'),
    };
  }

  /** The integer id of a point, created on first sight (cached). */
  private idOf(point: string, device: string): number {
    let id = this.ids.get(point);
    if (id === undefined) {
      id = (this.stmts.pointId.get(point) as { id: number } | undefined)?.id ?? (this.stmts.addPoint.get(point, device) as { id: number }).id;
      // The raw sample blocks' key has room for 2^24 point ids (sample-blocks.ts blockKey).
      if (id >= MAX_POINT_ID) throw new GatewayError('GW_ERR_STORE_IO', `gateway database: more than ${MAX_POINT_ID - 1} points`);
      this.ids.set(point, id);
      this.latestValues.named(id, point, device);
    }
    return id;
  }

  /** The id of the point of slot `slot` (`point` its id string), remembered by slot. */
  private slotIdOf(slot: number, point: string, device: string): number {
    const id = this.idOf(point, device);
    if (slot >= this.idBySlot.length) {
      const grown = new Int32Array(Math.max(slot + 1, this.idBySlot.length * 2, 1024));
      grown.set(this.idBySlot);
      this.idBySlot = grown;
    }
    this.idBySlot[slot] = id;
    return id;
  }

  /**
   * Stores readings in one transaction: a raw sample of each, appended to the log as one
   * row (`sample_batches`) (and to the in-memory tail that trend queries read until the
   * minute is packed); once committed, the latest value of each point (only moving forward
   * in time) in memory — every `latestSaveIntervalMs` the transaction first writes those
   * changed since the last write to the `latest` table. One call per poll cycle — or,
   * through main.ts' write buffer, per flush of many devices' cycles.
   */
  writeBatch(batch: readonly { readonly device: string; readonly readings: readonly Reading[]; readonly slots?: readonly number[] }[]): void {
    let n = 0;
    const firstId = this.nextLogId;
    const now = Date.now();
    const outer = this.db.inTransaction;
    // Every syncIntervalMs one flush commits with synchronous=FULL (docs/operations.md "Durability").
    const sync = !outer && now - this.lastSync >= this.syncIntervalMs;
    // Every latestSaveIntervalMs (or LATEST_LOG_PER_POINT) a round of writing the latest values changed so far (as
    // they are before this flush: they reflect the log up to firstId - 1), a bounded
    // number of rows per flush; the mark moves when the round's last rows commit.
    const latestValues = this.latestValues;
    const due = now - this.lastLatestSave >= this.latestSaveIntervalMs || firstId - 1 - this.latestThrough >= LATEST_LOG_PER_POINT * this.ids.size;
    if (!outer && this.latestRound === undefined && due && (latestValues.unsavedCount > 0 || this.latestThrough < firstId - 1)) {
      latestValues.startRound();
      this.latestRound = { through: firstId - 1 };
    }
    const round = outer ? undefined : this.latestRound;
    const step = round === undefined ? undefined : latestValues.roundRows(this.latestRowsPerFlush);
    const roundDone = step !== undefined && step.n >= latestValues.roundLeft;
    let total = 0;
    for (const b of batch) total += b.readings.length;
    if (this.flushIds.length < total) this.flushIds = new Int32Array(Math.max(total, this.flushIds.length * 2));
    const ids = this.flushIds;
    if (sync) this.db.pragma('synchronous = FULL');
    try {
      this.db.transaction(() => {
        if (step !== undefined) {
          runRows(this.stmts.upsertLatest, step.rows, LATEST_WIDTH);
          if (roundDone) this.setState('latest.through', String(round!.through));
        }
        const log = new BatchBuilder(total);
        for (const { device, readings, slots } of batch) {
          for (let j = 0; j < readings.length; j++) {
            const r = readings[j]!;
            let point: number;
            if (slots === undefined) point = this.idOf(r.point, device);
            else {
              // By the reading's process-wide slot (core/model.ts `pointSlot`): an array, not the Map of ids.
              const s = slots[j]!;
              point = s < this.idBySlot.length ? this.idBySlot[s]! : 0;
              if (point === 0) point = this.slotIdOf(s, r.point, device);
            }
            ids[n] = point;
            const value = r.value;
            const num = typeof value === 'number' ? value : typeof value === 'boolean' ? (value ? 1 : 0) : null;
            const txt = typeof value === 'string' ? value : null;
            const q = QUALITY_CODE[r.quality];
            const id = this.nextLogId++;
            log.add(point, r.ts, num, txt, q, typeof value === 'boolean');
            this.tail.push(id, point, r.ts, num, txt, q);
            n++;
          }
        }
        if (log.n > 0) this.stmts.insertBatch.run(firstId, this.nextLogId - 1, log.bytes());
      })();
      if (sync) this.lastSync = Date.now();
      if (step !== undefined) {
        latestValues.roundWritten(step.n);
        if (roundDone) {
          this.latestRound = undefined;
          this.latestThrough = round!.through;
          this.lastLatestSave = now;
        }
      }
    } catch (cause) {
      // The transaction rolled back: ids created in it are gone too, and so are its samples.
      this.ids.clear();
      this.idBySlot.fill(0);
      this.nextLogId = firstId;
      this.tail.dropFrom(firstId);
      throw storeError(cause, `storing ${n} readings`);
    } finally {
      if (sync) this.db.pragma('synchronous = NORMAL');
    }
    // Committed: the latest values (in memory).
    let k = 0;
    for (const { readings } of batch) {
      for (const r of readings) latestValues.set(ids[k++]!, latestValue(r.value), r.quality, r.ts);
    }
  }

  /** Stores one device's readings (one transaction). */
  writeReadings(device: string, readings: readonly Reading[]): void {
    if (readings.length > 0) this.writeBatch([{ device, readings }]);
  }

  /**
   * Raw samples of a point in [from, to), oldest first (at most `limit`): the packed
   * minutes (one block lookup per minute), then the samples not packed yet (the in-memory
   * tail), and on an upgraded gateway the rows of the schema-4 samples table still there.
   */
  samples(point: string, from: number, to: number, limit = 10_000): RawSample[] {
    const id = this.ids.get(point) ?? (this.stmts.pointId.get(point) as { id: number } | undefined)?.id;
    if (id === undefined || !(from < to) || limit <= 0) return [];
    const out: RawSample[] = [];
    if (this.legacySamples) {
      for (const r of this.stmts.samplesOf.all(id, from, to, limit) as { ts: number; num: number | null; txt: string | null; quality: number }[]) {
        out.push({ ts: r.ts, value: r.txt ?? r.num, quality: QUALITY_NAME[r.quality] ?? 'bad' });
      }
    }
    const bounds = this.stmts.blockBounds.get() as { first: number | null; last: number | null };
    if (bounds.first !== null && bounds.last !== null) {
      // Minutes that overlap [from, to), within those that have blocks at all.
      const firstMinute = Math.max(Math.floor(from / MINUTE), Math.floor(bounds.first / MAX_POINT_ID));
      const lastMinute = Math.min(Math.ceil(to / MINUTE) - 1, Math.floor(bounds.last / MAX_POINT_ID));
      if (firstMinute <= lastMinute) {
        let fromBlocks = 0;
        for (const [minute, data] of this.stmts.blocksOf.all(blockKey(firstMinute * MINUTE, id), blockKey(lastMinute * MINUTE, id)) as [number, Buffer][]) {
          fromBlocks += decodeBlock(minute, data, from, to, out);
          // Later blocks hold later minutes only: enough for the first `limit` (see below).
          if (fromBlocks >= limit) break;
        }
      }
    }
    this.tail.collect(id, from, to, out);
    if (this.tail.end < this.lastLogId) {
      this.scanAfterTail((_, point, ts, num, txt, q) => {
        if (point === id && ts >= from && ts < to) out.push({ ts, value: txt ?? num, quality: QUALITY_NAME[q] ?? 'bad' });
      });
    }
    // Mostly in order already (log order is time order); late samples and an upgraded
    // gateway's old rows may not be. The sort is stable: equal times stay in log order.
    let sorted = true;
    for (let i = 1; i < out.length && sorted; i++) sorted = out[i - 1]!.ts <= out[i]!.ts;
    if (!sorted) out.sort((a, b) => a.ts - b.ts);
    if (out.length > limit) out.length = limit;
    return out;
  }

  /** 1-minute roll-ups of a point with `minute` in [from, to), oldest first. */
  rollups(point: string, from: number, to: number, limit = 10_000): { minute: number; min: number; max: number; avg: number; count: number; last: number }[] {
    const id = this.ids.get(point) ?? (this.stmts.pointId.get(point) as { id: number } | undefined)?.id;
    if (id === undefined) return [];
    if (!(from < to) || limit <= 0) return [];
    const bounds = this.stmts.rollupBounds.get() as { first: number | null; last: number | null };
    if (bounds.first === null || bounds.last === null) return [];
    // Minutes starting in [from, to), within those that have roll-ups at all.
    const firstMinute = Math.max(Math.ceil(from / MINUTE), Math.floor(bounds.first / MAX_POINT_ID));
    const lastMinute = Math.min(Math.ceil(to / MINUTE) - 1, Math.floor(bounds.last / MAX_POINT_ID));
    if (firstMinute > lastMinute) return [];
    const rows = this.stmts.rollupsOf.all(blockKey(firstMinute * MINUTE, id), blockKey(lastMinute * MINUTE, id), limit) as { minute: number; min: number; max: number; sum: number; count: number; last: number }[];
    return rows.map((r) => ({ minute: r.minute, min: r.min, max: r.max, avg: r.sum / r.count, count: r.count, last: r.last }));
  }

  /** Latest values (of `device`), by point name: from memory, as of the last flush. */
  latest(device?: string): LatestRow[] {
    return this.latestValues.rows(device);
  }

  /** Raw samples held: packed, not packed yet, and an upgraded gateway's old rows. */
  sampleCount(): number {
    const packed = Number(this.getState('samples.packed') ?? 0);
    // Not packed yet: the tail, and the log after it.
    let log = this.tail.size;
    if (this.tail.end < this.lastLogId) this.scanAfterTail(() => log++);
    const legacy = this.legacySamples ? (this.stmts.countLegacy.get() as { n: number }).n : 0;
    return packed + log + legacy;
  }

  // ── For the maintenance loop (maintenance.ts): the log's progress marks ──

  /** Id of the last raw sample written (0 when none ever). */
  get lastLogId(): number {
    return this.nextLogId - 1;
  }

  /** Packing progress: see `pack`. */
  get packState(): { readonly watermark: number; readonly boundary: number; readonly point: number } {
    return this.pack;
  }

  /**
   * Records packing progress in kv; call it inside the transaction that wrote what it
   * says, and `packCommitted` once that transaction has committed.
   */
  writePackState(state: { watermark: number; boundary: number; point: number }): void {
    this.setState('pack.watermark', String(state.watermark));
    this.setState('pack.boundary', String(state.boundary));
    this.setState('pack.point', String(state.point));
  }

  packCommitted(state: { watermark: number; boundary: number; point: number }): void {
    this.pack = { ...state };
  }

  /** The in-memory rows not packed yet (for the maintenance loop, which packs from them). */
  get rawTail(): SampleTail {
    return this.tail;
  }

  /** Whether the samples table of schema 1-4 still holds rows. */
  get hasLegacySamples(): boolean {
    return this.legacySamples;
  }

  refreshLegacySamples(): void {
    this.legacySamples = (this.stmts.anyLegacySample.get() as { yes: number }).yes === 1;
  }

  /**
   * Runs `fn` in one transaction committed with `synchronous=FULL`: when it returns, the
   * change is in the fsynced WAL, so a power cut cannot take it back. For what must never
   * be lost once acknowledged — events (lanes 0 and 1), alarm transitions and their
   * acknowledgements, work-order operations. Telemetry stays on NORMAL: a power cut may
   * lose the last flush (docs/operations.md "Durability"). Called inside another
   * transaction it joins it, and the outer commit decides.
   */
  durably<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.db.pragma('synchronous = FULL');
    try {
      return this.db.transaction(fn)();
    } finally {
      this.db.pragma('synchronous = NORMAL');
    }
  }

  /**
   * Appends an outbox item; call it inside the transaction of the change it reports
   * (the transactional outbox). Returns the item.
   */
  appendOutbox(lane: Lane, kind: string, ts: number, body: Record<string, unknown>): OutboxItem {
    const { seq } = this.stmts.bumpLane.get(lane) as { seq: number };
    const item: OutboxItem = { lane, seq, id: uuidv7(), kind, ts, body };
    this.stmts.insertOutbox.run(lane, seq, item.id, kind, ts, JSON.stringify(body));
    return item;
  }

  /**
   * Records an event and its outbox item in one transaction (the transactional outbox):
   * `alarm.*` go to lane 0, everything else to lane 1.
   */
  recordEvent(event: Omit<GatewayEvent, 'id' | 'site'> & { id?: string }): GatewayEvent {
    const full: GatewayEvent = { ...event, id: event.id ?? uuidv7(event.ts), site: this.site };
    try {
      this.durably(() => {
        this.stmts.insertEvent.run(full.id, full.ts, full.device ?? null, full.type, full.severity, JSON.stringify(full.body));
        this.appendOutbox(laneOf('event', full.type), 'event', full.ts, { ...full });
      });
    } catch (cause) {
      throw storeError(cause, `recording event ${full.type}`);
    }
    for (const listener of this.eventListeners) listener(full);
    return full;
  }

  /**
   * Calls `listener` with every event once it is stored (the MQTT bus, the panel's live
   * stream, work-order rules). Called inside an outer transaction, the event is told when
   * recorded, before that transaction commits. A listener must not throw.
   */
  onEvent(listener: (event: GatewayEvent) => void): () => void {
    this.eventListeners.push(listener);
    return () => {
      const i = this.eventListeners.indexOf(listener);
      if (i >= 0) this.eventListeners.splice(i, 1);
    };
  }

  events(query: EventQuery = {}): GatewayEvent[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.type !== undefined) {
      // `alarm.*` or `alarm` match a whole family of types.
      const family = query.type.replace(/\.\*$/, '');
      where.push('(type = ? OR type LIKE ?)');
      args.push(query.type, `${family}.%`);
    }
    if (query.device !== undefined) {
      where.push('device = ?');
      args.push(query.device);
    }
    if (query.since !== undefined) {
      where.push('ts >= ?');
      args.push(query.since);
    }
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    const sql = `SELECT id, ts, device, type, severity, body FROM events ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY ts DESC, id DESC LIMIT ${limit}`;
    const rows = this.db.prepare(sql).all(...args) as { id: string; ts: number; device: string | null; type: string; severity: GatewayEvent['severity']; body: string }[];
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      site: this.site,
      ...(r.device === null ? {} : { device: r.device }),
      type: r.type,
      severity: r.severity,
      body: JSON.parse(r.body) as Record<string, unknown>,
    }));
  }

  /** Appends to the audit log. */
  audit(entry: Omit<AuditEntry, 'id'>): AuditEntry {
    const full: AuditEntry = { id: uuidv7(entry.ts), ...entry };
    try {
      this.stmts.insertAudit.run(full.id, full.ts, full.actor, full.action, full.target, JSON.stringify(full.detail), full.result);
    } catch (cause) {
      throw storeError(cause, `recording ${entry.action} in the audit log`);
    }
    return full;
  }

  auditLog(since = 0, limit = 100): AuditEntry[] {
    const rows = this.stmts.auditSince.all(since, Math.min(Math.max(limit, 1), 1000)) as (Omit<AuditEntry, 'detail'> & { detail: string })[];
    return rows.map((r) => ({ ...r, detail: JSON.parse(r.detail) as Record<string, unknown> }));
  }

  /**
   * Queues the latest value of every point changed since the last snapshot as
   * `telemetry.latest` items in lane 2, and clears the change marks — one transaction,
   * which also writes the latest values to the `latest` table. Returns how many readings
   * were queued.
   */
  queueTelemetrySnapshot(now: number = Date.now()): number {
    const ids = this.latestValues.changedIds();
    if (ids.length === 0) return 0;
    const through = this.lastLogId;
    try {
      this.db.transaction(() => {
        this.writeLatestRows(through);
        for (let i = 0; i < ids.length; i += this.snapshotChunk) {
          const readings: WireReading[] = ids.slice(i, i + this.snapshotChunk).map((id) => {
            const r = this.latestValues.row(id);
            return { id: r.point, v: r.value, ts: r.ts, q: r.quality };
          });
          this.appendOutbox(2, 'telemetry.latest', now, { readings });
        }
        this.stmts.clearDirty.run();
      })();
    } catch (cause) {
      throw storeError(cause, 'queueing a telemetry snapshot');
    }
    this.latestSaved(through, Date.now());
    this.latestValues.snapshotted(ids);
    return ids.length;
  }

  /** Unacknowledged items of a lane, oldest first. */
  /**
   * Unacknowledged items of a lane, oldest first, up to `limit` items and `budget` bytes of
   * body (+200 each for the envelope). Rows past the budget are not read, let alone
   * parsed; `full` says the budget stopped it. With `firstAlways`, one item is taken even
   * if it alone exceeds the budget (so a big item still moves).
   */
  peekBudget(lane: Lane, limit: number, budget: number, firstAlways: boolean): { items: OutboxItem[]; bytes: number; full: boolean } {
    const raw = this.peekRaw(lane, this.lane(lane).ackedSeq, limit, budget, firstAlways);
    return { ...raw, items: raw.items.map(({ body, ...r }) => ({ ...r, body: JSON.parse(body) as Record<string, unknown> })) };
  }

  /**
   * Like `peekBudget` but from any sequence and with each body as the JSON text stored:
   * the uplink writes it into the batch as it is, without parsing and serialising again.
   */
  peekRaw(lane: Lane, afterSeq: number, limit: number, budget: number, firstAlways: boolean): { items: RawOutboxItem[]; bytes: number; full: boolean } {
    const items: RawOutboxItem[] = [];
    let bytes = 0;
    for (const r of this.stmts.peekSized.iterate(lane, afterSeq, limit) as IterableIterator<{ lane: Lane; seq: number; id: string; kind: string; ts: number; size: number }>) {
      const size = r.size + 200;
      if (bytes + size > budget && !(firstAlways && items.length === 0)) return { items, bytes, full: true };
      const { body } = this.stmts.itemBody.get(lane, r.seq) as { body: string };
      items.push({ lane: r.lane, seq: r.seq, id: r.id, kind: r.kind, ts: r.ts, body });
      bytes += size;
    }
    return { items, bytes, full: false };
  }

  peek(lane: Lane, limit: number): OutboxItem[] {
    const { ackedSeq } = this.lane(lane);
    const rows = this.stmts.peek.all(lane, ackedSeq, limit) as { lane: Lane; seq: number; id: string; kind: string; ts: number; body: string }[];
    return rows.map((r) => ({ ...r, body: JSON.parse(r.body) as Record<string, unknown> }));
  }

  /**
   * Records the cloud's acknowledgement of a lane up to `seq` and drops the acknowledged
   * items from the outbox: nothing leaves it before this (CONVENTIONS §10).
   */
  ack(lane: Lane, seq: number): void {
    const { lastSeq } = this.lane(lane);
    const upTo = Math.min(seq, lastSeq);
    this.db.transaction(() => {
      this.stmts.ack.run(upTo, lane, upTo);
      this.stmts.deleteAcked.run(lane, upTo);
    })();
  }

  /**
   * Re-numbers the unacknowledged items of a lane so that they follow `cloudAcked`, the
   * cloud's mark: for a gateway whose database was replaced while the cloud kept its
   * history (its numbers would be taken for replays), or a cloud that lost items it had
   * acknowledged. Order and content are kept. Returns the shift applied.
   */
  renumberLane(lane: Lane, cloudAcked: number): number {
    const delta = cloudAcked - this.lane(lane).ackedSeq;
    if (delta === 0) return 0;
    this.db.transaction(() => {
      // Through negative numbers, so that no two items hold the same (lane, seq) midway.
      this.db.prepare('UPDATE outbox SET seq = -(seq + ?) WHERE lane = ?').run(delta, lane);
      this.db.prepare('UPDATE outbox SET seq = -seq WHERE lane = ? AND seq < 0').run(lane);
      this.db.prepare('UPDATE lanes SET last_seq = last_seq + ?, acked_seq = ? WHERE lane = ?').run(delta, cloudAcked, lane);
    })();
    return delta;
  }

  /** Replaces an unsent item by a `telemetry.evicted` stub (same lane and sequence). True when it did. */
  evictItem(lane: Lane, seq: number): boolean {
    const { ackedSeq } = this.lane(lane);
    if (seq <= ackedSeq) return false;
    return this.db.prepare("UPDATE outbox SET kind = 'telemetry.evicted', body = json_object('evicted', kind) WHERE lane = ? AND seq = ? AND kind != 'telemetry.evicted'").run(lane, seq).changes === 1;
  }

  lane(lane: Lane): { lastSeq: number; ackedSeq: number } {
    return this.stmts.laneRow.get(lane) as { lastSeq: number; ackedSeq: number };
  }

  laneStatus(lane: Lane, now: number = Date.now()): LaneStatus {
    const { lastSeq, ackedSeq } = this.lane(lane);
    const { n, oldest } = this.stmts.backlog.get(lane, ackedSeq) as { n: number; oldest: number | null };
    return { lastSeq, ackedSeq, backlog: n, oldestMs: oldest === null ? 0 : Math.max(0, now - oldest) };
  }

  getState(key: string): string | undefined {
    return (this.stmts.getKv.get(key) as { value: string } | undefined)?.value;
  }

  setState(key: string, value: string): void {
    this.stmts.setKv.run(key, value);
  }

  /** Writes the latest values, checkpoints the WAL and closes the database. Idempotent. */
  close(): void {
    if (!this.db.open) return;
    try {
      // A failure here (a full disk) loses nothing: they are replayed from the log on open.
      try {
        this.saveLatest();
      } catch {
        // closed anyway
      }
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}
