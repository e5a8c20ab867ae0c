/**
 * Dispatch in the database: build the roster (skills, shifts, check-ins, workload), rank
 * it (dispatch/rank.ts), offer the work order to the best technician with an `assign`
 * operation that carries the explanation, and give them until `accept_by` to accept.
 * The periodic check re-dispatches offers not accepted in time to the next best.
 */
import type { Transaction } from 'kysely';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { Priority } from '../../../protocol/work-orders.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { sitesOfUsers } from '../users/users.js';
import { enqueueWebhook } from '../webhooks/queue.js';
import { lockWorkOrder, stateOf, submitOp } from '../workorders/submit.js';
import { rankTechnicians, type Candidate, type Ranking } from './rank.js';

/** How long a technician has to accept an offer, per priority, ms. */
export const ACCEPT_WITHIN_MS: Readonly<Record<Priority, number>> = { P1: 5 * 60_000, P2: 15 * 60_000, P3: 60 * 60_000, P4: 4 * 3600_000 };

const OPEN = ['assigned', 'in_progress', 'on_hold'];

export async function roster(trx: Transaction<CloudSchema>, now: number): Promise<Candidate[]> {
  const techs = await trx.selectFrom('technicians').selectAll().orderBy('name').execute();
  if (techs.length === 0) return [];
  const names = techs.map((t) => t.name);
  const onShift = new Set((await trx.selectFrom('shifts').select('technician').where('technician', 'in', names).where('start_at', '<=', now).where('end_at', '>', now).execute()).map((r) => r.technician));
  const loads = await trx
    .selectFrom('work_orders')
    .select(['assignee', (eb) => eb.fn.countAll<number>().as('n')])
    .where('assignee', 'in', names)
    .where('status', 'in', OPEN)
    .groupBy('assignee')
    .execute();
  const loadOf = new Map(loads.map((l) => [l.assignee, Number(l.n)]));
  const serves = await servedSites(trx, names);
  const siteIds = [...new Set(techs.map((t) => t.site_id).filter((s): s is string => s !== null))];
  const sites = siteIds.length === 0 ? [] : await trx.selectFrom('sites').select(['id', 'lat', 'lon']).where('id', 'in', siteIds).execute();
  const siteAt = new Map(sites.map((s) => [s.id, s]));
  return techs.map((t) => {
    const at = t.site_id === null ? undefined : siteAt.get(t.site_id);
    const lat = t.lat ?? at?.lat ?? null;
    const lon = t.lon ?? at?.lon ?? null;
    return {
      name: t.name,
      skills: JSON.parse(t.skills_json) as string[],
      onShift: onShift.has(t.name),
      ...(t.site_id === null ? {} : { site: t.site_id }),
      ...(lat === null || lon === null ? {} : { lat, lon }),
      load: loadOf.get(t.name) ?? 0,
      ...(serves.has(t.name) ? { serves: serves.get(t.name)! } : {}),
    };
  });
}

/**
 * The sites each technician serves: the sites and regions of their login (`user_scopes`).
 * A technician whose login has no scope is absent from the map: they serve the whole
 * company.
 */
export function servedSites(trx: Pick<Transaction<CloudSchema>, 'selectFrom'>, names: readonly string[]): Promise<Map<string, string[]>> {
  return sitesOfUsers(trx, 'name', names);
}

export interface DispatchOutcome {
  ranking: Ranking;
  assignment?: { id: string; technician: string; acceptBy: number };
}

/**
 * Offers the work order to the best technician. Technicians who declined or let an offer
 * of this work order expire are skipped. Returns the ranking; `assignment` is absent when
 * nobody is available (then a `dispatch` escalation is recorded).
 */
export async function dispatchWorkOrder(trx: Transaction<CloudSchema>, dialect: Dialect, workOrderId: string, actor: string, now: number, effects: Effects): Promise<DispatchOutcome | null> {
  const row = await lockWorkOrder(trx, dialect, workOrderId);
  if (row === undefined) return null;
  const state = stateOf(row);
  const site = await trx.selectFrom('sites').select(['lat', 'lon']).where('id', '=', row.site_id).executeTakeFirst();
  const previous = await trx.selectFrom('assignments').select(['technician', 'status']).where('work_order_id', '=', workOrderId).execute();
  const exclude = new Set(previous.filter((p) => p.status === 'declined' || p.status === 'expired').map((p) => p.technician));
  const ranking = rankTechnicians(
    { site: row.site_id, category: row.category, ...(site?.lat == null || site.lon == null ? {} : { lat: site.lat, lon: site.lon }) },
    await roster(trx, now),
    exclude,
  );
  await trx.updateTable('assignments').set({ status: 'superseded', answered_at: now }).where('work_order_id', '=', workOrderId).where('status', '=', 'offered').execute();
  if (ranking.chosen === null) {
    await trx.insertInto('escalations').values({ id: uuidv7(now), work_order_id: workOrderId, site_id: row.site_id, kind: 'dispatch', due_at: now, at: now }).execute();
    await enqueueWebhook(trx, 'workorder.escalated', row.site_id, { workOrder: workOrderId, kind: 'dispatch', reason: ranking.reason, title: state.title, priority: state.priority }, now, effects);
    return { ranking };
  }
  const acceptBy = now + ACCEPT_WITHIN_MS[state.priority];
  const explanation = { reason: ranking.reason, candidates: ranking.candidates, acceptBy };
  const result = await submitOp(trx, dialect, { id: uuidv7(now), workOrder: workOrderId, op: 'assign', actor, ts: now, data: { assignee: ranking.chosen } }, { explanation }, now, effects);
  if (result.outcome !== 'accepted') return { ranking: { ...ranking, chosen: null, reason: result.reason } };
  const id = uuidv7(now);
  await trx
    .insertInto('assignments')
    .values({ id, work_order_id: workOrderId, technician: ranking.chosen, status: 'offered', offered_at: now, accept_by: acceptBy, answered_at: null, explain_json: JSON.stringify(explanation) })
    .execute();
  return { ranking, assignment: { id, technician: ranking.chosen, acceptBy } };
}

/** Offers past their accept-by time become `expired` and the work order goes to the next best. */
export async function redispatchExpired(trx: Transaction<CloudSchema>, dialect: Dialect, now: number, effects: Effects): Promise<number> {
  const due = await trx.selectFrom('assignments').select(['id', 'work_order_id']).where('status', '=', 'offered').where('accept_by', '<=', now).orderBy('accept_by').limit(100).execute();
  let n = 0;
  for (const a of due) {
    const updated = await trx.updateTable('assignments').set({ status: 'expired', answered_at: now }).where('id', '=', a.id).where('status', '=', 'offered').executeTakeFirst();
    if (Number(updated.numUpdatedRows) === 0) continue;
    const wo = await trx.selectFrom('work_orders').select('status').where('id', '=', a.work_order_id).executeTakeFirst();
    if (wo?.status !== 'assigned') continue; // started meanwhile, or cancelled: nothing to re-dispatch
    await dispatchWorkOrder(trx, dialect, a.work_order_id, 'dispatch', now, effects);
    n++;
  }
  return n;
}
