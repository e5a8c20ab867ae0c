/**
 * The gateway's HTTP API as the panel uses it (docs/gateway-api.md): same origin, JSON,
 * `Authorization: Bearer` with the session of the login. A 401 ends the session here too.
 */
export type Role = 'viewer' | 'operator' | 'technician' | 'admin';
export type Quality = 'good' | 'bad' | 'stale';
export type Value = number | boolean | string;

export interface Session {
  readonly token: string;
  readonly name: string;
  readonly role: Role;
  readonly expiresAt: number;
}

export interface Device {
  readonly id: string;
  readonly name: string;
  readonly system: string;
  readonly profile: string;
  readonly protocol: string;
  readonly location: { readonly building?: string; readonly floor?: string; readonly room?: string };
  readonly pollIntervalMs?: number;
  readonly state: string;
  readonly since: number | null;
  readonly lastOkAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
  readonly points: number;
}

export interface PointInfo {
  readonly name: string;
  readonly description: string | null;
  readonly unit: string | null;
  readonly type: string;
  readonly access: 'r' | 'rw';
  readonly range: readonly [number, number] | null;
}

export interface Latest {
  readonly id: string;
  readonly device: string;
  readonly point: string;
  readonly value: Value | null;
  readonly unit: string | null;
  readonly quality: Quality;
  readonly ts: number;
}

export interface GatewayEvent {
  readonly id: string;
  readonly ts: number;
  readonly site: string;
  readonly device?: string | null;
  readonly type: string;
  readonly severity: string;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface Sync {
  readonly enabled: boolean;
  readonly online: boolean;
  readonly backlog: number;
  readonly lastSuccessAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
}

export interface Health {
  readonly status: 'ok' | 'failing';
  readonly site: string;
  readonly version: string;
  readonly uptimeS: number;
  readonly store: { readonly ok: boolean; readonly error?: string };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

const SESSION_KEY = 'steward.session';

export function loadSession(): Session | undefined {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null') as Session | null;
    return s !== null && s.expiresAt > Date.now() ? s : undefined;
  } catch {
    return undefined;
  }
}

let session: Session | undefined = loadSession();
const sessionListeners = new Set<() => void>();

export function currentSession(): Session | undefined {
  return session;
}

export function setSession(s: Session | undefined): void {
  session = s;
  if (s === undefined) localStorage.removeItem(SESSION_KEY);
  else localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  for (const fn of sessionListeners) fn();
}

export function onSession(fn: () => void): () => void {
  sessionListeners.add(fn);
  return () => sessionListeners.delete(fn);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (session !== undefined) headers.authorization = `Bearer ${session.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method: init.method ?? 'GET', headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) });
  const text = await res.text();
  const data = text === '' ? undefined : (JSON.parse(text) as unknown);
  if (!res.ok) {
    const e = (data ?? {}) as { code?: string; message?: string };
    if (res.status === 401 && session !== undefined && !path.endsWith('/auth/login')) setSession(undefined);
    const retry = Number(res.headers.get('retry-after'));
    throw new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  return data as T;
}

/**
 * A URL the browser fetches without our headers (EventSource, <img>): the session's token
 * goes in `access_token`, for a gateway whose reads need a login (gateway.http.readAccess).
 */
export function withToken(url: string): string {
  return session === undefined ? url : `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(session.token)}`;
}

export async function login(name: string, password: string): Promise<Session> {
  const s = await api<Session>('/api/v1/auth/login', { method: 'POST', body: { name, password } });
  setSession(s);
  return s;
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, technician: 2, admin: 3 };
export function may(role: Role): boolean {
  return session !== undefined && RANK[session.role] >= RANK[role];
}
