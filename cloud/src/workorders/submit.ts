/**
 * Applying one work-order operation in the cloud, whoever made it (a gateway's outbox, a
 * person through the API, dispatch, an alarm rule, the SLA check). The cloud is the
 * authority (DESIGN.md "Work orders converge"): operations are applied in the order the
 * cloud receives them, with protocol/work-orders.ts `applyOp` — the same state machine
 * the gateway runs — inside the caller's transaction, with the work order's row locked
 * (PostgreSQL `FOR UPDATE`), so two operations on one work order never interleave.
 *
 * - accepted: the op log gets the operation with the work order's new version, the
 *   projection is updated, and the operation goes on the downlink of **every** gateway of
 *   the work order's site (a gateway's own operations come back as its confirmation);
 * - refused: the op log records it with the reason, and the gateway that sent it (if a
 *   gateway did) gets a `workorder.rejected` change;
 * - a second operation with an id already logged changes nothing (idempotent on op id).
 */
import type { Transaction } from 'kysely';
import { Compile } from 'typebox/compile';
import { applyOp, OpData, type WorkOrder, type WorkOrderOp, type WorkOrderOpKind } from '../../../protocol/work-orders.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema, WorkOrdersTable } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { appendChange, gatewaysOfSite } from '../downlink/feed.js';
import { validationMessage } from '../plugins/errors.js';
import { enqueueWebhook } from '../webhooks/queue.js';
import { slaPolicy } from './sla.js';

const opData = Object.fromEntries(Object.entries(OpData).map(([k, schema]) => [k, Compile(schema)])) as unknown as Record<WorkOrderOpKind, ReturnType<typeof Compile>>;

export interface OpOrigin {
  /** The gateway that sent the operation: it may act only on its own site's work orders. */
  gateway?: { id: string; site: string };
  /** Dispatch's explanation, stored with an assign operation. */
  explanation?: unknown;
}

export type SubmitResult =
  | { readonly outcome: 'accepted'; readonly state: WorkOrder; readonly duplicate: boolean }
  | { readonly outcome: 'rejected'; readonly reason: string; readonly duplicate: boolean; readonly state?: WorkOrder };

/** Reads a work order's state (locked on PostgreSQL for the rest of the transaction). */
export async function lockWorkOrder(trx: Transaction<CloudSchema>, dialect: Dialect, id: string): Promise<WorkOrdersTable | undefined> {
  const q = trx.selectFrom('work_orders').selectAll().where('id', '=', id);
  return (dialect === 'postgres' ? q.forUpdate() : q).executeTakeFirst();
}

export function stateOf(row: Pick<WorkOrdersTable, 'state_json'>): WorkOrder {
  return JSON.parse(row.state_json) as WorkOrder;
}

async function logOp(
  trx: Transaction<CloudSchema>,
  op: WorkOrderOp,
  site: string | null,
  outcome: 'accepted' | 'rejected',
  reason: string | null,
  version: number | null,
  origin: OpOrigin,
  now: number,
): Promise<void> {
  await trx
    .insertInto('work_order_ops')
    .values({
      id: op.id,
      work_order_id: op.workOrder,
      site_id: site,
      op: op.op,
      actor: op.actor,
      ts: op.ts,
      data_json: JSON.stringify(op.data),
      outcome,
      reason,
      version,
      gateway_id: origin.gateway?.id ?? null,
      explain_json: origin.explanation === undefined ? null : JSON.stringify(origin.explanation),
      received_at: now,
    })
    .execute();
}

async function reject(trx: Transaction<CloudSchema>, dialect: Dialect, op: WorkOrderOp, site: string | null, reason: string, origin: OpOrigin, now: number, effects: Effects, state?: WorkOrder): Promise<SubmitResult> {
  await logOp(trx, op, site, 'rejected', reason, null, origin, now);
  if (origin.gateway !== undefined) {
    await appendChange(trx, dialect, [origin.gateway.id], { kind: 'workorder.rejected', ts: now, body: { opId: op.id, workOrder: op.workOrder, op: op.op, reason: reason.slice(0, 1000) } }, effects);
  }
  return { outcome: 'rejected', reason, duplicate: false, ...(state === undefined ? {} : { state }) };
}

/** Applies `op` (see the module comment). The caller checked the principal's right to act on the site, except for gateways (checked here). */
export async function submitOp(trx: Transaction<CloudSchema>, dialect: Dialect, op: WorkOrderOp, origin: OpOrigin, now: number, effects: Effects): Promise<SubmitResult> {
  const logged = await trx.selectFrom('work_order_ops').select(['outcome', 'reason']).where('id', '=', op.id).executeTakeFirst();
  const row = await lockWorkOrder(trx, dialect, op.workOrder);
  if (logged !== undefined) {
    const state = row === undefined ? undefined : stateOf(row);
    if (logged.outcome === 'accepted' && state !== undefined) return { outcome: 'accepted', state, duplicate: true };
    return { outcome: 'rejected', reason: logged.reason ?? 'rejected', duplicate: true, ...(state === undefined ? {} : { state }) };
  }

  const check = opData[op.op];
  if (!check.Check(op.data)) return reject(trx, dialect, op, row?.site_id ?? null, `invalid ${op.op} operation: ${validationMessage([...check.Errors(op.data)], 'data')}`, origin, now, effects);

  // A gateway acts for its own site only; another site's work order does not exist for it.
  if (origin.gateway !== undefined) {
    if (row !== undefined && row.site_id !== origin.gateway.site) {
      return reject(trx, dialect, op, null, `work order ${op.workOrder} does not exist (its create operation has not been applied)`, origin, now, effects);
    }
    if (op.op === 'create' && op.data['site'] !== origin.gateway.site) {
      return reject(trx, dialect, op, null, `gateway ${origin.gateway.id} may create work orders only for site ${origin.gateway.site}, not ${String(op.data['site'])}`, origin, now, effects);
    }
  }

  const before = row === undefined ? undefined : stateOf(row);
  const result = applyOp(before, op);
  if (!result.ok) return reject(trx, dialect, op, row?.site_id ?? null, result.reason, origin, now, effects, before);
  const state = result.state;

  if (row === undefined) {
    const sla = (await slaPolicy(trx))[state.priority];
    await trx
      .insertInto('work_orders')
      .values({
        id: state.id,
        site_id: state.site,
        status: state.status,
        priority: state.priority,
        category: state.category,
        assignee: state.assignee ?? null,
        device_id: state.device ?? null,
        alarm_id: state.alarm ?? null,
        source: state.source ?? null,
        created_by: state.createdBy,
        created_at: state.createdAt,
        updated_at: state.updatedAt,
        due_at: state.dueAt,
        response_due_at: state.createdAt + sla.responseMs,
        responded_at: null,
        resolved_at: null,
        closed_at: null,
        version: state.version,
        state_json: JSON.stringify(state),
        response_escalated_at: null,
        resolve_escalated_at: null,
        resident_token_hash: null,
        rating: null,
        rating_comment: null,
        rated_at: null,
      })
      .execute();
  } else {
    await trx
      .updateTable('work_orders')
      .set({
        status: state.status,
        assignee: state.assignee ?? null,
        updated_at: state.updatedAt,
        resolved_at: state.resolvedAt ?? null,
        closed_at: state.closedAt ?? null,
        version: state.version,
        state_json: JSON.stringify(state),
        ...(op.op === 'start' && row.responded_at === null ? { responded_at: op.ts } : {}),
      })
      .where('id', '=', state.id)
      .execute();
  }
  await logOp(trx, op, state.site, 'accepted', null, state.version, origin, now);
  await appendChange(trx, dialect, await gatewaysOfSite(trx, state.site), { kind: 'workorder.op', ts: now, body: { ...op } }, effects);

  const summary = { workOrder: state.id, op: op.op, actor: op.actor, status: state.status, priority: state.priority, title: state.title, ...(state.assignee === undefined ? {} : { assignee: state.assignee }) };
  if (op.op === 'create') await enqueueWebhook(trx, 'workorder.created', state.site, summary, now, effects);
  else if (before !== undefined && before.status !== state.status) await enqueueWebhook(trx, 'workorder.status', state.site, { ...summary, from: before.status }, now, effects);
  if (op.op === 'assign') await enqueueWebhook(trx, 'workorder.assigned', state.site, summary, now, effects);
  return { outcome: 'accepted', state, duplicate: false };
}
