/**
 * The background jobs: the SLA and dispatch check (every 15 s: escalate missed deadlines,
 * re-dispatch offers not accepted in time) and the webhook deliverer (every 2 s, and at
 * once after a commit that queued deliveries).
 */
import type { FastifyInstance } from 'fastify';
import { redispatchExpired } from './dispatch/dispatch.js';
import { escalateOverdue } from './workorders/escalation.js';
import { withEffects } from './workorders/tx.js';
import { deliverDue } from './webhooks/worker.js';

export const SLA_CHECK_MS = 15_000;
export const WEBHOOK_POLL_MS = 2_000;

export function registerJobs(app: FastifyInstance): void {
  app.stewardRuntime.add({
    name: 'sla',
    intervalMs: SLA_CHECK_MS,
    async run(now) {
      await withEffects(app, (trx, effects) => escalateOverdue(trx, app.stewardDb.dialect, now, effects));
      await withEffects(app, (trx, effects) => redispatchExpired(trx, app.stewardDb.dialect, now, effects));
    },
  });
  app.stewardRuntime.add({
    name: 'webhooks',
    intervalMs: WEBHOOK_POLL_MS,
    async run(now) {
      while ((await deliverDue(app.stewardDb, now)) > 0) now = Date.now();
    },
  });
}
