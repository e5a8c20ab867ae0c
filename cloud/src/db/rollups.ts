/**
 * Writing roll-up rows fast: the projector (sync/projector.ts) stores ~2.9 million of them
 * for a day's backlog of 2,000 points. Kysely's builder costs more than the insert itself
 * for rows this small (an AST node per value), so each dialect gets its cheapest form:
 * - SQLite: one prepared single-row INSERT run per row on the transaction's connection;
 * - PostgreSQL: one INSERT … SELECT FROM unnest() of column arrays per call (8 parameters
 *   whatever the row count, so no parameter limit and one round trip).
 * A roll-up already stored (a replayed minute) keeps its first value: ON CONFLICT DO NOTHING.
 */
import type Sqlite from 'better-sqlite3';
import { sql, type Transaction } from 'kysely';
import type { CloudDatabase } from './open.js';
import type { CloudSchema, RollupsTable } from './schema.js';

const INSERT_SQLITE =
  'INSERT INTO rollups (site_id, point_id, minute, min, max, avg, count, last) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (site_id, point_id, minute) DO NOTHING';

const prepared = new WeakMap<Sqlite.Database, Sqlite.Statement>();

/** PostgreSQL: rows per statement (arrays of this length; bounded so one statement stays a few MB). */
const PG_ROWS = 50_000;

/**
 * Inserts roll-up rows inside `trx` (a transaction of `cdb`); rows already stored are left
 * as they are. Rows arrive minute by minute (every point of a minute together) but the
 * key is (site, point, minute): inserted in key order, consecutive rows land on the same
 * index page instead of one page per point and minute (≈ 1.5× faster on SQLite measured on
 * a table of 600,000 rows).
 */
export async function insertRollups(trx: Transaction<CloudSchema>, cdb: CloudDatabase, unsorted: readonly RollupsTable[]): Promise<void> {
  if (unsorted.length === 0) return;
  const rows = [...unsorted].sort((a, b) => (a.site_id < b.site_id ? -1 : a.site_id > b.site_id ? 1 : a.point_id < b.point_id ? -1 : a.point_id > b.point_id ? 1 : a.minute - b.minute));
  if (cdb.dialect === 'sqlite' && cdb.sqlite !== undefined) {
    let stmt = prepared.get(cdb.sqlite);
    if (stmt === undefined) {
      stmt = cdb.sqlite.prepare(INSERT_SQLITE);
      prepared.set(cdb.sqlite, stmt);
    }
    for (const r of rows) stmt.run(r.site_id, r.point_id, r.minute, r.min, r.max, r.avg, r.count, r.last);
    return;
  }
  for (let i = 0; i < rows.length; i += PG_ROWS) {
    const part = rows.slice(i, i + PG_ROWS);
    await sql`
      insert into rollups (site_id, point_id, minute, min, max, avg, count, last)
      select * from unnest(
        ${part.map((r) => r.site_id)}::text[], ${part.map((r) => r.point_id)}::text[], ${part.map((r) => r.minute)}::bigint[],
        ${part.map((r) => r.min)}::float8[], ${part.map((r) => r.max)}::float8[], ${part.map((r) => r.avg)}::float8[],
        ${part.map((r) => r.count)}::integer[], ${part.map((r) => r.last)}::float8[])
      on conflict (site_id, point_id, minute) do nothing`.execute(trx);
  }
}
