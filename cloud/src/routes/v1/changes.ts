/**
 * `GET /v1/gateways/:id/changes?after=CURSOR&waitMs=N&limit=L` — the downlink
 * (protocol/work-orders.ts ChangesReply; docs/sync-protocol.md "Downlink"). Only the
 * gateway itself may read its feed. Asking with `after` acknowledges every change ≤ it:
 * the cloud records it as the gateway's downlink cursor (`GET /v1/gateways/:id`).
 *
 * With nothing newer than `after` the request is held up to `waitMs` (≤ 30 s): it answers
 * as soon as a change is appended (an in-process wake-up) and re-reads the database every
 * second anyway, so a change committed by another cloud replica is seen within ~1 s.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { ChangesReply } from '../../../../protocol/work-orders.js';
import { readChanges, recordCursor } from '../../downlink/feed.js';
import { RECHECK_MS } from '../../downlink/notifier.js';
import { gatewaySelf, principalOf, requireGatewaySelf } from '../../plugins/auth.js';
import { GatewayIdParams, bearer, errorResponses } from './schemas.js';

/** Longest hold of a long-poll, ms (protocol: waitMs ≤ 30000). */
export const MAX_WAIT_MS = 30_000;
export const MAX_CHANGES = 1000;

const ChangesQuery = Type.Object(
  {
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'Cursor: the last change seq the gateway has applied (acknowledges every change ≤ it).' })),
    waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_MS, default: 0, description: 'Hold the request up to this long when nothing is newer (long-poll).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_CHANGES, default: 500 })),
  },
  { additionalProperties: false },
);

const changesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/gateways/:id/changes',
    {
      onRequest: gatewaySelf(app),
      schema: {
        tags: ['gateways'],
        summary: "Downlink: the gateway's change feed (work-order operations, rejections, desired configuration), long-polled",
        description:
          'Answers at once when changes after `after` exist; else holds up to `waitMs` (≤ 30000) and answers `changes: []`. `more: true`: ask again at once. Unknown kinds: skip them.',
        security: bearer,
        params: GatewayIdParams,
        querystring: ChangesQuery,
        response: { 200: ChangesReply, ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const gateway = requireGatewaySelf(principalOf(request), request.params.id);
      const after = request.query.after ?? 0;
      const limit = request.query.limit ?? 500;
      const deadline = Date.now() + (request.query.waitMs ?? 0);
      const db = app.stewardDb.db;
      const notifier = app.stewardRuntime.notifier;
      await recordCursor(db, gateway.gatewayId, after, Date.now());

      let gone = false;
      reply.raw.once('close', () => {
        gone = true;
      });
      for (;;) {
        // Subscribe before reading: a change committed between the read and the wait still wakes us.
        let wake: () => void = () => undefined;
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const unsubscribe = notifier.subscribe(gateway.gatewayId, wake);
        try {
          const { changes, more } = await readChanges(db, gateway.gatewayId, after, limit);
          const left = deadline - Date.now();
          if (changes.length > 0 || left <= 0 || gone) {
            return { changes, cursor: changes.length > 0 ? changes[changes.length - 1]!.seq : after, more, serverTime: Date.now() };
          }
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([woken, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(RECHECK_MS, left))))]);
          clearTimeout(timer);
          // Shutting down: answer now (the database may close next) rather than hold the shutdown.
          if (notifier.isClosed) return { changes: [], cursor: after, more: false, serverTime: Date.now() };
        } finally {
          unsubscribe();
        }
      }
    },
  );
};

export default fp(changesRoutes, { name: 'steward-routes-changes', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth', 'steward-runtime'] });
