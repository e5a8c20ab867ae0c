/**
 * A gateway's report of the configuration it applied: the event `config.applied` (lane 1)
 * with body `{ version, checksum, status: applied | staged | failed, error? }`
 * (protocol/work-orders.ts ConfigDesired). Stored as the gateway's applied version; a
 * report older than the one stored is ignored.
 */
import type { Transaction } from 'kysely';
import type { EventBody } from '../../../protocol/v1.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { enqueueWebhook } from '../webhooks/queue.js';

export async function recordConfigApplied(trx: Transaction<CloudSchema>, gatewayId: string, e: EventBody, now: number, effects: Effects): Promise<void> {
  const b = e.body;
  const version = b['version'];
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) return;
  const status = typeof b['status'] === 'string' ? b['status'].slice(0, 20) : 'applied';
  const checksum = typeof b['checksum'] === 'string' ? b['checksum'].slice(0, 64) : null;
  const error = typeof b['error'] === 'string' ? b['error'].slice(0, 2000) : null;
  const row = await trx.selectFrom('gateway_config').select(['applied_version', 'applied_at']).where('gateway_id', '=', gatewayId).executeTakeFirst();
  if (row !== undefined && row.applied_version !== null && row.applied_version > version) return;
  const values = { applied_version: version, applied_checksum: checksum, applied_status: status, applied_error: error, applied_at: e.ts };
  await trx
    .insertInto('gateway_config')
    .values({ gateway_id: gatewayId, desired_version: null, previous_version: null, desired_at: null, ...values })
    .onConflict((oc) => oc.column('gateway_id').doUpdateSet(values))
    .execute();
  await enqueueWebhook(trx, 'config.applied', e.site, { gateway: gatewayId, version, status, ...(error === null ? {} : { error }) }, now, effects);
}
