/**
 * OpenAPI 3.1 from the route schemas (@fastify/swagger), browsable at `/docs`
 * (@fastify/swagger-ui) and as JSON at `/docs/json`. Register before the routes: swagger
 * collects them as they are added. 3.1 because TypeBox literals are JSON Schema `const`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PROTOCOL_VERSION } from '../../../protocol/v1.js';

async function docsPlugin(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Steward cloud',
        version: `v${PROTOCOL_VERSION}`,
        description:
          'Gateway uplink (enrolment, batches) and downlink (changes), work orders, dispatch, residents, KPIs, fleet configuration. Errors are `{ statusCode, code, error, message }` with a CS_ERR_* code (docs/errors.md). See docs/sync-protocol.md.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A gateway secret, or a login token from POST /v1/auth/login.' } } },
      tags: [
        { name: 'gateways', description: 'Enrolment, uplink and status of gateways' },
        { name: 'sites', description: 'Communities and their latest readings' },
        { name: 'events', description: 'Events synced from the gateways' },
        { name: 'auth', description: 'Logins' },
        { name: 'work-orders', description: 'Work orders: create, list, operations (the shared state machine), SLA, rules' },
        { name: 'dispatch', description: 'Technicians, shifts, dispatch with explanation' },
        { name: 'technicians', description: "A technician's phone: my work orders, accept, decline, photos, location" },
        { name: 'residents', description: "Residents' progress link and rating (no login)" },
        { name: 'kpis', description: 'KPIs per site or company' },
        { name: 'fleet', description: 'Desired configuration: releases, staged rollout, rollback' },
        { name: 'admin', description: 'Users and scopes, regions, sites, gateways, SLA, rules, webhooks' },
        { name: 'ops', description: 'Health and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

export default fp(docsPlugin, { name: 'steward-docs', fastify: '5.x' });
