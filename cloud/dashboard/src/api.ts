/** The cloud's read API as the dashboard uses it (docs/cloud.md): same origin, Bearer token of a person's login. */
export interface Site {
  readonly id: string;
  readonly name: string;
  readonly gateways: readonly string[];
  /** Region id and name, where the site has one (`PATCH /v1/sites/:site`). */
  readonly region?: string;
  readonly regionName?: string;
  /** WGS84 degrees, where set. */
  readonly lat?: number;
  readonly lon?: number;
}
/** `GET /v1/alarms`: an alarm as the gateway reports it (ISA-18.2 state). */
export interface Alarm {
  readonly id: string;
  readonly site: string;
  readonly device: string | null;
  readonly rule: string;
  readonly system: string | null;
  readonly severity: string;
  readonly state: string;
  readonly acked: boolean;
  readonly raisedAt: number;
  readonly clearedAt: number | null;
  readonly shelvedUntil: number | null;
  readonly raiseCount: number;
  readonly workOrder: string | null;
}
/** The figures of `GET /v1/kpis` (docs/cloud.md "KPIs"). */
export interface KpiFigures {
  readonly created: number;
  readonly resolved: number;
  readonly responseP50Ms: number | null;
  readonly responseP90Ms: number | null;
  readonly resolveP50Ms: number | null;
  readonly resolveP90Ms: number | null;
  readonly slaResponseCompliance: number | null;
  readonly slaResolveCompliance: number | null;
  readonly ratings: number;
  readonly satisfaction: number | null;
  readonly alarms: number;
  readonly energyKwh: number | null;
}
/** `GET /v1/kpis[?site=]`: the last 30 days by day (UTC), one site or the caller's whole scope. */
export interface Kpis {
  readonly site: string | null;
  readonly from: number;
  readonly to: number;
  readonly totals: KpiFigures;
  readonly periods: readonly (KpiFigures & { readonly period: string })[];
  readonly alarmsBySystem: readonly { readonly system: string; readonly count: number }[];
  readonly topDevices: readonly { readonly device: string; readonly count: number }[];
  readonly availability: readonly { readonly device: string; readonly availability: number; readonly offlineMs: number }[];
}
/** `GET /v1/kpis/sites`: each site's 30-day totals and mean device availability. */
export type SiteKpis = KpiFigures & { readonly site: string; readonly availability: number | null };
export interface GatewayStatus {
  readonly id: string;
  readonly site: string;
  readonly enrolled: boolean;
  readonly lastSeenAt: number | null;
  readonly lanes: Readonly<Record<string, { readonly ackedSeq: number; readonly lastSeq?: number }>>;
  /** The cloud → gateway feed: changes up to `lastSeq`, fetched up to `cursor`. */
  readonly downlink?: { readonly cursor: number; readonly lastSeq: number; readonly polledAt: number | null };
}
export interface WorkOrder {
  readonly id: string;
  readonly site: string;
  readonly title: string;
  readonly priority: string;
  readonly status: string;
  readonly device?: string | null;
  readonly assignee?: string | null;
  readonly dueAt: number;
  readonly createdAt: number;
  readonly respondedAt?: number | null;
  readonly resolvedAt?: number | null;
  readonly rating?: number | null;
}
export interface CloudEvent {
  readonly id: string;
  readonly site: string;
  readonly device?: string;
  readonly type: string;
  readonly severity: string;
  readonly ts: number;
  readonly body: Readonly<Record<string, unknown>>;
}

const KEY = 'steward.cloud.session';
let token: string | undefined = (() => {
  try {
    const s = JSON.parse(localStorage.getItem(KEY) ?? 'null') as { token: string; expiresAt: number } | null;
    return s !== null && s.expiresAt > Date.now() ? s.token : undefined;
  } catch {
    return undefined;
  }
})();
const listeners = new Set<() => void>();

export const signedIn = (): boolean => token !== undefined;
export function onAuth(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
export function signOut(): void {
  token = undefined;
  localStorage.removeItem(KEY);
  listeners.forEach((fn) => fn());
}

export async function api<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`../v1${path}`, { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const data = (await res.json().catch(() => ({}))) as unknown;
  if (res.status === 401 && token !== undefined) signOut();
  if (!res.ok) throw Object.assign(new Error((data as { message?: string }).message ?? res.statusText), { status: res.status });
  return data as T;
}

export async function signIn(name: string, password: string): Promise<void> {
  const s = await api<{ token: string; expiresAt: number }>('/auth/login', { name, password });
  token = s.token;
  localStorage.setItem(KEY, JSON.stringify(s));
  listeners.forEach((fn) => fn());
}
