/**
 * Opening the cloud database: SQLite (a file path or `:memory:`, the embedded default) or
 * PostgreSQL (a `postgres://` URL, the production store), both behind one Kysely instance,
 * migrated to the current schema.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type SqliteDatabase } from 'kysely';
import pg from 'pg';
import { CloudError } from '../plugins/errors.js';
import { migrationProvider, type Dialect } from './migrations.js';
import type { CloudSchema } from './schema.js';

export type { Dialect } from './migrations.js';

/** An open cloud database. */
export interface CloudDatabase {
  readonly db: Kysely<CloudSchema>;
  readonly dialect: Dialect;
  /** Where the data lives, safe to log (a PostgreSQL password is masked). */
  readonly location: string;
  /**
   * SQLite only: the connection under Kysely, for the few hot statements that run prepared
   * (db/rollups.ts). Use it only inside a Kysely transaction: Kysely runs one at a time on
   * this same connection, so the statement joins that transaction.
   */
  readonly sqlite?: Sqlite.Database;
  /** PostgreSQL with `?schema=NAME`: the schema, also where the migrator keeps its own tables. */
  readonly schema?: string;
  /** Closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** True for a `postgres://` or `postgresql://` URL. */
export function isPostgresUrl(database: string): boolean {
  return /^postgres(ql)?:\/\//i.test(database);
}

/**
 * PostgreSQL returns `bigint` (int8: our ms timestamps, sequences and counts) as strings,
 * because int8 can exceed 2^53. Ours never do (ms epochs reach 2^53 in the year 287396),
 * so parse them as numbers — per pool, not by mutating pg's global parsers.
 */
const INT8_OID = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** A database opened but not yet prepared: `prepare` runs before the migrations. */
interface Opened {
  cdb: CloudDatabase;
  prepare(): Promise<void>;
}

function openPostgres(url: string): Opened {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', 'the --database PostgreSQL URL cannot be parsed', { cause });
  }
  // `?schema=NAME` (ours, not libpq's) puts the cloud's tables in their own schema: several
  // clouds, or test runs, can share one database without colliding.
  const schema = parsed.searchParams.get('schema');
  parsed.searchParams.delete('schema');
  if (schema !== null && !SCHEMA_NAME.test(schema)) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', `the database URL's schema "${schema}" must match ${SCHEMA_NAME.source}`);
  }
  const masked = new URL(parsed.toString());
  if (masked.password !== '') masked.password = '***';

  const pool = new pg.Pool({
    connectionString: parsed.toString(),
    types: pgTypes,
    max: 10,
    ...(schema === null ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle client losing its connection must not crash the process; the next query fails instead.
  pool.on('error', () => undefined);
  const db = new Kysely<CloudSchema>({ dialect: new PostgresDialect({ pool }) });
  let closed = false;
  const cdb: CloudDatabase = {
    db,
    dialect: 'postgres',
    location: masked.toString() + (schema === null ? '' : ` (schema ${schema})`),
    ...(schema === null ? {} : { schema }),
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
  return {
    cdb,
    async prepare() {
      if (schema === null) return;
      try {
        await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
      } catch (err) {
        // Two instances starting at once both pass "if not exists"; the loser hits the catalog's
        // unique index (23505) or duplicate_schema (42P06). The schema exists: that is all we need.
        const code = (err as { code?: unknown }).code;
        if (code !== '23505' && code !== '42P06') throw err;
      }
    },
  };
}

/** Statements kept prepared (by SQL text); past this many distinct ones the cache starts again. */
const STATEMENT_CACHE = 512;

/**
 * Kysely's SQLite driver prepares every query it runs (≈ 7 % of the cloud's CPU under the
 * cloud-load workload, in a profile). The same few hundred texts come back all the time:
 * keep them prepared. Safe because better-sqlite3 runs a statement to
 * completion before the next (the cloud never streams a query, which would hold one open).
 */
function withStatementCache(sqlite: Sqlite.Database): SqliteDatabase {
  const cache = new Map<string, Sqlite.Statement>();
  return {
    close: () => sqlite.close(),
    prepare(text: string) {
      let stmt = cache.get(text);
      if (stmt === undefined) {
        if (cache.size >= STATEMENT_CACHE) cache.clear();
        stmt = sqlite.prepare(text);
        cache.set(text, stmt);
      }
      return stmt as unknown as ReturnType<SqliteDatabase['prepare']>;
    },
  };
}

function openSqlite(path: string): Opened {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let sqlite: Sqlite.Database;
  try {
    sqlite = new Sqlite(path);
  } catch (cause) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', `cannot open the SQLite database ${path}: ${(cause as Error).message}`, { cause });
  }
  // WAL: readers do not block the writer. NORMAL is durable across process crashes (not
  // power loss of the last transactions) — the gateway keeps its outbox until acked, so a
  // lost ack only causes a replay, which changes nothing.
  if (path !== ':memory:') sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Roll-ups are indexed by (site, point, minute) but arrive a minute at a time: every
  // batch touches one index page per point. A 64 MiB page cache (default 2 MiB) keeps those
  // pages in memory; fewer, larger checkpoints (64 MiB of WAL, default 4 MiB) write each less often.
  sqlite.pragma('cache_size = -65536');
  sqlite.pragma('wal_autocheckpoint = 16384');
  const db = new Kysely<CloudSchema>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  let closed = false;
  const cdb: CloudDatabase = {
    db,
    dialect: 'sqlite',
    location: path,
    sqlite,
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
      if (sqlite.open) sqlite.close();
    },
  };
  return { cdb, prepare: async () => undefined };
}

/**
 * Opens the database named by `database` (a file path, `:memory:`, or `postgres://…`,
 * optionally with `?schema=NAME`) and migrates it to the current schema.
 */
export async function openCloudDatabase(database: string): Promise<CloudDatabase> {
  if (database.trim() === '') throw new CloudError('CS_ERR_CONFIG_INVALID', 'the database is empty: give a file path, :memory: or a postgres:// URL');
  const { cdb, prepare } = isPostgresUrl(database) ? openPostgres(database) : openSqlite(database);
  try {
    await prepare();
    await migrate(cdb);
  } catch (cause) {
    await cdb.close();
    if (cause instanceof CloudError) throw cause;
    throw new CloudError('CS_ERR_DB_UNAVAILABLE', `cannot open or migrate the database ${cdb.location}: ${(cause as Error).message}`, { cause });
  }
  return cdb;
}

/** Runs the pending migrations; throws if one fails (the failed one is rolled back where the dialect allows). */
export async function migrate(cdb: CloudDatabase): Promise<void> {
  // The schema named explicitly: Kysely looks for its migration tables in every schema
  // otherwise, and one left in another schema of the database makes it skip creating its own.
  const migrator = new Migrator({ db: cdb.db, provider: migrationProvider(cdb.dialect), ...(cdb.schema === undefined ? {} : { migrationTableSchema: cdb.schema }) });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}
