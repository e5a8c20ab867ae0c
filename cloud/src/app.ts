/**
 * `buildCloud`: the Steward cloud as a Fastify app — plugins first (errors, db, metrics,
 * auth, docs), then the routes. Stateless apart from the database, so instances scale out
 * behind a load balancer (DESIGN.md "Storage").
 */
import { TypeBoxValidatorCompiler, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import authPlugin from './plugins/auth.js';
import dbPlugin from './plugins/db.js';
import projectorPlugin from './sync/projector-plugin.js';
import docsPlugin from './plugins/docs.js';
import errorsPlugin from './plugins/errors.js';
import metricsPlugin from './plugins/metrics.js';
import rateLimitPlugin from './plugins/rate-limit.js';
import runtimePlugin from './plugins/runtime.js';
import dashboardPlugin from './plugins/dashboard.js';
import opsRoutes from './routes/ops.js';
import authRoutes from './routes/v1/auth.js';
import batchRoutes from './routes/v1/batches.js';
import changesRoutes from './routes/v1/changes.js';
import adminRoutes from './routes/v1/admin.js';
import fleetRoutes from './routes/v1/fleet.js';
import kpiRoutes from './routes/v1/kpis.js';
import residentRoutes from './routes/v1/residents.js';
import technicianRoutes from './routes/v1/technicians.js';
import workOrderRoutes from './routes/v1/work-orders.js';
import { registerJobs } from './jobs.js';
import eventRoutes from './routes/v1/events.js';
import gatewayRoutes from './routes/v1/gateways.js';
import siteRoutes from './routes/v1/sites.js';

export interface BuildCloudOptions {
  /** A SQLite file path, `:memory:`, or a `postgres://…` URL (optionally `?schema=NAME`). */
  database: string;
  /** fastify's logger option: false (default) for silence, true for info-level JSON logs, or pino options. */
  logger?: boolean | object;
  /** Run the background loops (SLA escalation, re-dispatch, webhook delivery); default true. Tests set false and run them by hand. */
  background?: boolean;
  /** Requests a minute per credential (default 6000); false: no global limit (benchmarks). Logins stay limited. */
  rateLimitPerMinute?: number | false;
}

/** Body limit of every route but the uplink (which sets its own from protocol LIMITS): logins and enrolments are tiny. */
const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Secrets never reach the logs (CONVENTIONS §12). */
const REDACT = ['req.headers.authorization', 'req.body.token', 'req.body.password'];

function loggerOption(logger: boolean | object | undefined): FastifyServerOptions['logger'] {
  if (logger === undefined || logger === false) return false;
  if (logger === true) return { level: 'info', redact: REDACT };
  return { redact: REDACT, ...logger };
}

/**
 * Builds the cloud app, opens and migrates its database, and waits until it is ready
 * (not listening: call `app.listen`, or use `startCloud`). Close it with `app.close()`,
 * which also closes the database. The database is at `app.stewardDb`.
 */
export async function buildCloud(opts: BuildCloudOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOption(opts.logger),
    bodyLimit: DEFAULT_BODY_LIMIT,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // TypeBox's own compiler: strict `additionalProperties: false` (fastify's default Ajv
  // silently strips unknown properties instead of refusing them).
  app.setValidatorCompiler(TypeBoxValidatorCompiler);
  // Every body is JSON: refuse text/plain with 415 rather than parse it and fail the schema.
  app.removeContentTypeParser('text/plain');

  try {
    await app.register(errorsPlugin);
    await app.register(rateLimitPlugin, { perMinute: opts.rateLimitPerMinute ?? undefined });
    await app.register(dbPlugin, { database: opts.database });
    await app.register(projectorPlugin);
    await app.register(metricsPlugin);
    await app.register(runtimePlugin, { background: opts.background ?? true });
    await app.register(authPlugin);
    await app.register(docsPlugin);
    await app.register(opsRoutes);
    await app.register(dashboardPlugin); // the company dashboard at /dashboard/ (issue 8)
    await app.register(
      async (v1) => {
        await v1.register(authRoutes);
        await v1.register(gatewayRoutes);
        await v1.register(batchRoutes);
        await v1.register(changesRoutes);
        await v1.register(siteRoutes);
        await v1.register(eventRoutes);
        await v1.register(workOrderRoutes);
        await v1.register(technicianRoutes);
        await v1.register(adminRoutes);
        await v1.register(residentRoutes);
        await v1.register(fleetRoutes);
        await v1.register(kpiRoutes);
      },
      { prefix: '/v1' },
    );
    registerJobs(app);
    await app.ready();
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  return app;
}
