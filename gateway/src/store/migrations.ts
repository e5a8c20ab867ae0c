/**
 * Schema migrations of the gateway database, applied in order at open; the applied
 * version is SQLite's `user_version`. Append new steps; never edit a released one.
 */
import type Database from 'better-sqlite3';
import { BatchBuilder, MAX_POINT_ID, MINUTE } from './sample-blocks.js';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** Data to move that SQL cannot: run after `sql`, in the same transaction. */
  readonly run?: (db: Database.Database) => void;
}

/** Most samples in one `sample_batches` row made from `sample_log` rows (migration 6). */
const BATCH_ROWS = 10_000;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, events, outbox',
    sql: `
      -- Every point gets a small integer id: samples and roll-ups are keyed by it.
      CREATE TABLE points (
        id     INTEGER PRIMARY KEY,
        name   TEXT NOT NULL UNIQUE,       -- deviceId.pointName
        device TEXT NOT NULL
      );
      CREATE INDEX points_device ON points(device);

      -- Latest value of every point; dirty = changed since the last telemetry snapshot for the cloud.
      CREATE TABLE latest (
        point   INTEGER PRIMARY KEY REFERENCES points(id),
        value   TEXT,                      -- JSON: number | boolean | string | null
        quality TEXT NOT NULL,             -- good | bad | stale
        ts      INTEGER NOT NULL,          -- ms epoch of the reading
        dirty   INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX latest_dirty ON latest(dirty) WHERE dirty = 1;

      -- Raw samples, kept rawRetentionDays, appended in (roughly) time order: rowid order is
      -- time order, which the roll-up and retention jobs use to work in bounded chunks.
      -- Numbers in num, strings in txt, booleans as 0/1 in num.
      CREATE TABLE samples (
        point   INTEGER NOT NULL,
        ts      INTEGER NOT NULL,
        num     REAL,
        txt     TEXT,
        quality INTEGER NOT NULL           -- 0 good, 1 bad, 2 stale
      );
      CREATE INDEX samples_point_ts ON samples(point, ts);

      -- 1-minute roll-ups of numeric (and boolean) samples of good quality.
      CREATE TABLE rollups (
        point   INTEGER NOT NULL,
        minute  INTEGER NOT NULL,          -- ms epoch of the minute's start
        min     REAL NOT NULL,
        max     REAL NOT NULL,
        sum     REAL NOT NULL,
        count   INTEGER NOT NULL,
        last    REAL NOT NULL,
        last_ts INTEGER NOT NULL,
        PRIMARY KEY (point, minute)
      ) WITHOUT ROWID;
      CREATE INDEX rollups_minute ON rollups(minute);

      CREATE TABLE events (
        id       TEXT PRIMARY KEY,         -- UUIDv7
        ts       INTEGER NOT NULL,
        device   TEXT,
        type     TEXT NOT NULL,
        severity TEXT NOT NULL,
        body     TEXT NOT NULL             -- JSON
      ) WITHOUT ROWID;
      CREATE INDEX events_ts ON events(ts);
      CREATE INDEX events_type_ts ON events(type, ts);

      -- The transactional outbox (DESIGN.md "Sync"): append → peek → ack, per lane.
      CREATE TABLE outbox (
        lane INTEGER NOT NULL,
        seq  INTEGER NOT NULL,
        id   TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        ts   INTEGER NOT NULL,
        body TEXT NOT NULL,                -- JSON
        PRIMARY KEY (lane, seq)
      ) WITHOUT ROWID;

      CREATE TABLE lanes (
        lane      INTEGER PRIMARY KEY,
        last_seq  INTEGER NOT NULL,        -- highest seq appended
        acked_seq INTEGER NOT NULL         -- highest seq the cloud acknowledged
      );
      INSERT INTO lanes (lane, last_seq, acked_seq) VALUES (0, 0, 0), (1, 0, 0), (2, 0, 0);

      -- Small durable state (sync status, clock offset, …).
      CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'audit log',
    sql: `
      -- Who did what, when, with what result (writes to points; later config and acks).
      CREATE TABLE audit (
        id     TEXT PRIMARY KEY,           -- UUIDv7
        ts     INTEGER NOT NULL,
        actor  TEXT NOT NULL,              -- user name, or 'mqtt:<client>', 'flow:<node>', 'system'
        action TEXT NOT NULL,              -- e.g. point.write
        target TEXT NOT NULL,              -- e.g. pump-1.pressure_setpoint
        detail TEXT NOT NULL,              -- JSON: old, new, …
        result TEXT NOT NULL               -- ok | refused | failed
      ) WITHOUT ROWID;
      CREATE INDEX audit_ts ON audit(ts);
    `,
  },
  {
    version: 3,
    name: 'work orders',
    sql: `
      -- Work orders as this gateway sees them: the projection of their operations
      -- (protocol/work-orders.ts applyOp), confirmed ones in the cloud's order, then the
      -- ones not yet confirmed in the order they were made here.
      CREATE TABLE work_orders (
        id         TEXT PRIMARY KEY,       -- UUIDv7
        status     TEXT NOT NULL,
        priority   TEXT NOT NULL,          -- P1..P4
        device     TEXT,
        alarm      TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        state      TEXT NOT NULL,          -- JSON WorkOrder
        pending    INTEGER NOT NULL DEFAULT 0,  -- operations the cloud has not confirmed yet
        rejected   INTEGER NOT NULL DEFAULT 0   -- operations the cloud refused
      ) WITHOUT ROWID;
      CREATE INDEX work_orders_status ON work_orders(status, priority, created_at);
      CREATE INDEX work_orders_alarm ON work_orders(alarm) WHERE alarm IS NOT NULL;

      CREATE TABLE work_order_ops (
        n          INTEGER PRIMARY KEY,    -- local arrival order
        id         TEXT NOT NULL UNIQUE,   -- UUIDv7 of the operation
        work_order TEXT NOT NULL,
        op         TEXT NOT NULL,
        actor      TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        data       TEXT NOT NULL,          -- JSON
        origin     TEXT NOT NULL,          -- edge | cloud
        sync       TEXT NOT NULL,          -- local (no cloud) | pending | confirmed | rejected
        cloud_seq  INTEGER,                -- its place in the cloud's change feed, once confirmed
        reason     TEXT                    -- why the cloud refused it
      );
      CREATE INDEX work_order_ops_wo ON work_order_ops(work_order, n);
    `,
  },
  // Version 3 is the work orders' (their migration may land after this one in git: the array keeps version order).
  {
    version: 4,
    name: 'alarms',
    sql: `
      -- One row per alarm, i.e. per (source, rule) (DESIGN.md "Data model"): its ISA-18.2
      -- state now. A source is a device id, or the name an external raiser (a Node-RED flow) gives.
      CREATE TABLE alarms (
        id             TEXT PRIMARY KEY,   -- <source>:<rule>
        source         TEXT NOT NULL,
        rule           TEXT NOT NULL,
        device         TEXT,               -- the device, when the source is one
        system         TEXT,
        point          TEXT,
        kind           TEXT NOT NULL,      -- high | low | state | rate | stale | event | comm | external
        severity       TEXT NOT NULL,
        priority       TEXT NOT NULL,      -- P1..P4
        message        TEXT NOT NULL,
        occurrence     TEXT,               -- UUIDv7 of the current raise-to-normal cycle
        state          TEXT NOT NULL,      -- normal | unack_active | ack_active | unack_rtn
        value          TEXT,               -- JSON: the value that raised it
        raised_at      INTEGER,
        cleared_at     INTEGER,
        acked_at       INTEGER,
        acked_by       TEXT,
        ack_note       TEXT,
        shelved_until  INTEGER,            -- ms epoch; NULL when not shelved
        shelved_by     TEXT,
        shelve_note    TEXT,
        out_of_service INTEGER NOT NULL DEFAULT 0,
        suppressed     INTEGER NOT NULL DEFAULT 0,  -- a flood consequence: not annunciated
        group_id       TEXT,               -- occurrence of the group's root (its own when it is one)
        root_id        TEXT,               -- id of the root alarm, NULL for a root
        updated_at     INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX alarms_state ON alarms(state) WHERE state != 'normal';

      -- Every transition, for the history (the same transitions are events in lane 0 of the outbox).
      CREATE TABLE alarm_history (
        seq        INTEGER PRIMARY KEY,    -- local order; the history's cursor
        event      TEXT NOT NULL UNIQUE,   -- id of the alarm.* event
        ts         INTEGER NOT NULL,
        alarm      TEXT NOT NULL,
        occurrence TEXT,
        type       TEXT NOT NULL,          -- alarm.raised | alarm.acked | alarm.cleared | …
        device     TEXT,
        system     TEXT,
        severity   TEXT NOT NULL,
        priority   TEXT NOT NULL,
        state      TEXT NOT NULL,          -- the state after the transition
        actor      TEXT,
        note       TEXT,
        body       TEXT NOT NULL           -- JSON: the event's body
      );
      CREATE INDEX alarm_history_ts ON alarm_history(ts);
      CREATE INDEX alarm_history_alarm ON alarm_history(alarm, seq);
    `,
  },
  {
    version: 5,
    name: 'raw samples: an unindexed log, packed per point and minute',
    sql: `
      -- Raw samples as the poll path writes them (issue 4's store benchmark): appended, with
      -- no index, so a flush of thousands of points writes at the end of one b-tree. Ids are
      -- given by the store, dense and increasing (log order). The maintenance loop packs
      -- every complete minute into sample_blocks and then deletes the packed rows; until
      -- then the store also holds them in memory by point, for trend queries.
      CREATE TABLE sample_log (
        id      INTEGER PRIMARY KEY,
        point   INTEGER NOT NULL,
        ts      INTEGER NOT NULL,
        num     REAL,
        txt     TEXT,
        quality INTEGER NOT NULL           -- 0 good, 1 bad, 2 stale
      );

      -- One point's raw samples of one minute (gateway/src/store/sample-blocks.ts encodes
      -- them). id = minute / 60000 * 2^24 + point: in time order, one lookup per point and
      -- minute, and retention or eviction deletes a range from the start.
      CREATE TABLE sample_blocks (
        id     INTEGER PRIMARY KEY,
        point  INTEGER NOT NULL,
        minute INTEGER NOT NULL,           -- ms epoch of the minute's start
        n      INTEGER NOT NULL,           -- samples in data
        data   BLOB NOT NULL
      );

      -- The samples table of versions 1-4 keeps the rows it holds, read through its (point, ts)
      -- index as before, until retention or the size budget has emptied it; nothing new is
      -- written to it. Its roll-up watermark stays 'rollup.watermark'; the log's is 'pack.watermark'.
    `,
  },
  {
    version: 6,
    name: 'raw samples: the log as one row per flush',
    sql: `
      -- The log of raw samples not packed yet, one row per flush (a b-tree insert per flush, not
      -- per sample): the samples' ids are id..last, in order; data holds for each its point id
      -- and value (gateway/src/store/sample-blocks.ts BatchBuilder). Replaces sample_log, whose
      -- rows are moved here (run) and which is then dropped.
      CREATE TABLE sample_batches (
        id   INTEGER PRIMARY KEY,          -- id of the first sample
        last INTEGER NOT NULL,             -- id of the last sample
        data BLOB NOT NULL
      );
    `,
    run: (db) => {
      const insert = db.prepare('INSERT INTO sample_batches (id, last, data) VALUES (?, ?, ?)');
      let batch: BatchBuilder | undefined;
      let first = 0;
      let last = 0;
      const flush = () => {
        if (batch !== undefined && batch.n > 0) insert.run(first, last, batch.bytes());
        batch = undefined;
      };
      // A page at a time (no insert while a query iterates on this connection).
      const page = db.prepare('SELECT id, point, ts, num, txt, quality FROM sample_log WHERE id > ? ORDER BY id LIMIT ?').raw();
      for (let after = -Infinity; ; ) {
        const rows = page.all(after, BATCH_ROWS) as [number, number, number, number | null, string | null, number][];
        if (rows.length === 0) break;
        for (const [id, point, ts, num, txt, quality] of rows) {
          // A batch holds consecutive ids only.
          if (batch !== undefined && (id !== last + 1 || batch.n >= BATCH_ROWS)) flush();
          if (batch === undefined) {
            batch = new BatchBuilder();
            first = id;
          }
          batch.add(point, ts, num, txt, quality);
          last = id;
          after = id;
        }
      }
      flush();
      db.exec('DROP TABLE sample_log');
    },
  },
  {
    version: 7,
    name: 'roll-ups keyed by minute and point',
    sql: `
      -- 1-minute roll-ups, keyed as the sample blocks are (id = minute / 60000 * 2^24 + point,
      -- sample-blocks.ts blockKey): a minute's 10,000 roll-ups are appended together at the
      -- end of one b-tree, where rollups (PRIMARY KEY (point, minute), and an index on
      -- minute) put each in another leaf of a table that grows all year — once it outgrew
      -- the page cache, a read and a page written per roll-up (issue 3: 5 -> 35 us of
      -- packing per point and minute after 3 hours). A point's minutes are one rowid lookup
      -- each. The rows of rollups are moved here, in key order.
      CREATE TABLE rollup_minutes (
        id      INTEGER PRIMARY KEY,
        min     REAL NOT NULL,
        max     REAL NOT NULL,
        sum     REAL NOT NULL,
        count   INTEGER NOT NULL,
        last    REAL NOT NULL,
        last_ts INTEGER NOT NULL
      );
      INSERT INTO rollup_minutes (id, min, max, sum, count, last, last_ts)
        SELECT minute / ${MINUTE} * ${MAX_POINT_ID} + point, min, max, sum, count, last, last_ts FROM rollups ORDER BY 1;
      DROP TABLE rollups;
      -- What rollups was, for reading and for tools that write roll-ups directly (scripts/bench/drain.ts).
      CREATE VIEW rollups AS
        SELECT id % ${MAX_POINT_ID} AS point, id / ${MAX_POINT_ID} * ${MINUTE} AS minute, min, max, sum, count, last, last_ts FROM rollup_minutes;
      CREATE TRIGGER rollups_insert INSTEAD OF INSERT ON rollups BEGIN
        INSERT INTO rollup_minutes (id, min, max, sum, count, last, last_ts)
          VALUES (NEW.minute / ${MINUTE} * ${MAX_POINT_ID} + NEW.point, NEW.min, NEW.max, NEW.sum, NEW.count, NEW.last, NEW.last_ts);
      END;
    `,
  },
];
