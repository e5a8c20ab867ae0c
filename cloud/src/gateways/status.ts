/** A gateway's sync status as the read API shows it (DESIGN.md: lanes and last contact). */
import type { Kysely } from 'kysely';
import type { CloudSchema, GatewaysTable } from '../db/schema.js';

export interface GatewayStatusView {
  id: string;
  site: string;
  enrolled: boolean;
  enrolledAt: number | null;
  lastSeenAt: number | null;
  clockOffsetMs: number | null;
  lanes: { '0': { ackedSeq: number }; '1': { ackedSeq: number }; '2': { ackedSeq: number } };
}

/** Statuses of the gateways chosen by `filter` (by id or by site), ordered by id. */
export async function gatewayStatuses(db: Kysely<CloudSchema>, filter: { id?: string; site?: string } = {}): Promise<GatewayStatusView[]> {
  let query = db.selectFrom('gateways').selectAll();
  if (filter.id !== undefined) query = query.where('id', '=', filter.id);
  if (filter.site !== undefined) query = query.where('site_id', '=', filter.site);
  const gateways: GatewaysTable[] = await query.orderBy('id').execute();
  if (gateways.length === 0) return [];
  const marks = await db
    .selectFrom('lane_marks')
    .select(['gateway_id', 'lane', 'acked_seq'])
    .where(
      'gateway_id',
      'in',
      gateways.map((g) => g.id),
    )
    .execute();
  return gateways.map((g) => {
    const lanes = { '0': { ackedSeq: 0 }, '1': { ackedSeq: 0 }, '2': { ackedSeq: 0 } };
    for (const m of marks) {
      const lane = String(m.lane);
      if (m.gateway_id === g.id && (lane === '0' || lane === '1' || lane === '2')) lanes[lane] = { ackedSeq: m.acked_seq };
    }
    return {
      id: g.id,
      site: g.site_id,
      enrolled: g.enrolled_at !== null,
      enrolledAt: g.enrolled_at,
      lastSeenAt: g.last_seen_at,
      clockOffsetMs: g.clock_offset_ms,
      lanes,
    };
  });
}
