/**
 * Service levels per priority: the protocol's DEFAULT_SLA unless an admin configured the
 * cloud's own (`PUT /v1/sla`). The resolution deadline of a work order is the `dueAt` of its
 * create operation (the gateway sets it offline from DEFAULT_SLA); the response deadline
 * (accepted or started by) is createdAt + responseMs.
 */
import type { Kysely, Transaction } from 'kysely';
import { DEFAULT_SLA, PRIORITIES, type Priority } from '../../../protocol/work-orders.js';
import type { CloudSchema } from '../db/schema.js';

export type SlaTable = Record<Priority, { responseMs: number; resolveMs: number }>;

export async function slaPolicy(db: Kysely<CloudSchema> | Transaction<CloudSchema>): Promise<SlaTable> {
  const rows = await db.selectFrom('sla_policies').selectAll().execute();
  const out = Object.fromEntries(PRIORITIES.map((p) => [p, { ...DEFAULT_SLA[p] }])) as SlaTable;
  for (const r of rows) if ((PRIORITIES as readonly string[]).includes(r.priority)) out[r.priority as Priority] = { responseMs: r.response_ms, resolveMs: r.resolve_ms };
  return out;
}
