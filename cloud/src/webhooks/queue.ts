/**
 * Outgoing webhooks: the persisted delivery queue. A delivery is queued in the same
 * transaction as the change it reports (a work order's status, an escalation), so nothing
 * is announced that did not happen and nothing that happened is lost to a crash; the
 * worker in webhooks/worker.ts sends it afterwards, retrying with backoff.
 */
import type { Transaction } from 'kysely';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';

/** Event names a webhook may subscribe to (or `*`). */
export const WEBHOOK_EVENTS = ['workorder.created', 'workorder.status', 'workorder.assigned', 'workorder.escalated', 'workorder.rated', 'alarm.raised', 'config.applied'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

function wants(eventsJson: string, event: string): boolean {
  try {
    const list: unknown = JSON.parse(eventsJson);
    return Array.isArray(list) && (list.includes('*') || list.includes(event));
  } catch {
    return false;
  }
}

/** Queues `event` for every webhook that subscribed to it (company-wide ones, and those of `site`). */
export async function enqueueWebhook(trx: Transaction<CloudSchema>, event: WebhookEvent, site: string, data: Record<string, unknown>, now: number, effects: Effects): Promise<void> {
  const hooks = await trx
    .selectFrom('webhooks')
    .select(['id', 'events_json'])
    .where((eb) => eb.or([eb('site_id', 'is', null), eb('site_id', '=', site)]))
    .execute();
  for (const h of hooks) {
    if (!wants(h.events_json, event)) continue;
    const id = uuidv7(now);
    await trx
      .insertInto('webhook_deliveries')
      .values({
        id,
        webhook_id: h.id,
        event,
        body_json: JSON.stringify({ id, event, site, ts: now, data }),
        status: 'pending',
        attempts: 0,
        next_at: now,
        last_error: null,
        created_at: now,
        delivered_at: null,
      })
      .execute();
    effects.webhooks++;
  }
}
