/**
 * SLA escalation (issue 5): a periodic check that finds work orders past their response
 * deadline (not accepted or started in time) or their resolution deadline (not resolved in
 * time), records an escalation once per kind, adds a note to the work order (so the site's
 * panel shows it, through the downlink) and emits a `workorder.escalated` webhook.
 */
import type { Transaction } from 'kysely';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { enqueueWebhook } from '../webhooks/queue.js';
import { submitOp } from './submit.js';

const BATCH = 200;

export async function escalateOverdue(trx: Transaction<CloudSchema>, dialect: Dialect, now: number, effects: Effects): Promise<number> {
  let n = 0;
  const late = await trx
    .selectFrom('work_orders')
    .select(['id', 'site_id', 'state_json', 'priority', 'assignee', 'response_due_at', 'due_at', 'responded_at', 'status', 'response_escalated_at', 'resolve_escalated_at'])
    .where('status', 'in', ['open', 'assigned', 'in_progress', 'on_hold'])
    .where((eb) =>
      eb.or([
        eb.and([eb('responded_at', 'is', null), eb('response_escalated_at', 'is', null), eb('response_due_at', '<=', now)]),
        eb.and([eb('resolve_escalated_at', 'is', null), eb('due_at', '<=', now)]),
      ]),
    )
    .limit(BATCH)
    .execute();
  for (const wo of late) {
    const kinds: ('response' | 'resolve')[] = [];
    if (wo.responded_at === null && wo.response_escalated_at === null && wo.response_due_at <= now && (wo.status === 'open' || wo.status === 'assigned')) kinds.push('response');
    if (wo.resolve_escalated_at === null && wo.due_at <= now) kinds.push('resolve');
    // Mark both columns whatever happens, so a work order is looked at once per kind.
    await trx
      .updateTable('work_orders')
      .set({
        ...(wo.response_escalated_at === null && wo.response_due_at <= now ? { response_escalated_at: now } : {}),
        ...(wo.resolve_escalated_at === null && wo.due_at <= now ? { resolve_escalated_at: now } : {}),
      })
      .where('id', '=', wo.id)
      .execute();
    for (const kind of kinds) {
      const due = kind === 'response' ? wo.response_due_at : wo.due_at;
      await trx.insertInto('escalations').values({ id: uuidv7(now), work_order_id: wo.id, site_id: wo.site_id, kind, due_at: due, at: now }).execute();
      const text = `SLA ${kind} deadline of ${wo.priority} missed (due ${new Date(due).toISOString()}): escalated.`;
      await submitOp(trx, dialect, { id: uuidv7(now), workOrder: wo.id, op: 'note', actor: 'sla', ts: now, data: { text } }, {}, now, effects);
      await enqueueWebhook(trx, 'workorder.escalated', wo.site_id, { workOrder: wo.id, kind, dueAt: due, priority: wo.priority, title: (JSON.parse(wo.state_json) as { title: string }).title, assignee: wo.assignee }, now, effects);
      n++;
    }
  }
  return n;
}
