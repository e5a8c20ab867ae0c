/** Operations endpoints, outside /v1 and without authentication: `/healthz` and `/metrics`. Bind them to a private interface. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { sql } from 'kysely';
import { Type } from 'typebox';

const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    database: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
    dialect: Type.String(),
  },
  { additionalProperties: false },
);

const opsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness and database reachability: 200 when the database answers, 503 when not',
        response: { 200: Health, 503: Health },
      },
    },
    async (request, reply) => {
      const dialect = app.stewardDb.dialect;
      try {
        await sql`select 1`.execute(app.stewardDb.db);
        return { status: 'ok' as const, database: 'ok' as const, dialect };
      } catch (err) {
        request.log.error({ err }, 'health check: database unreachable');
        return reply.code(503).send({ status: 'error', database: 'error', dialect });
      }
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        response: { 200: Type.String() },
      },
    },
    async (_request, reply) => {
      void reply.type('text/plain; version=0.0.4; charset=utf-8');
      return app.stewardMetrics.render();
    },
  );
};

export default fp(opsRoutes, { name: 'steward-routes-ops', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-metrics'] });
