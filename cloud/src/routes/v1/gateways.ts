/**
 * `/v1/gateways`: enrolment (the one unauthenticated gateway call) and gateway status.
 * The uplink, `POST /v1/gateways/:id/batches`, is in batches.ts.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { EnrolReply, EnrolRequest } from '../../../../protocol/v1.js';
import { enrolGateway } from '../../gateways/enrolment.js';
import { gatewayStatuses } from '../../gateways/status.js';
import { authenticated, principalOf, requireGatewayReader } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { seesSite, siteFilter } from '../../access/policy.js';
import { GatewayIdParams, GatewayStatus, GatewayStatusReply, Id, bearer, errorResponses } from './schemas.js';

const gatewayRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/gateways/:id/enrol',
    {
      schema: {
        tags: ['gateways'],
        summary: "Trade a one-time enrolment token for the gateway's secret",
        description: 'The token comes from `steward cloud gateway add`; it works once and for 7 days. The secret in the answer is shown once.',
        params: GatewayIdParams,
        body: EnrolRequest,
        response: { 200: EnrolReply, ...errorResponses(400, 401, 413, 415) },
      },
    },
    async (request) => enrolGateway(app.stewardDb, request.params.id, request.body.token, Date.now(), request.body.secret),
  );

  app.get(
    '/gateways/:id',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['gateways'],
        summary: "A gateway's sync status: acknowledged sequence per lane, last contact, clock offset",
        security: bearer,
        params: GatewayIdParams,
        response: { 200: GatewayStatusReply, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireGatewayReader(principal, request.params.id);
      const [status] = await gatewayStatuses(app.stewardDb.db, { id: request.params.id });
      if (status === undefined || !seesSite(principal, status.site)) throw new CloudError('CS_ERR_NOT_FOUND', `no gateway "${request.params.id}"`);
      return { ...status, serverTime: Date.now() };
    },
  );

  app.get(
    '/gateways',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['gateways'],
        summary: 'Every gateway (a gateway sees only itself), optionally of one site',
        security: bearer,
        querystring: Type.Object({ site: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 200: Type.Array(GatewayStatus), ...errorResponses(400, 401) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const filter = principal.kind === 'gateway' ? { id: principal.gatewayId } : {};
      const sites = siteFilter(principal);
      return gatewayStatuses(app.stewardDb.db, { ...filter, ...(sites === undefined ? {} : { sites }), ...(request.query.site === undefined ? {} : { site: request.query.site }) });
    },
  );
};

export default fp(gatewayRoutes, { name: 'steward-routes-gateways', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
