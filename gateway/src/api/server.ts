/**
 * The gateway's HTTP API (DESIGN.md "Interfaces the project keeps stable"): health,
 * Prometheus metrics, devices with their state, latest point readings, events and the
 * sync state. It reads what main.ts hands it and owns no state of its own.
 */
import { createReadStream, existsSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { DeviceConfig, UserConfig } from '../core/config/load.js';
import type { Value } from '../core/model.js';
import { GatewayError, gatewayErrors } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceStatus } from '../poller/device-poller.js';
import type { GatewayStore } from '../store/store.js';
import type { SyncStatus } from '../sync/uplink.js';
import { allows, LoginThrottle, verifyPassword, type Role, type Session, type Sessions } from './auth.js';
import { renderMetrics } from './metrics.js';
import { workOrderRoutes, type WorkOrderRoutesOptions } from './work-orders.js';
import { panelPlugin, type LiveFeed } from './panel.js';

/** What the API reads from the running gateway. */
export interface ApiContext {
  readonly site: { readonly id: string; readonly name: string; readonly timezone: string };
  readonly devices: readonly DeviceConfig[];
  readonly store: GatewayStore;
  deviceStatus(id: string): DeviceStatus | undefined;
  /** Undefined when the gateway runs without a cloud. */
  syncStatus(): SyncStatus | undefined;
  /** Counters kept by main.ts (readings stored, store errors, …). */
  counters(): Readonly<Record<string, number>>;
  /** Last store failure, if the database is failing right now. */
  storeError(): { message: string; at: number } | undefined;
  readonly startedAt: number;
  readonly version: string;
  readonly users: readonly UserConfig[];
  readonly sessions: Sessions;
  /** The file of a camera picture stored with an event, if the name is one. */
  snapshotFile(device: string, file: string): string | undefined;
  /** Writes a point with its guards, and records the attempt in the audit log. */
  writePoint(device: string, point: string, value: Value, actor: string): Promise<{ previous: Value | null }>;
  /** Work orders at the edge (api/work-orders.ts). */
  readonly workOrders?: Omit<WorkOrderRoutesOptions, 'authorize'>;
  /** Routes of parts outside api/ (flows/routes.ts), handed the login check; main.ts wires them. */
  readonly routes?: readonly ((app: FastifyInstance, authorize: (req: FastifyRequest, role: Role) => Session) => Promise<void>)[];
  /** The live stream's feed (readings as stored); without it the panel's stream still carries states, sync and events. */
  readonly live?: LiveFeed;
  /**
   * `open` (the default): reads of /api/v1 need no login, as on a control-room network of
   * its own; `login`: every read needs a viewer's token too (gateway.http.readAccess).
   */
  readonly readAccess?: 'open' | 'login';
}

/**
 * Reads a browser makes without headers of its own — the live stream (EventSource) and
 * camera pictures (<img>) — may carry the token as `?access_token=` instead (RFC 6750 §2.3).
 */
const TOKEN_IN_QUERY = /^\/api\/v1\/(live|snapshots\/)/;

const statusCodeOf: Record<string, number> = { contract: 400, auth: 401, not_found: 404, conflict: 409, limit: 503, timeout: 504, communication: 502 };
const statusOfCode: Record<string, number> = { GW_ERR_FORBIDDEN: 403, GW_ERR_RATE_LIMITED: 429, GW_ERR_WRITE_REFUSED: 422, GW_ERR_DEVICE_OFFLINE: 503 };

const Login = Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false });
const WriteBody = Type.Object({ value: Type.Union([Type.Number(), Type.Boolean(), Type.String({ maxLength: 1024 })]) }, { additionalProperties: false });
const AuditQuery = Type.Object({ since: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false });

/** A valid hash of a random password: verifying against it costs what a real check costs. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

const EventsQuery = Type.Object(
  {
    type: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.*]*$', maxLength: 64 })),
    device: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' })),
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

const HistoryQuery = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0 })),
    to: Type.Optional(Type.Integer({ minimum: 0 })),
    resolution: Type.Optional(Type.Enum(['raw', 'minute', 'auto'])),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  },
  { additionalProperties: false },
);

const PointsQuery = Type.Object({ device: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' })) }, { additionalProperties: false });

export async function buildApi(ctx: ApiContext, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Per-request lines would drown the poller's logs; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  }) as unknown as FastifyInstance;
  const byId = new Map(ctx.devices.map((d) => [d.id, d]));

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof GatewayError) {
      const status = statusOfCode[err.code] ?? statusCodeOf[err.kind] ?? 500;
      if (typeof err.details.retryAfterS === 'number') void reply.header('retry-after', String(err.details.retryAfterS));
      return reply.status(status).send({ statusCode: status, code: err.code, error: err.kind, message: err.message });
    }
    const e = err as { validation?: unknown; statusCode?: number; message: string };
    if (e.validation !== undefined) {
      return reply.status(400).send({ statusCode: 400, code: 'GW_ERR_HTTP_BAD_REQUEST', error: 'Bad Request', message: e.message });
    }
    const status = e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500 ? e.statusCode : 500;
    if (status === 500) req.log.error({ err }, 'request failed');
    return reply.status(status).send({ statusCode: status, code: status === 500 ? 'GW_ERR_INTERNAL' : 'GW_ERR_HTTP_BAD_REQUEST', error: status === 500 ? 'Internal Server Error' : 'Bad Request', message: e.message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ statusCode: 404, code: 'GW_ERR_HTTP_NOT_FOUND', error: 'Not Found', message: `no route ${req.method} ${req.url}` }));

  /** The session of the request, or a 401/403 GatewayError. */
  const authorize = (req: { headers: Record<string, unknown> }, role: Role): Session => {
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) {
      throw new GatewayError('GW_ERR_AUTH_REQUIRED', `this needs a login with role ${role} or above: POST /api/v1/auth/login, then send Authorization: Bearer <token>`);
    }
    const session = ctx.sessions.verify(header.slice(7).trim());
    if (!ctx.users.some((u) => u.name === session.name && u.role === session.role)) throw new GatewayError('GW_ERR_AUTH_INVALID', `user ${session.name} no longer has that role in site.yaml: log in again`);
    if (!allows(session.role, role)) throw new GatewayError('GW_ERR_FORBIDDEN', `user ${session.name} is ${session.role}; this needs ${role} or above`);
    return session;
  };
  const throttle = new LoginThrottle();

  if (ctx.readAccess === 'login') {
    app.addHook('onRequest', async (req) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !req.url.startsWith('/api/v1/') || req.url.startsWith('/api/v1/auth/')) return;
      const header = req.headers.authorization;
      if (header === undefined && TOKEN_IN_QUERY.test(req.url)) {
        const token = new URL(req.url, 'http://gateway').searchParams.get('access_token');
        if (token !== null) {
          authorize({ headers: { authorization: `Bearer ${token}` } }, 'viewer');
          return;
        }
      }
      authorize(req, 'viewer');
    });
  }

  app.post('/api/v1/auth/login', { schema: { body: Login } }, async (req) => {
    const ip = req.ip;
    const wait = throttle.retryAfterS(ip);
    if (wait > 0) throw new GatewayError('GW_ERR_RATE_LIMITED', `too many failed logins from ${ip}: try again in ${wait} s`, { details: { retryAfterS: wait } });
    const { name, password } = req.body as { name: string; password: string };
    const user = ctx.users.find((u) => u.name === name);
    // Same answer, same work for an unknown name and a wrong password.
    const ok = user !== undefined ? await verifyPassword(user, password) : await verifyPassword({ name, role: 'viewer', passwordHash: DUMMY_HASH }, password).then(() => false);
    if (!ok || user === undefined) {
      throttle.fail(ip);
      throw new GatewayError('GW_ERR_AUTH_INVALID', 'wrong user name or password');
    }
    const { token, expiresAt } = ctx.sessions.issue(user.name, user.role);
    return { token, expiresAt, name: user.name, role: user.role };
  });

  app.post('/api/v1/points/:id/write', { schema: { body: WriteBody } }, async (req) => {
    const session = authorize(req, 'operator');
    const { id } = req.params as { id: string };
    const dot = id.indexOf('.');
    if (dot <= 0) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `"${id}" is not a point id: expected deviceId.pointName`);
    const { value } = req.body as { value: Value };
    const { previous } = await ctx.writePoint(id.slice(0, dot), id.slice(dot + 1), value, session.name);
    return { ok: true, point: id, value, previous };
  });

  app.get('/api/v1/audit', { schema: { querystring: AuditQuery } }, async (req) => {
    authorize(req, 'technician');
    const { since, limit } = req.query as { since?: number; limit?: number };
    return ctx.store.auditLog(since ?? 0, limit ?? 100);
  });

  app.get('/healthz', async (_req, reply) => {
    const storeError = ctx.storeError();
    const states = { connecting: 0, online: 0, offline: 0, disabled: 0 };
    for (const d of ctx.devices) states[ctx.deviceStatus(d.id)?.state ?? 'disabled']++;
    const sync = ctx.syncStatus();
    const body = {
      status: storeError === undefined ? 'ok' : 'failing',
      site: ctx.site.id,
      version: ctx.version,
      uptimeS: Math.round((Date.now() - ctx.startedAt) / 1000),
      devices: states,
      store: storeError === undefined ? { ok: true } : { ok: false, error: storeError.message, at: storeError.at },
      sync: sync === undefined ? { enabled: false } : { enabled: true, online: sync.online, lastSuccessAt: sync.lastSuccessAt },
    };
    return reply.status(storeError === undefined ? 200 : 503).send(body);
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type('text/plain; version=0.0.4; charset=utf-8');
    return renderMetrics(ctx);
  });

  /** What every device view says of a device: identity, where, how it is reached. */
  const identity = (d: DeviceConfig) => ({
    id: d.id,
    name: d.name ?? d.id,
    system: d.system,
    profile: d.profile.id,
    protocol: d.connection.protocol,
    location: d.location ?? {},
  });

  app.get('/api/v1/devices', async () =>
    ctx.devices.map((d) => {
      const s = ctx.deviceStatus(d.id);
      return {
        ...identity(d),
        pollIntervalMs: d.pollIntervalMs,
        state: s?.state ?? 'disabled',
        since: s?.since ?? null,
        lastOkAt: s?.lastOkAt ?? null,
        lastError: s?.lastError ?? null,
        nextAttemptAt: s?.nextAttemptAt ?? null,
        points: d.profile.points.length,
      };
    }),
  );

  app.get('/api/v1/devices/:id', async (req) => {
    const { id } = req.params as { id: string };
    const d = byId.get(id);
    if (d === undefined) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `no device "${id}" in site ${ctx.site.id}`);
    return {
      ...identity(d),
      status: ctx.deviceStatus(d.id) ?? null,
      points: d.profile.points.map((p) => ({ name: p.name, description: p.description ?? null, unit: p.unit ?? null, type: p.type, access: p.access, range: p.range ?? null })),
    };
  });

  app.get('/api/v1/points', { schema: { querystring: PointsQuery } }, async (req) => {
    const { device } = req.query as { device?: string };
    if (device !== undefined && !byId.has(device)) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `no device "${device}" in site ${ctx.site.id}`);
    return ctx.store.latest(device).map((r) => {
      const dot = r.point.indexOf('.');
      const name = r.point.slice(dot + 1);
      const unit = byId.get(r.device)?.profile.points.find((p) => p.name === name)?.unit ?? null;
      return { id: r.point, device: r.device, point: name, value: r.value, unit, quality: r.quality, ts: r.ts };
    });
  });

  app.get('/api/v1/points/:id/history', { schema: { querystring: HistoryQuery } }, async (req) => {
    const { id } = req.params as { id: string };
    const q = req.query as { from?: number; to?: number; resolution?: 'raw' | 'minute' | 'auto'; limit?: number };
    const device = byId.get(id.slice(0, Math.max(0, id.indexOf('.'))));
    const point = device?.profile.points.find((p) => `${device.id}.${p.name}` === id);
    if (device === undefined || point === undefined) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `no point "${id}" in site ${ctx.site.id}`);
    const to = q.to ?? Date.now();
    const from = q.from ?? to - 3600_000;
    if (from >= to) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `from (${from}) must be before to (${to})`);
    const limit = q.limit ?? 10_000;
    // Raw samples up to 6 hours (or as asked); 1-minute roll-ups beyond, where raw data may be gone.
    const resolution = q.resolution === 'raw' || q.resolution === 'minute' ? q.resolution : to - from <= 6 * 3600_000 ? 'raw' : 'minute';
    const base = { id, unit: point.unit ?? null, from, to, resolution };
    if (resolution === 'raw') return { ...base, samples: ctx.store.samples(id, from, to, limit) };
    return { ...base, rollups: ctx.store.rollups(id, Math.floor(from / 60_000) * 60_000, to, limit) };
  });

  app.get('/api/v1/events', { schema: { querystring: EventsQuery } }, async (req) => {
    const q = req.query as { type?: string; device?: string; since?: number; limit?: number };
    return ctx.store.events(q);
  });

  app.get('/api/v1/snapshots/:device/:file', async (req, reply) => {
    const { device, file } = req.params as { device: string; file: string };
    const full = ctx.snapshotFile(device, file);
    if (full === undefined || !existsSync(full)) throw new GatewayError('GW_ERR_HTTP_NOT_FOUND', `no snapshot ${device}/${file} (older pictures are deleted past the newest 500 of a camera)`);
    reply.type(file.endsWith('.png') ? 'image/png' : file.endsWith('.jpg') ? 'image/jpeg' : 'application/octet-stream');
    reply.header('cache-control', 'private, max-age=86400, immutable');
    return reply.send(createReadStream(full));
  });

  app.get('/api/v1/sync', async () => {
    const s = ctx.syncStatus();
    if (s === undefined) {
      const lanes = Object.fromEntries(([0, 1, 2] as const).map((l) => [String(l), ctx.store.laneStatus(l)]));
      return { enabled: false, online: false, lanes, lastSuccessAt: null, lastError: null };
    }
    return s;
  });

  if (ctx.workOrders !== undefined) await app.register(workOrderRoutes, { ...ctx.workOrders, authorize });

  app.get('/api/v1/errors', async () => Object.entries(gatewayErrors).map(([code, spec]) => ({ code, ...spec })));

  for (const add of ctx.routes ?? []) await add(app, authorize);

  await app.register(panelPlugin, { ctx, live: ctx.live }); // the control-room panel at / and GET /api/v1/live (panel.ts)

  await app.ready();
  return app;
}
