/**
 * Each gateway's downlink feed (DESIGN.md "Sync" → Downlink; protocol/work-orders.ts
 * `ChangesReply`): an ordered list of changes numbered 1, 2, 3, … per gateway.
 *
 * Sequences are handed out from the gateway's `downlink` row, read with `FOR UPDATE` on
 * PostgreSQL, inside the transaction that makes the change. So a change becomes visible
 * only with a seq higher than every committed one of that gateway: a reader that has seen
 * seq N can never later meet a change < N committed late (what a shared autoincrement
 * would allow, and lose changes with). Rows are locked in gateway-id order to avoid
 * deadlocks between transactions fanning out to the same site.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Change } from '../../../protocol/work-orders.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from './effects.js';

type Db = Kysely<CloudSchema> | Transaction<CloudSchema>;

export interface NewChange {
  kind: string;
  ts: number;
  body: Record<string, unknown>;
}

/** The downlink rows of these gateways, created at 0 when missing, locked (PostgreSQL) in id order. */
async function lockFeeds(trx: Transaction<CloudSchema>, dialect: Dialect, gatewayIds: readonly string[]): Promise<Map<string, number>> {
  const ids = [...new Set(gatewayIds)].sort();
  await trx
    .insertInto('downlink')
    .values(ids.map((id) => ({ gateway_id: id, last_seq: 0, cursor: 0, polled_at: null })))
    .onConflict((oc) => oc.column('gateway_id').doNothing())
    .execute();
  const out = new Map<string, number>();
  for (const id of ids) {
    const q = trx.selectFrom('downlink').select('last_seq').where('gateway_id', '=', id);
    const row = await (dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirstOrThrow();
    out.set(id, row.last_seq);
  }
  return out;
}

/** Appends one change to the feed of every gateway given. */
export async function appendChange(trx: Transaction<CloudSchema>, dialect: Dialect, gatewayIds: readonly string[], change: NewChange, effects: Effects): Promise<void> {
  if (gatewayIds.length === 0) return;
  const last = await lockFeeds(trx, dialect, gatewayIds);
  const bodyJson = JSON.stringify(change.body);
  for (const [id, seq] of last) {
    await trx.insertInto('changes').values({ gateway_id: id, seq: seq + 1, kind: change.kind, ts: change.ts, body_json: bodyJson }).execute();
    await trx.updateTable('downlink').set({ last_seq: seq + 1 }).where('gateway_id', '=', id).execute();
    effects.gateways.add(id);
  }
}

/** The gateways of a site (every one gets the site's work-order operations). */
export async function gatewaysOfSite(db: Db, site: string): Promise<string[]> {
  const rows = await db.selectFrom('gateways').select('id').where('site_id', '=', site).orderBy('id').execute();
  return rows.map((r) => r.id);
}

/** Up to `limit` changes after `after`, oldest first, and whether more wait. */
export async function readChanges(db: Db, gatewayId: string, after: number, limit: number): Promise<{ changes: Change[]; more: boolean }> {
  const rows = await db
    .selectFrom('changes')
    .select(['seq', 'kind', 'ts', 'body_json'])
    .where('gateway_id', '=', gatewayId)
    .where('seq', '>', after)
    .orderBy('seq')
    .limit(limit + 1)
    .execute();
  const more = rows.length > limit;
  return {
    changes: rows.slice(0, limit).map((r) => ({ seq: r.seq, kind: r.kind, ts: r.ts, body: JSON.parse(r.body_json) as Record<string, unknown> })),
    more,
  };
}

/** Records the cursor the gateway asked after (its acknowledgement of every change ≤ it). */
export async function recordCursor(db: Kysely<CloudSchema>, gatewayId: string, cursor: number, now: number): Promise<void> {
  await db
    .insertInto('downlink')
    .values({ gateway_id: gatewayId, last_seq: 0, cursor, polled_at: now })
    .onConflict((oc) => oc.column('gateway_id').doUpdateSet({ cursor, polled_at: now }))
    .execute();
}

/** A gateway's downlink position for its status. */
export async function downlinkStatus(db: Db, gatewayIds: readonly string[]): Promise<Map<string, { cursor: number; lastSeq: number; polledAt: number | null }>> {
  if (gatewayIds.length === 0) return new Map();
  const rows = await db.selectFrom('downlink').selectAll().where('gateway_id', 'in', [...gatewayIds]).execute();
  return new Map(rows.map((r) => [r.gateway_id, { cursor: r.cursor, lastSeq: r.last_seq, polledAt: r.polled_at }]));
}
