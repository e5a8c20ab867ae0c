/**
 * Serialising the writes of one gateway. Two deliveries of a gateway's batches may arrive
 * at once (a retry racing a slow answer, two cloud instances behind a load balancer); each
 * must see the lane marks the other committed, or both would accept the same sequences.
 */
import type { Transaction } from 'kysely';
import type { Dialect } from './migrations.js';
import type { CloudSchema, GatewaysTable } from './schema.js';

/**
 * Reads the gateway row inside `trx`, locking it until the transaction ends. PostgreSQL:
 * `SELECT … FOR UPDATE` (row lock; other gateways proceed in parallel). SQLite has no row
 * locks and needs none here: Kysely's SQLite driver runs one transaction at a time on its
 * single connection, and SQLite allows one writer per file.
 */
export async function lockGateway(trx: Transaction<CloudSchema>, dialect: Dialect, gatewayId: string): Promise<GatewaysTable | undefined> {
  const query = trx.selectFrom('gateways').selectAll().where('id', '=', gatewayId);
  return dialect === 'postgres' ? query.forUpdate().executeTakeFirst() : query.executeTakeFirst();
}
