/** A gateway's sync status as the read API shows it (DESIGN.md: lanes and last contact). */
import type { Kysely } from 'kysely';
import type { CloudSchema, GatewaysTable } from '../db/schema.js';
import { downlinkStatus } from '../downlink/feed.js';

export interface GatewayStatusView {
  id: string;
  site: string;
  enrolled: boolean;
  enrolledAt: number | null;
  lastSeenAt: number | null;
  clockOffsetMs: number | null;
  lanes: { '0': { ackedSeq: number }; '1': { ackedSeq: number }; '2': { ackedSeq: number } };
  downlink: { cursor: number; lastSeq: number; polledAt: number | null };
  config: { desiredVersion: number | null; appliedVersion: number | null; appliedStatus: string | null; appliedError: string | null; appliedAt: number | null };
}

/** Statuses of the gateways chosen by `filter` (by id or by site), ordered by id. */
export async function gatewayStatuses(db: Kysely<CloudSchema>, filter: { id?: string; site?: string; sites?: readonly string[] } = {}): Promise<GatewayStatusView[]> {
  let query = db.selectFrom('gateways').selectAll();
  if (filter.sites !== undefined) {
    if (filter.sites.length === 0) return [];
    query = query.where('site_id', 'in', [...filter.sites]);
  }
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
  const ids = gateways.map((g) => g.id);
  const feeds = await downlinkStatus(db, ids);
  const configs = new Map((await db.selectFrom('gateway_config').selectAll().where('gateway_id', 'in', ids).execute()).map((c) => [c.gateway_id, c]));
  return gateways.map((g) => {
    const c = configs.get(g.id);
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
      downlink: feeds.get(g.id) ?? { cursor: 0, lastSeq: 0, polledAt: null },
      config: {
        desiredVersion: c?.desired_version ?? null,
        appliedVersion: c?.applied_version ?? null,
        appliedStatus: c?.applied_status ?? null,
        appliedError: c?.applied_error ?? null,
        appliedAt: c?.applied_at ?? null,
      },
    };
  });
}
