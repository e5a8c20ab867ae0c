/** A gateway's acknowledged high-water mark per lane, as protocol v1's LaneMarks. */
import type { Kysely, Transaction } from 'kysely';
import { LANES, type LaneMarks } from '../../../protocol/v1.js';
import type { CloudSchema } from '../db/schema.js';

/** The marks of a gateway; a lane without a row is at 0. */
export async function laneMarks(db: Kysely<CloudSchema> | Transaction<CloudSchema>, gatewayId: string): Promise<LaneMarks> {
  const rows = await db.selectFrom('lane_marks').select(['lane', 'acked_seq']).where('gateway_id', '=', gatewayId).execute();
  const marks: LaneMarks = { '0': 0, '1': 0, '2': 0 };
  for (const row of rows) {
    const lane = String(row.lane);
    if (lane === '0' || lane === '1' || lane === '2') marks[lane] = row.acked_seq;
  }
  return marks;
}

/** Rows for a new gateway: every lane starts at 0 (nothing acknowledged). */
export function initialLaneMarks(gatewayId: string): { gateway_id: string; lane: number; acked_seq: number }[] {
  return LANES.map((lane) => ({ gateway_id: gatewayId, lane, acked_seq: 0 }));
}
