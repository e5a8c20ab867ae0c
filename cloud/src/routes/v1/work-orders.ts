/**
 * `/v1/work-orders`: work orders for people — staff create and operate them, dispatch
 * offers them to technicians, technicians work them from a phone (docs/cloud.md "Work
 * orders"). Every change is an operation applied by submitOp (the one state machine); an
 * illegal one is `409 CS_ERR_WO_TRANSITION` with applyOp's reason. Another site's work
 * order answers 404, as if it did not exist.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { uuidv7 } from '../../../../protocol/uuid.js';
import { UUID_PATTERN } from '../../../../protocol/v1.js';
import { CATEGORIES, PRIORITIES, WO_OPS, WO_STATUSES, type WorkOrderOp, type WorkOrderOpKind } from '../../../../protocol/work-orders.js';
import { can, requirePermission, requireSite, siteFilter } from '../../access/policy.js';
import { hashToken } from '../../crypto/tokens.js';
import { dispatchWorkOrder } from '../../dispatch/dispatch.js';
import { authenticated, principalOf, type Principal } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { slaPolicy } from '../../workorders/sla.js';
import { submitOp } from '../../workorders/submit.js';
import { withEffects } from '../../workorders/tx.js';
import { WorkOrderView, workOrderView } from '../../workorders/view.js';
import { Id, bearer, errorResponses } from './schemas.js';

const Uuid = Type.String({ pattern: UUID_PATTERN });
const WoParams = Type.Object({ id: Uuid }, { additionalProperties: false });
const Cursor = Type.String({ pattern: '^[0-9]{1,16}_[0-9a-f-]{36}$', description: 'The `x-next-cursor` header of the previous page.' });
export const MAX_PHOTO_BYTES = 5 * 1024 * 1024;
const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

const ListQuery = Type.Object(
  {
    site: Type.Optional(Id),
    status: Type.Optional(Type.Enum([...WO_STATUSES])),
    priority: Type.Optional(Type.Enum([...PRIORITIES])),
    category: Type.Optional(Type.Enum([...CATEGORIES])),
    assignee: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
    after: Type.Optional(Cursor),
  },
  { additionalProperties: false },
);

const CreateBody = Type.Object(
  {
    id: Type.Optional(Uuid),
    site: Id,
    title: Type.String({ minLength: 1, maxLength: 200 }),
    category: Type.Enum([...CATEGORIES]),
    priority: Type.Enum([...PRIORITIES]),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    device: Type.Optional(Id),
    dueAt: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    /** Raised on a resident's behalf: the answer carries the resident's progress link. */
    forResident: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const OpBody = Type.Object(
  {
    id: Type.Optional(Type.String({ pattern: UUID_PATTERN, description: 'The op id (UUIDv7), for retries from a phone: the same id twice is applied once.' })),
    op: Type.Enum(WO_OPS.filter((o) => o !== 'create')),
    data: Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 20 }),
  },
  { additionalProperties: false },
);

const OpRecord = Type.Object(
  {
    id: Type.String(),
    op: Type.String(),
    actor: Type.String(),
    ts: Type.Integer(),
    data: Type.Record(Type.String(), Type.Unknown()),
    outcome: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
    version: Type.Union([Type.Integer(), Type.Null()]),
    gateway: Type.Union([Type.String(), Type.Null()]),
    explanation: Type.Union([Type.Unknown(), Type.Null()]),
    receivedAt: Type.Integer(),
  },
  { additionalProperties: false },
);

const Assignment = Type.Object(
  { id: Type.String(), technician: Type.String(), status: Type.String(), offeredAt: Type.Integer(), acceptBy: Type.Integer(), answeredAt: Type.Union([Type.Integer(), Type.Null()]) },
  { additionalProperties: false },
);
const Escalation = Type.Object({ kind: Type.String(), dueAt: Type.Integer(), at: Type.Integer() }, { additionalProperties: false });

const Detail = Type.Object(
  { workOrder: WorkOrderView, ops: Type.Array(OpRecord), assignments: Type.Array(Assignment), escalations: Type.Array(Escalation) },
  { additionalProperties: false },
);

const Ranked = Type.Object(
  {
    name: Type.String(),
    eligible: Type.Boolean(),
    onShift: Type.Boolean(),
    distanceKm: Type.Union([Type.Number(), Type.Null()]),
    load: Type.Integer(),
    score: Type.Union([Type.Number(), Type.Null()]),
    why: Type.String(),
  },
  { additionalProperties: false },
);
const DispatchReply = Type.Object(
  { chosen: Type.Union([Type.String(), Type.Null()]), reason: Type.String(), candidates: Type.Array(Ranked), acceptBy: Type.Union([Type.Integer(), Type.Null()]), workOrder: WorkOrderView },
  { additionalProperties: false },
);

const ResidentLink = Type.Object({ token: Type.String(), path: Type.String({ description: 'GET it without login: the progress page data; POST …/rating once resolved.' }) }, { additionalProperties: false });

/** May this user perform `op` on a work order assigned to `assignee`? */
function checkOp(p: Extract<Principal, { kind: 'user' }>, op: WorkOrderOpKind, assignee: string | null): void {
  const own = can(p, 'workorder.work') && assignee === p.name;
  switch (op) {
    case 'note':
      if (own || can(p, 'workorder.create')) return;
      break;
    case 'assign':
      if (can(p, 'workorder.dispatch')) return;
      break;
    case 'start':
    case 'hold':
    case 'resume':
    case 'resolve':
      if (own || can(p, 'workorder.dispatch')) return;
      break;
    case 'cancel':
    case 'close':
    case 'reopen':
      if (can(p, 'workorder.manage')) return;
      break;
    case 'create':
      throw new CloudError('CS_ERR_VALIDATION', 'create a work order with POST /v1/work-orders');
  }
  throw new CloudError('CS_ERR_FORBIDDEN', `role ${p.role} may not ${op} this work order${p.role === 'technician' ? ' (it is not assigned to you)' : ''}`);
}

/** Issues a resident's link token (kept hashed), replacing any previous one. */
export function newResidentToken(): { token: string; hash: string } {
  const token = `str_${randomBytes(32).toString('base64url')}`;
  return { token, hash: hashToken(token) };
}

const workOrderRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = () => app.stewardDb.db;

  /** The work order if the principal may see it, else 404. */
  async function visible(principal: Principal, id: string) {
    const row = await db().selectFrom('work_orders').selectAll().where('id', '=', id).executeTakeFirst();
    if (row === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no work order ${id}`);
    requireSite(principal, row.site_id, `work order ${id}`);
    return row;
  }

  app.get(
    '/work-orders',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['work-orders'],
        summary: 'Work orders, newest first, filtered and paged (cursor in `x-next-cursor`)',
        security: bearer,
        querystring: ListQuery,
        response: { 200: Type.Array(WorkOrderView), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const q = request.query;
      let query = db().selectFrom('work_orders').selectAll();
      if (q.site !== undefined) {
        requireSite(principal, q.site);
        query = query.where('site_id', '=', q.site);
      } else {
        const sites = siteFilter(principal);
        if (sites !== undefined) query = query.where('site_id', 'in', sites.length === 0 ? [''] : [...sites]);
      }
      if (q.status !== undefined) query = query.where('status', '=', q.status);
      if (q.priority !== undefined) query = query.where('priority', '=', q.priority);
      if (q.category !== undefined) query = query.where('category', '=', q.category);
      if (q.assignee !== undefined) query = query.where('assignee', '=', q.assignee);
      if (q.after !== undefined) {
        const cut = q.after.indexOf('_');
        const ts = Number(q.after.slice(0, cut));
        const id = q.after.slice(cut + 1);
        query = query.where((eb) => eb.or([eb('created_at', '<', ts), eb.and([eb('created_at', '=', ts), eb('id', '<', id)])]));
      }
      const limit = q.limit ?? 50;
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      const last = rows[rows.length - 1];
      if (rows.length === limit && last !== undefined) void reply.header('x-next-cursor', `${last.created_at}_${last.id}`);
      return rows.map(workOrderView);
    },
  );

  app.post(
    '/work-orders',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['work-orders'],
        summary: 'Create a work order (dispatcher, site manager, admin); SLA deadlines from the priority',
        security: bearer,
        body: CreateBody,
        response: { 201: Type.Object({ workOrder: WorkOrderView, residentLink: Type.Optional(ResidentLink) }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const user = requirePermission(principalOf(request), 'workorder.create');
      const b = request.body;
      requireSite(user, b.site);
      const site = await db().selectFrom('sites').select('id').where('id', '=', b.site).executeTakeFirst();
      if (site === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no site "${b.site}"`);
      const now = Date.now();
      const resident = b.forResident === true ? newResidentToken() : undefined;
      const result = await withEffects(app, async (trx, effects) => {
        const sla = (await slaPolicy(trx))[b.priority];
        const op: WorkOrderOp = {
          id: uuidv7(now),
          workOrder: b.id ?? uuidv7(now),
          op: 'create',
          actor: user.name,
          ts: now,
          data: {
            site: b.site,
            title: b.title,
            category: b.category,
            priority: b.priority,
            dueAt: b.dueAt ?? now + sla.resolveMs,
            source: resident === undefined ? 'operator' : 'resident',
            ...(b.description === undefined ? {} : { description: b.description }),
            ...(b.device === undefined ? {} : { device: b.device }),
          },
        };
        const r = await submitOp(trx, app.stewardDb.dialect, op, {}, now, effects);
        if (r.outcome === 'accepted' && resident !== undefined) await trx.updateTable('work_orders').set({ resident_token_hash: resident.hash }).where('id', '=', op.workOrder).execute();
        return { r, id: op.workOrder };
      });
      if (result.r.outcome !== 'accepted') throw new CloudError('CS_ERR_WO_TRANSITION', result.r.reason);
      const row = await visible(user, result.id);
      void reply.code(201);
      return { workOrder: workOrderView(row), ...(resident === undefined ? {} : { residentLink: { token: resident.token, path: `/v1/public/work-orders/${resident.token}` } }) };
    },
  );

  app.get(
    '/work-orders/:id',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['work-orders'],
        summary: 'One work order with its operation log (accepted and refused), dispatch offers and escalations',
        security: bearer,
        params: WoParams,
        response: { 200: Detail, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const row = await visible(principalOf(request), request.params.id);
      const [ops, assignments, escalations] = await Promise.all([
        db().selectFrom('work_order_ops').selectAll().where('work_order_id', '=', row.id).orderBy('received_at').orderBy('id').execute(),
        db().selectFrom('assignments').selectAll().where('work_order_id', '=', row.id).orderBy('offered_at').execute(),
        db().selectFrom('escalations').selectAll().where('work_order_id', '=', row.id).orderBy('at').execute(),
      ]);
      return {
        workOrder: workOrderView(row),
        ops: ops.map((o) => ({
          id: o.id,
          op: o.op,
          actor: o.actor,
          ts: o.ts,
          data: JSON.parse(o.data_json) as Record<string, unknown>,
          outcome: o.outcome,
          reason: o.reason,
          version: o.version,
          gateway: o.gateway_id,
          explanation: o.explain_json === null ? null : (JSON.parse(o.explain_json) as unknown),
          receivedAt: o.received_at,
        })),
        assignments: assignments.map((a) => ({ id: a.id, technician: a.technician, status: a.status, offeredAt: a.offered_at, acceptBy: a.accept_by, answeredAt: a.answered_at })),
        escalations: escalations.map((e) => ({ kind: e.kind, dueAt: e.due_at, at: e.at })),
      };
    },
  );

  app.post(
    '/work-orders/:id/ops',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['work-orders'],
        summary: 'Apply an operation (assign, start, hold, resume, note, resolve, close, cancel, reopen); 409 with the reason when the state machine refuses',
        security: bearer,
        params: WoParams,
        body: OpBody,
        response: { 200: Type.Object({ opId: Type.String(), duplicate: Type.Boolean(), workOrder: WorkOrderView }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const user = requirePermission(principal, 'read');
      const row = await visible(user, request.params.id);
      checkOp(user, request.body.op, row.assignee);
      const now = Date.now();
      const op: WorkOrderOp = { id: request.body.id ?? uuidv7(now), workOrder: row.id, op: request.body.op, actor: user.name, ts: now, data: request.body.data };
      const r = await withEffects(app, (trx, effects) => submitOp(trx, app.stewardDb.dialect, op, {}, now, effects));
      if (r.outcome !== 'accepted') throw new CloudError('CS_ERR_WO_TRANSITION', r.reason);
      return { opId: op.id, duplicate: r.duplicate, workOrder: workOrderView(await visible(user, row.id)) };
    },
  );

  app.post(
    '/work-orders/:id/dispatch',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['dispatch'],
        summary: 'Offer the work order to the best technician (skill, shift, distance, load) and explain the choice',
        security: bearer,
        params: WoParams,
        response: { 200: DispatchReply, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'workorder.dispatch');
      const row = await visible(user, request.params.id);
      if (!['open', 'assigned'].includes(row.status)) throw new CloudError('CS_ERR_WO_TRANSITION', `cannot dispatch a work order that is ${row.status} (allowed from: open, assigned)`);
      const now = Date.now();
      const out = await withEffects(app, (trx, effects) => dispatchWorkOrder(trx, app.stewardDb.dialect, row.id, `dispatch:${user.name}`, now, effects));
      if (out === null) throw new CloudError('CS_ERR_NOT_FOUND', `no work order ${row.id}`);
      if (out.assignment === undefined) throw new CloudError('CS_ERR_NO_TECHNICIAN', out.ranking.reason);
      return { chosen: out.ranking.chosen, reason: out.ranking.reason, candidates: out.ranking.candidates, acceptBy: out.assignment.acceptBy, workOrder: workOrderView(await visible(user, row.id)) };
    },
  );

  async function answerOffer(user: Extract<Principal, { kind: 'user' }>, id: string, accept: boolean, reason: string | undefined) {
    const row = await visible(user, id);
    if (row.assignee !== user.name) throw new CloudError('CS_ERR_FORBIDDEN', `work order ${id} is not assigned to ${user.name}`);
    const now = Date.now();
    return withEffects(app, async (trx, effects) => {
      const offer = await trx.selectFrom('assignments').selectAll().where('work_order_id', '=', id).where('technician', '=', user.name).where('status', '=', 'offered').executeTakeFirst();
      if (offer === undefined && accept && row.responded_at !== null) return; // accepted before: idempotent
      if (offer === undefined && accept && row.status !== 'assigned') throw new CloudError('CS_ERR_WO_TRANSITION', `cannot accept a work order that is ${row.status}`);
      if (offer !== undefined) await trx.updateTable('assignments').set({ status: accept ? 'accepted' : 'declined', answered_at: now }).where('id', '=', offer.id).execute();
      if (accept) {
        await trx.updateTable('work_orders').set({ responded_at: now }).where('id', '=', id).where('responded_at', 'is', null).execute();
        await submitOp(trx, app.stewardDb.dialect, { id: uuidv7(now), workOrder: id, op: 'note', actor: user.name, ts: now, data: { text: `${user.name} accepted the work order` } }, {}, now, effects);
      } else {
        if (offer === undefined) await trx.insertInto('assignments').values({ id: uuidv7(now), work_order_id: id, technician: user.name, status: 'declined', offered_at: now, accept_by: now, answered_at: now, explain_json: '{}' }).execute();
        await submitOp(trx, app.stewardDb.dialect, { id: uuidv7(now), workOrder: id, op: 'note', actor: user.name, ts: now, data: { text: `${user.name} declined: ${reason ?? 'no reason given'}`.slice(0, 4000) } }, {}, now, effects);
        if (['assigned', 'open'].includes(row.status)) await dispatchWorkOrder(trx, app.stewardDb.dialect, id, 'dispatch', now, effects);
      }
    });
  }

  app.post(
    '/work-orders/:id/accept',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['technicians'],
        summary: 'Technician: accept the work order offered to me (stops re-dispatch; counts as the SLA response); then start it with an op',
        security: bearer,
        params: WoParams,
        response: { 200: WorkOrderView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'workorder.work');
      await answerOffer(user, request.params.id, true, undefined);
      return workOrderView(await visible(user, request.params.id));
    },
  );

  app.post(
    '/work-orders/:id/decline',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['technicians'],
        summary: 'Technician: decline the work order offered to me; it is dispatched to the next best',
        security: bearer,
        params: WoParams,
        body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
        response: { 200: WorkOrderView, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'workorder.work');
      await answerOffer(user, request.params.id, false, request.body.reason);
      return workOrderView(await visible(user, request.params.id));
    },
  );

  // Photos: the raw image as the body (`Content-Type: image/jpeg|png|webp`), ≤ 5 MiB.
  app.addContentTypeParser(PHOTO_TYPES, { parseAs: 'buffer', bodyLimit: MAX_PHOTO_BYTES }, (_request, body, done) => done(null, body));
  app.post(
    '/work-orders/:id/photos',
    {
      onRequest: authenticated(app),
      bodyLimit: MAX_PHOTO_BYTES,
      schema: {
        tags: ['technicians'],
        summary: 'Add a photo (raw JPEG/PNG/WebP body, ≤ 5 MiB) as a note with an attachment',
        security: bearer,
        params: WoParams,
        querystring: Type.Object({ text: Type.Optional(Type.String({ minLength: 1, maxLength: 4000 })) }, { additionalProperties: false }),
        response: { 201: Type.Object({ attachment: Type.String(), url: Type.String(), workOrder: WorkOrderView }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 404, 409, 413, 415) },
      },
    },
    async (request, reply) => {
      const user = requirePermission(principalOf(request), 'read');
      const row = await visible(user, request.params.id);
      checkOp(user, 'note', row.assignee);
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const body = request.body as unknown;
      if (!PHOTO_TYPES.includes(type) || !Buffer.isBuffer(body)) throw new CloudError('CS_ERR_MEDIA_TYPE', `send the photo as the raw body with Content-Type ${PHOTO_TYPES.join(', ')}`);
      if (body.length === 0) throw new CloudError('CS_ERR_VALIDATION', 'the photo is empty');
      const now = Date.now();
      const id = uuidv7(now);
      const url = `/v1/attachments/${id}`;
      const r = await withEffects(app, async (trx, effects) => {
        await trx.insertInto('attachments').values({ id, work_order_id: row.id, content_type: type, bytes: body.length, data: body, uploaded_by: user.name, created_at: now }).execute();
        const op: WorkOrderOp = { id: uuidv7(now), workOrder: row.id, op: 'note', actor: user.name, ts: now, data: { text: request.query.text ?? 'photo', attachments: [{ kind: 'photo', url, contentType: type, bytes: body.length }] } };
        const res = await submitOp(trx, app.stewardDb.dialect, op, {}, now, effects);
        if (res.outcome !== 'accepted') throw new CloudError('CS_ERR_WO_TRANSITION', res.reason);
        return res;
      });
      void reply.code(201);
      return { attachment: id, url, workOrder: workOrderView({ ...row, state_json: JSON.stringify(r.state) }) };
    },
  );

  app.get(
    '/attachments/:id',
    {
      onRequest: authenticated(app),
      schema: { tags: ['work-orders'], summary: 'A photo attached to a work order', security: bearer, params: WoParams, response: { ...errorResponses(400, 401, 403, 404) } },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const a = await db().selectFrom('attachments').selectAll().where('id', '=', request.params.id).executeTakeFirst();
      if (a === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no attachment ${request.params.id}`);
      await visible(principal, a.work_order_id);
      return reply.type(a.content_type).header('cache-control', 'private, max-age=86400').send(Buffer.from(a.data) as never);
    },
  );

  app.get(
    '/me/work-orders',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['technicians'],
        summary: 'Technician: my open work orders (assigned, in progress, on hold), most urgent first',
        security: bearer,
        response: { 200: Type.Array(WorkOrderView), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'read');
      const rows = await db()
        .selectFrom('work_orders')
        .selectAll()
        .where('assignee', '=', user.name)
        .where('status', 'in', ['assigned', 'in_progress', 'on_hold'])
        .orderBy('priority')
        .orderBy('due_at')
        .limit(200)
        .execute();
      return rows.filter((r) => user.sites === 'all' || user.sites.includes(r.site_id)).map(workOrderView);
    },
  );

  app.post(
    '/work-orders/:id/resident-link',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['residents'],
        summary: "Issue (or replace) the resident's progress link of a work order (site manager, admin)",
        security: bearer,
        params: WoParams,
        response: { 200: ResidentLink, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'workorder.manage');
      const row = await visible(user, request.params.id);
      const t = newResidentToken();
      await db().updateTable('work_orders').set({ resident_token_hash: t.hash }).where('id', '=', row.id).execute();
      return { token: t.token, path: `/v1/public/work-orders/${t.token}` };
    },
  );
};

export default fp(workOrderRoutes, { name: 'steward-routes-work-orders', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth', 'steward-runtime'] });
