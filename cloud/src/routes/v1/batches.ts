/**
 * `POST /v1/gateways/:id/batches` — the uplink (docs/sync-protocol.md). The gateway is
 * authenticated before the body is read (an unauthenticated client cannot make the cloud
 * inflate 2 MiB of gzip); the body is decoded with size caps, validated against protocol
 * v1's Batch, and stored all-or-nothing by sync/ingest.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { Batch, BatchAck, LIMITS, SeqGapError, SeqReusedError } from '../../../../protocol/v1.js';
import { gatewaySelf, principalOf, requireGatewaySelf } from '../../plugins/auth.js';
import type { ErrorRouteConfig } from '../../plugins/errors.js';
import { Effects } from '../../downlink/effects.js';
import { decodeBatchBody } from '../../sync/decode-body.js';
import { ingestBatch } from '../../sync/ingest.js';
import { GatewayIdParams, bearer, errorResponses } from './schemas.js';

const routeConfig: ErrorRouteConfig = { bodyTooLargeCode: 'CS_ERR_BATCH_TOO_LARGE', sizeLimitPaths: ['/items'] };

const batchRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/gateways/:id/batches',
    {
      // The decoded body may reach LIMITS.maxBatchBytes; decodeBatchBody caps the wire bytes at LIMITS.maxCompressedBytes.
      bodyLimit: LIMITS.maxBatchBytes,
      config: routeConfig,
      onRequest: gatewaySelf(app),
      preParsing: async (request, _reply, payload) => decodeBatchBody(request.headers, payload),
      onError: async (_request, _reply, error: FastifyError) => {
        const status = error.statusCode ?? 500;
        app.stewardMetrics.batch(error.code === 'CS_ERR_BATCH_SEQ_GAP' ? 'gap' : status >= 500 ? 'failed' : 'refused');
      },
      schema: {
        tags: ['gateways'],
        summary: 'Uplink: store a batch of outbox items, answer the acknowledged marks per lane',
        description:
          'JSON, optionally `Content-Encoding: gzip`. Idempotent: items at or below a lane\'s acknowledged sequence are replays and change nothing. ' +
          'New items of a lane must continue at acked+1 without holes, else 409 CS_ERR_BATCH_SEQ_GAP and nothing is stored.',
        security: bearer,
        params: GatewayIdParams,
        body: Batch,
        response: {
          200: BatchAck,
          409: Type.Union([SeqGapError, SeqReusedError]),
          ...errorResponses(400, 401, 403, 413, 415),
        },
      },
    },
    async (request) => {
      const principal = requireGatewaySelf(principalOf(request), request.params.id);
      const effects = new Effects();
      const { ack, stats, rollups } = await ingestBatch(app.stewardDb, { id: principal.gatewayId, site: principal.site }, request.body, Date.now(), effects);
      app.stewardRuntime.afterCommit(effects);
      app.stewardProjector.kick(principal.gatewayId, rollups); // roll-ups are projected after the ack (sync/projector.ts)
      app.stewardMetrics.batch('accepted', stats);
      return ack;
    },
  );
};

export default fp(batchRoutes, {
  name: 'steward-routes-batches',
  fastify: '5.x',
  encapsulate: true,
  dependencies: ['steward-db', 'steward-auth', 'steward-metrics', 'steward-runtime', 'steward-projector'],
});
