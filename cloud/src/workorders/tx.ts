/** A transaction whose effects (woken long-polls, queued webhooks) are acted on once it commits. */
import type { FastifyInstance } from 'fastify';
import type { Transaction } from 'kysely';
import type { CloudSchema } from '../db/schema.js';
import { Effects } from '../downlink/effects.js';

export async function withEffects<T>(app: FastifyInstance, fn: (trx: Transaction<CloudSchema>, effects: Effects) => Promise<T>): Promise<T> {
  const effects = new Effects();
  const out = await app.stewardDb.db.transaction().execute((trx) => fn(trx, effects));
  app.stewardRuntime.afterCommit(effects);
  return out;
}
