/**
 * What the failure tests (partition, lost answer, cloud crash) share: waiting for a
 * condition, and reading what the cloud really stored — straight from its SQLite file,
 * so that "every item once" is checked on the rows, not on an API that might hide a
 * duplicate.
 */
import Database from 'better-sqlite3';

export { until } from '../support/until.js';

export { freePort } from '../support/ports.js';

/** One lane of the cloud's `items` table for a gateway. */
export interface StoredLane {
  rows: number;
  distinctIds: number;
  minSeq: number;
  maxSeq: number;
}

/** What the cloud's database holds for `gateway`: items per lane, the lane marks, the ids of its events. */
export function cloudHolds(dbFile: string, gateway: string): { lanes: Record<number, StoredLane>; marks: Record<number, number>; eventIds: string[] } {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const lanes: Record<number, StoredLane> = { 0: { rows: 0, distinctIds: 0, minSeq: 0, maxSeq: 0 }, 1: { rows: 0, distinctIds: 0, minSeq: 0, maxSeq: 0 }, 2: { rows: 0, distinctIds: 0, minSeq: 0, maxSeq: 0 } };
    const rows = db
      .prepare('SELECT lane, COUNT(*) AS rows, COUNT(DISTINCT id) AS distinctIds, MIN(seq) AS minSeq, MAX(seq) AS maxSeq FROM items WHERE gateway_id = ? GROUP BY lane')
      .all(gateway) as ({ lane: number } & StoredLane)[];
    for (const { lane, ...rest } of rows) lanes[lane] = rest;
    const marks: Record<number, number> = {};
    for (const r of db.prepare('SELECT lane, acked_seq AS acked FROM lane_marks WHERE gateway_id = ?').all(gateway) as { lane: number; acked: number }[]) marks[r.lane] = r.acked;
    const eventIds = (db.prepare('SELECT id FROM events WHERE gateway_id = ? ORDER BY id').all(gateway) as { id: string }[]).map((r) => r.id);
    return { lanes, marks, eventIds };
  } finally {
    db.close();
  }
}

/** The sum of a Prometheus counter's samples in a /metrics text. */
export function counter(metrics: string, name: string): number {
  let sum = 0;
  for (const line of metrics.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}
