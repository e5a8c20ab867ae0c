/**
 * Company administration (role admin unless said otherwise): users and their scopes,
 * regions, sites (region, position), gateway registration, SLA policy, work-order rules,
 * webhooks; and the alarms list (anyone who reads the site).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { uuidv7 } from '../../../../protocol/uuid.js';
import { CATEGORIES, PRIORITIES } from '../../../../protocol/work-orders.js';
import { ROLES, requirePermission, requireSite, siteFilter } from '../../access/policy.js';
import { listRules, replaceRules } from '../../alarms/rules.js';
import { createGateway } from '../../gateways/enrolment.js';
import { authenticated, principalOf } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { USER_NAME_PATTERN, createUser } from '../../users/users.js';
import { WEBHOOK_EVENTS } from '../../webhooks/queue.js';
import { slaPolicy } from '../../workorders/sla.js';
import { Id, bearer, errorResponses } from './schemas.js';

const Name = Type.String({ pattern: USER_NAME_PATTERN });
const Ms = Type.Integer({ minimum: 60_000, maximum: 365 * 86_400_000 });
const Sla = Type.Object(Object.fromEntries(PRIORITIES.map((p) => [p, Type.Object({ responseMs: Ms, resolveMs: Ms }, { additionalProperties: false })])), { additionalProperties: false });
const RuleSchema = Type.Object(
  {
    id: Id,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    eventType: Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$', maxLength: 64 }),
    match: Type.Object(
      {
        text: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
        system: Type.Optional(Type.String({ maxLength: 32 })),
        minSeverity: Type.Optional(Type.Enum(['info', 'warning', 'minor', 'major', 'critical'])),
        devicePrefix: Type.Optional(Type.String({ maxLength: 64 })),
      },
      { additionalProperties: false },
    ),
    priority: Type.Enum([...PRIORITIES]),
    category: Type.Optional(Type.Enum([...CATEGORIES])),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    enabled: Type.Boolean(),
  },
  { additionalProperties: false },
);
const Webhook = Type.Object(
  { id: Type.String(), url: Type.String(), events: Type.Array(Type.String()), site: Type.Union([Type.String(), Type.Null()]), createdAt: Type.Integer() },
  { additionalProperties: false },
);
const Delivery = Type.Object(
  { id: Type.String(), event: Type.String(), status: Type.String(), attempts: Type.Integer(), nextAt: Type.Integer(), lastError: Type.Union([Type.String(), Type.Null()]), deliveredAt: Type.Union([Type.Integer(), Type.Null()]) },
  { additionalProperties: false },
);
const AlarmView = Type.Object(
  {
    id: Type.String(),
    site: Type.String(),
    device: Type.Union([Type.String(), Type.Null()]),
    rule: Type.String(),
    system: Type.Union([Type.String(), Type.Null()]),
    severity: Type.String(),
    state: Type.String(),
    acked: Type.Boolean(),
    ackedAt: Type.Union([Type.Integer(), Type.Null()]),
    raisedAt: Type.Integer(),
    clearedAt: Type.Union([Type.Integer(), Type.Null()]),
    shelvedUntil: Type.Union([Type.Integer(), Type.Null()]),
    raiseCount: Type.Integer(),
    workOrder: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = () => app.stewardDb.db;
  const admin = (request: Parameters<typeof principalOf>[0]) => requirePermission(principalOf(request), 'admin');

  app.post(
    '/users',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Create a login with a role and a scope (sites and/or regions; admin is company-wide)',
        security: bearer,
        body: Type.Object(
          {
            name: Name,
            password: Type.String({ minLength: 8, maxLength: 200 }),
            role: Type.Enum([...ROLES]),
            sites: Type.Optional(Type.Array(Id, { maxItems: 1000, uniqueItems: true })),
            regions: Type.Optional(Type.Array(Id, { maxItems: 100, uniqueItems: true })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ name: Type.String() }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      admin(request);
      const b = request.body;
      await createUser(app.stewardDb, { name: b.name, password: b.password, role: b.role, ...(b.sites === undefined ? {} : { sites: b.sites }), ...(b.regions === undefined ? {} : { regions: b.regions }) });
      return reply.code(201).send({ name: b.name });
    },
  );

  app.get(
    '/users',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Users with role and scope',
        security: bearer,
        response: {
          200: Type.Array(Type.Object({ name: Type.String(), role: Type.String(), sites: Type.Array(Type.String()), regions: Type.Array(Type.String()) }, { additionalProperties: false })),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => {
      admin(request);
      const users = await db().selectFrom('users').select(['id', 'name', 'role']).orderBy('name').execute();
      const scopes = await db().selectFrom('user_scopes').selectAll().execute();
      return users.map((u) => ({
        name: u.name,
        role: u.role,
        sites: scopes.filter((s) => s.user_id === u.id && s.scope_kind === 'site').map((s) => s.scope_id),
        regions: scopes.filter((s) => s.user_id === u.id && s.scope_kind === 'region').map((s) => s.scope_id),
      }));
    },
  );

  app.put(
    '/regions/:region',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Create or rename a region',
        security: bearer,
        params: Type.Object({ region: Id }, { additionalProperties: false }),
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      admin(request);
      await db()
        .insertInto('regions')
        .values({ id: request.params.region, name: request.body.name, created_at: Date.now() })
        .onConflict((oc) => oc.column('id').doUpdateSet({ name: request.body.name }))
        .execute();
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/sites/:site',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: "Set a site's name, region and position (for dispatch distances)",
        security: bearer,
        params: Type.Object({ site: Id }, { additionalProperties: false }),
        body: Type.Object(
          {
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            region: Type.Optional(Type.Union([Id, Type.Null()])),
            lat: Type.Optional(Type.Number({ minimum: -90, maximum: 90 })),
            lon: Type.Optional(Type.Number({ minimum: -180, maximum: 180 })),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      admin(request);
      const b = request.body;
      if (typeof b.region === 'string' && (await db().selectFrom('regions').select('id').where('id', '=', b.region).executeTakeFirst()) === undefined) {
        throw new CloudError('CS_ERR_NOT_FOUND', `no region "${b.region}"`);
      }
      const set = { ...(b.name === undefined ? {} : { name: b.name }), ...(b.region === undefined ? {} : { region_id: b.region }), ...(b.lat === undefined ? {} : { lat: b.lat }), ...(b.lon === undefined ? {} : { lon: b.lon }) };
      if (Object.keys(set).length === 0) return reply.code(204).send(null);
      const r = await db().updateTable('sites').set(set).where('id', '=', request.params.site).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new CloudError('CS_ERR_NOT_FOUND', `no site "${request.params.site}"`);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/gateways',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Register a gateway under a site (created if needed): a one-time enrolment token, valid 7 days',
        security: bearer,
        body: Type.Object({ site: Id, gateway: Id, siteName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
        response: { 201: Type.Object({ token: Type.String() }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      admin(request);
      const b = request.body;
      const token = await createGateway(app.stewardDb, { site: b.site, gateway: b.gateway, ...(b.siteName === undefined ? {} : { siteName: b.siteName }) });
      return reply.code(201).send({ token });
    },
  );

  app.get(
    '/sla',
    { onRequest: authenticated(app), schema: { tags: ['work-orders'], summary: 'SLA per priority: response and resolution times, ms', security: bearer, response: { 200: Sla, ...errorResponses(401) } } },
    async () => slaPolicy(db()),
  );

  app.put(
    '/sla',
    {
      onRequest: authenticated(app),
      schema: { tags: ['admin'], summary: 'Set the SLA per priority (applies to work orders created afterwards)', security: bearer, body: Sla, response: { 200: Sla, ...errorResponses(400, 401, 403) } },
    },
    async (request) => {
      admin(request);
      const body = request.body as Record<string, { responseMs: number; resolveMs: number }>;
      await db().transaction().execute(async (trx) => {
        for (const [priority, v] of Object.entries(body)) {
          await trx
            .insertInto('sla_policies')
            .values({ priority, response_ms: v.responseMs, resolve_ms: v.resolveMs })
            .onConflict((oc) => oc.column('priority').doUpdateSet({ response_ms: v.responseMs, resolve_ms: v.resolveMs }))
            .execute();
        }
      });
      return slaPolicy(db());
    },
  );

  app.get(
    '/rules',
    { onRequest: authenticated(app), schema: { tags: ['work-orders'], summary: 'Rules that open work orders from events, in order', security: bearer, response: { 200: Type.Array(RuleSchema), ...errorResponses(401) } } },
    async () => listRules(db()),
  );

  app.put(
    '/rules',
    {
      onRequest: authenticated(app),
      schema: { tags: ['admin'], summary: 'Replace the rules (first match wins; at least one: send rules with enabled false to turn them off)', security: bearer, body: Type.Array(RuleSchema, { minItems: 1, maxItems: 100 }), response: { 200: Type.Array(RuleSchema), ...errorResponses(400, 401, 403) } },
    },
    async (request) => {
      admin(request);
      const ids = request.body.map((r) => r.id);
      if (new Set(ids).size !== ids.length) throw new CloudError('CS_ERR_VALIDATION', 'rule ids must be unique');
      await db().transaction().execute((trx) => replaceRules(trx, request.body));
      return listRules(db());
    },
  );

  app.post(
    '/webhooks',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Subscribe a URL to events (HMAC-SHA256 signed, retried with backoff); the secret is shown once',
        security: bearer,
        body: Type.Object(
          {
            url: Type.String({ pattern: '^https?://', maxLength: 2000 }),
            events: Type.Array(Type.Enum(['*', ...WEBHOOK_EVENTS]), { minItems: 1, maxItems: 20, uniqueItems: true }),
            site: Type.Optional(Id),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), secret: Type.String() }, { additionalProperties: false }), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      admin(request);
      try {
        new URL(request.body.url);
      } catch {
        throw new CloudError('CS_ERR_VALIDATION', 'body/url is not a URL');
      }
      const id = uuidv7();
      const secret = `whs_${randomBytes(32).toString('base64url')}`;
      await db()
        .insertInto('webhooks')
        .values({ id, url: request.body.url, secret, events_json: JSON.stringify(request.body.events), site_id: request.body.site ?? null, created_at: Date.now() })
        .execute();
      return reply.code(201).send({ id, secret });
    },
  );

  app.get(
    '/webhooks',
    { onRequest: authenticated(app), schema: { tags: ['admin'], summary: 'Webhooks', security: bearer, response: { 200: Type.Array(Webhook), ...errorResponses(401, 403) } } },
    async (request) => {
      admin(request);
      const rows = await db().selectFrom('webhooks').selectAll().orderBy('created_at').execute();
      return rows.map((w) => ({ id: w.id, url: w.url, events: JSON.parse(w.events_json) as string[], site: w.site_id, createdAt: w.created_at }));
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Recent deliveries of a webhook, newest first',
        security: bearer,
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Array(Delivery), ...errorResponses(400, 401, 403) },
      },
    },
    async (request) => {
      admin(request);
      const rows = await db().selectFrom('webhook_deliveries').selectAll().where('webhook_id', '=', request.params.id).orderBy('created_at', 'desc').limit(100).execute();
      return rows.map((d) => ({ id: d.id, event: d.event, status: d.status, attempts: d.attempts, nextAt: d.next_at, lastError: d.last_error, deliveredAt: d.delivered_at }));
    },
  );

  app.delete(
    '/webhooks/:id',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['admin'],
        summary: 'Remove a webhook (pending deliveries are dropped)',
        security: bearer,
        params: Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      admin(request);
      const r = await db().deleteFrom('webhooks').where('id', '=', request.params.id).executeTakeFirst();
      if (Number(r.numDeletedRows) === 0) throw new CloudError('CS_ERR_NOT_FOUND', `no webhook ${request.params.id}`);
      await db().deleteFrom('webhook_deliveries').where('webhook_id', '=', request.params.id).where('status', '=', 'pending').execute();
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/alarms',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['events'],
        summary: 'Alarms as the gateways report them (active/cleared × acked), newest first',
        security: bearer,
        querystring: Type.Object(
          { site: Type.Optional(Id), state: Type.Optional(Type.Enum(['active', 'cleared'])), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Array(AlarmView), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      let q = db().selectFrom('alarms').selectAll();
      if (request.query.site !== undefined) {
        requireSite(principal, request.query.site);
        q = q.where('site_id', '=', request.query.site);
      } else {
        const sites = siteFilter(principal);
        if (sites !== undefined) q = q.where('site_id', 'in', sites.length === 0 ? [''] : [...sites]);
      }
      if (request.query.state !== undefined) q = q.where('state', '=', request.query.state);
      const rows = await q.orderBy('raised_at', 'desc').limit(request.query.limit ?? 200).execute();
      return rows.map((a) => ({
        id: a.id,
        site: a.site_id,
        device: a.device_id,
        rule: a.rule,
        system: a.system,
        severity: a.severity,
        state: a.state,
        acked: a.acked_at !== null,
        ackedAt: a.acked_at,
        raisedAt: a.raised_at,
        clearedAt: a.cleared_at,
        shelvedUntil: a.shelved_until,
        raiseCount: a.raise_count,
        workOrder: a.work_order_id,
      }));
    },
  );
};

export default fp(adminRoutes, { name: 'steward-routes-admin', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
