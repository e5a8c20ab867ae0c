/**
 * Schema migrations of the gateway database, applied in order at open; the applied
 * version is SQLite's `user_version`. Append new steps; never edit a released one.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, events, outbox',
    sql: `
      -- Latest value of every point; dirty = changed since the last telemetry snapshot for the cloud.
      CREATE TABLE latest (
        point   TEXT PRIMARY KEY,          -- deviceId.pointName
        device  TEXT NOT NULL,
        value   TEXT,                      -- JSON: number | boolean | string | null
        quality TEXT NOT NULL,             -- good | bad | stale
        ts      INTEGER NOT NULL,          -- ms epoch of the reading
        dirty   INTEGER NOT NULL DEFAULT 1
      ) WITHOUT ROWID;
      CREATE INDEX latest_device ON latest(device);
      CREATE INDEX latest_dirty ON latest(dirty) WHERE dirty = 1;

      -- Raw samples, kept rawRetentionDays. Numbers in num, strings in txt, booleans as 0/1 in num.
      CREATE TABLE samples (
        point   TEXT NOT NULL,
        ts      INTEGER NOT NULL,
        num     REAL,
        txt     TEXT,
        quality INTEGER NOT NULL           -- 0 good, 1 bad, 2 stale
      );
      CREATE INDEX samples_point_ts ON samples(point, ts);

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
];
