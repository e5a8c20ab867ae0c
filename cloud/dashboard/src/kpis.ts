/**
 * Company and per-site figures computed in the browser from what the cloud's read API
 * gives (work orders, gateways, alarm events) — until the cloud serves KPIs of its own.
 */
import type { CloudEvent, GatewayStatus, WorkOrder } from './api.js';

/** A gateway heard from within this long is online (its uplink pings at least every 30 s). */
export const ONLINE_MS = 2 * 60_000;
const OPEN = new Set(['open', 'assigned', 'in_progress', 'on_hold']);

export interface Figures {
  readonly open: number;
  readonly overdue: number;
  /** Mean created → responded, ms; null without data. */
  readonly responseMs: number | null;
  /** Share of resolved work orders resolved by their due time, 0–1. */
  readonly slaRate: number | null;
  readonly rating: number | null;
  readonly alarms24h: number;
}

export function figures(workOrders: readonly WorkOrder[], alarms: readonly CloudEvent[], now = Date.now()): Figures {
  const open = workOrders.filter((w) => OPEN.has(w.status));
  const responded = workOrders.filter((w) => typeof w.respondedAt === 'number');
  const resolved = workOrders.filter((w) => typeof w.resolvedAt === 'number');
  const rated = workOrders.filter((w) => typeof w.rating === 'number');
  return {
    open: open.length,
    overdue: open.filter((w) => w.dueAt < now).length,
    responseMs: responded.length === 0 ? null : responded.reduce((s, w) => s + (w.respondedAt! - w.createdAt), 0) / responded.length,
    slaRate: resolved.length === 0 ? null : resolved.filter((w) => w.resolvedAt! <= w.dueAt).length / resolved.length,
    rating: rated.length === 0 ? null : rated.reduce((s, w) => s + w.rating!, 0) / rated.length,
    alarms24h: alarms.filter((e) => e.type === 'alarm.raised' && e.ts >= now - 86400_000).length,
  };
}

export function online(g: GatewayStatus, now = Date.now()): boolean {
  return g.lastSeenAt !== null && now - g.lastSeenAt < ONLINE_MS;
}

/** Work orders created per day, the last `days` days, oldest first. */
export function perDay(workOrders: readonly WorkOrder[], days = 14, now = Date.now()): { day: number; n: number }[] {
  const start = new Date(now);
  start.setHours(0, 0, 0, 0);
  const first = start.getTime() - (days - 1) * 86400_000;
  const out = Array.from({ length: days }, (_, i) => ({ day: first + i * 86400_000, n: 0 }));
  for (const w of workOrders) {
    const i = Math.floor((w.createdAt - first) / 86400_000);
    if (i >= 0 && i < days) out[i]!.n++;
  }
  return out;
}
