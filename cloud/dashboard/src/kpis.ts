/**
 * Figures computed in the browser from the cloud's read API: a site's health (gateways,
 * open alarms, open work orders), and the fallbacks for a cloud without `/v1/kpis`; plus
 * helpers to lay the cloud's KPI periods over every day of a range.
 */
import type { Alarm, CloudEvent, GatewayStatus, WorkOrder } from './api.js';

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

export type Health = 'ok' | 'warn' | 'alarm' | 'offline';

export interface SiteHealth {
  readonly health: Health;
  /** 'none': no gateway registered; 'never': registered, never heard from. */
  readonly gateway: 'online' | 'offline' | 'never' | 'none';
  /** The latest contact of any of its gateways, ms epoch; null: never. */
  readonly lastSync: number | null;
  /** Changes in the cloud's feed its gateways have not fetched yet. */
  readonly pending: number;
  readonly openAlarms: number;
  readonly unacked: number;
  readonly open: number;
  readonly overdue: number;
}

/**
 * A site's health as its tile shows it: offline (a gateway not heard from within 2 minutes,
 * or none), alarm (unacknowledged active alarms), warn (acknowledged ones still active, or
 * overdue work orders), ok.
 */
export function siteHealth(gateways: readonly GatewayStatus[], alarms: readonly Alarm[], workOrders: readonly WorkOrder[], now = Date.now()): SiteHealth {
  const heard = gateways.map((g) => g.lastSeenAt).filter((x): x is number => x !== null);
  const lastSync = heard.length === 0 ? null : Math.max(...heard);
  const gateway = gateways.length === 0 ? 'none' : gateways.every((g) => online(g, now)) ? 'online' : lastSync === null ? 'never' : 'offline';
  const active = alarms.filter((a) => a.state === 'active' && !(a.shelvedUntil !== null && a.shelvedUntil > now));
  const unacked = active.filter((a) => !a.acked).length;
  const open = workOrders.filter((w) => OPEN.has(w.status));
  const overdue = open.filter((w) => w.dueAt < now).length;
  const pending = gateways.reduce((s, g) => s + (g.downlink === undefined ? 0 : Math.max(0, g.downlink.lastSeq - g.downlink.cursor)), 0);
  const health: Health = gateway !== 'online' ? 'offline' : unacked > 0 ? 'alarm' : active.length > 0 || overdue > 0 ? 'warn' : 'ok';
  return { health, gateway, lastSync, pending, openAlarms: active.length, unacked, open: open.length, overdue };
}

export const isOpen = (w: WorkOrder): boolean => OPEN.has(w.status);

/** The UTC days (YYYY-MM-DD) from `from` to `to`, as `GET /v1/kpis` names its day buckets. */
export function dayLabels(from: number, to: number): string[] {
  const out: string[] = [];
  for (let d = Math.floor(from / 86400_000) * 86400_000; d < to; d += 86400_000) out.push(new Date(d).toISOString().slice(0, 10));
  return out;
}

/** One figure of the KPI periods over every day of the range (null where the cloud had no bucket). */
export function dense<P extends { readonly period: string }>(periods: readonly P[], days: readonly string[], pick: (p: P) => number | null): (number | null)[] {
  const by = new Map(periods.map((p) => [p.period, p]));
  return days.map((d) => {
    const p = by.get(d);
    return p === undefined ? null : pick(p);
  });
}
