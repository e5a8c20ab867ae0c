/**
 * Residents' progress link (no login): `GET /v1/public/work-orders/:token` shows a work
 * order's progress, `POST /v1/public/work-orders/:token/rating` takes one satisfaction
 * rating once it is resolved. The token is 256 random bits (`str_…`), kept only as its
 * SHA-256: unguessable like a signed link, and revocable (issuing a new link voids the
 * old one) without a signing key to manage. The page shows no names, notes or device
 * details — only what the resident needs.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { hashToken } from '../../crypto/tokens.js';
import { CloudError } from '../../plugins/errors.js';
import { publicRateLimit } from '../../plugins/rate-limit.js';
import { enqueueWebhook } from '../../webhooks/queue.js';
import { stateOf } from '../../workorders/submit.js';
import { withEffects } from '../../workorders/tx.js';
import { errorResponses } from './schemas.js';

const TokenParams = Type.Object({ token: Type.String({ pattern: '^str_[A-Za-z0-9_-]{43}$' }) }, { additionalProperties: false });
const Progress = Type.Object(
  {
    title: Type.String(),
    status: Type.String(),
    priority: Type.String(),
    createdAt: Type.Integer(),
    updatedAt: Type.Integer(),
    dueAt: Type.Integer(),
    resolvedAt: Type.Union([Type.Integer(), Type.Null()]),
    steps: Type.Array(Type.Object({ status: Type.String(), at: Type.Integer() }, { additionalProperties: false })),
    rating: Type.Union([Type.Integer(), Type.Null()]),
    canRate: Type.Boolean(),
  },
  { additionalProperties: false },
);

/** What a status change looks like to a resident. */
const STEP_OF_OP: Readonly<Record<string, string>> = { create: 'received', assign: 'technician assigned', start: 'work started', hold: 'on hold', resume: 'work resumed', resolve: 'resolved', close: 'closed', cancel: 'cancelled', reopen: 'reopened' };

const residentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = () => app.stewardDb.db;
  async function byToken(token: string) {
    const row = await db().selectFrom('work_orders').selectAll().where('resident_token_hash', '=', hashToken(token)).executeTakeFirst();
    if (row === undefined) throw new CloudError('CS_ERR_NOT_FOUND', 'this link is not valid (it may have been replaced by a newer one)');
    return row;
  }

  app.get(
    '/public/work-orders/:token',
    {
      config: { rateLimit: publicRateLimit },
      schema: { tags: ['residents'], summary: "A resident's view of a work order's progress (no login)", params: TokenParams, response: { 200: Progress, ...errorResponses(400, 404, 429) } },
    },
    async (request) => {
      const row = await byToken(request.params.token);
      const s = stateOf(row);
      const ops = await db().selectFrom('work_order_ops').select(['op', 'ts']).where('work_order_id', '=', row.id).where('outcome', '=', 'accepted').where('op', '!=', 'note').orderBy('received_at').execute();
      return {
        title: s.title,
        status: s.status,
        priority: s.priority,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
        dueAt: s.dueAt,
        resolvedAt: s.resolvedAt ?? null,
        steps: ops.map((o) => ({ status: STEP_OF_OP[o.op] ?? o.op, at: o.ts })),
        rating: row.rating,
        canRate: row.rating === null && (s.status === 'resolved' || s.status === 'closed'),
      };
    },
  );

  app.post(
    '/public/work-orders/:token/rating',
    {
      config: { rateLimit: publicRateLimit },
      schema: {
        tags: ['residents'],
        summary: 'One satisfaction rating (1–5 stars) once the work order is resolved',
        params: TokenParams,
        body: Type.Object({ stars: Type.Integer({ minimum: 1, maximum: 5 }), comment: Type.Optional(Type.String({ maxLength: 1000 })) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses(400, 404, 409, 429) },
      },
    },
    async (request, reply) => {
      const row = await byToken(request.params.token);
      const s = stateOf(row);
      if (s.status !== 'resolved' && s.status !== 'closed') throw new CloudError('CS_ERR_WO_TRANSITION', `the work order is ${s.status}: it can be rated once resolved`);
      const now = Date.now();
      await withEffects(app, async (trx, effects) => {
        // Conditional on "not rated yet": two racing ratings, one wins.
        const r = await trx
          .updateTable('work_orders')
          .set({ rating: request.body.stars, rating_comment: request.body.comment ?? null, rated_at: now })
          .where('id', '=', row.id)
          .where('rating', 'is', null)
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) throw new CloudError('CS_ERR_ALREADY_RATED', 'this work order has already been rated');
        await enqueueWebhook(trx, 'workorder.rated', row.site_id, { workOrder: row.id, stars: request.body.stars }, now, effects);
      });
      return reply.code(204).send(null);
    },
  );
};

export default fp(residentRoutes, { name: 'steward-routes-residents', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-runtime'] });
