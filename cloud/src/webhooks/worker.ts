/**
 * Delivering queued webhooks (webhooks/queue.ts): POST of the JSON body with
 * `x-steward-event`, `x-steward-delivery` and `x-steward-signature: t=<unix ms>,v1=<hex>`,
 * where v1 = HMAC-SHA256(secret, `${t}.${body}`) — the receiver recomputes it and refuses
 * a stale `t` (replay), as with Stripe's signatures. A 2xx answer delivers; anything else
 * (or no answer in 5 s) retries after 10 s, 20 s, 40 s … capped at 1 h, and gives up after
 * {@link MAX_ATTEMPTS} attempts (`failed`, kept for inspection).
 *
 * Several cloud replicas may run this at once: a delivery is claimed by moving its
 * `next_at` forward in a conditional update before it is sent, so two replicas do not send
 * the same delivery at the same time (a crash after sending may still send it twice: the
 * delivery id lets a receiver drop the duplicate).
 */
import { createHmac } from 'node:crypto';
import type { CloudDatabase } from '../db/open.js';

export const MAX_ATTEMPTS = 10;
const TIMEOUT_MS = 5000;
const CLAIM_MS = 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(3600_000, 10_000 * 2 ** Math.max(0, attempts - 1));
}

export function sign(secret: string, t: number, body: string): string {
  return createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
}

/** Sends the deliveries that are due; returns how many were attempted. */
export async function deliverDue(cdb: CloudDatabase, now = Date.now(), limit = 20): Promise<number> {
  const db = cdb.db;
  const due = await db
    .selectFrom('webhook_deliveries')
    .innerJoin('webhooks', 'webhooks.id', 'webhook_deliveries.webhook_id')
    .select(['webhook_deliveries.id', 'webhook_deliveries.event', 'webhook_deliveries.body_json', 'webhook_deliveries.attempts', 'webhook_deliveries.next_at', 'webhooks.url', 'webhooks.secret'])
    .where('webhook_deliveries.status', '=', 'pending')
    .where('webhook_deliveries.next_at', '<=', now)
    .orderBy('webhook_deliveries.next_at')
    .limit(limit)
    .execute();
  let n = 0;
  for (const d of due) {
    const claimed = await db.updateTable('webhook_deliveries').set({ next_at: now + CLAIM_MS }).where('id', '=', d.id).where('next_at', '=', d.next_at).where('status', '=', 'pending').executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) continue;
    n++;
    const t = Date.now();
    let error: string | null = null;
    try {
      const res = await fetch(d.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-steward-event': d.event, 'x-steward-delivery': d.id, 'x-steward-signature': `t=${t},v1=${sign(d.secret, t, d.body_json)}` },
        body: d.body_json,
        signal: AbortSignal.timeout(TIMEOUT_MS),
        redirect: 'manual',
      });
      await res.body?.cancel().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const attempts = d.attempts + 1;
    if (error === null) {
      await db.updateTable('webhook_deliveries').set({ status: 'delivered', attempts, delivered_at: Date.now(), last_error: null }).where('id', '=', d.id).execute();
    } else {
      await db
        .updateTable('webhook_deliveries')
        .set({ status: attempts >= MAX_ATTEMPTS ? 'failed' : 'pending', attempts, next_at: Date.now() + backoffMs(attempts), last_error: error.slice(0, 500) })
        .where('id', '=', d.id)
        .execute();
    }
  }
  return n;
}
