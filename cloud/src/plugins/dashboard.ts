/**
 * The company dashboard (issue 8): the built single-page app of cloud/dashboard/ (Vite +
 * Preact) served at `/dashboard/` with @fastify/static. It is a client of the /v1 read API
 * with a person's login, nothing more: no route here reads the database. Without a build
 * (`npm run build:dashboard`; `npm ci` does it), `/dashboard/` says how to make one.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Where `vite build cloud/dashboard` puts the dashboard. */
export const DASHBOARD_DIST = fileURLToPath(new URL('../../dashboard/dist/', import.meta.url));

async function dashboardPlugin(app: FastifyInstance, opts: { root?: string }): Promise<void> {
  const root = opts.root ?? DASHBOARD_DIST;
  app.get('/dashboard', { schema: { hide: true } }, async (_req, reply) => reply.redirect('/dashboard/'));
  if (!existsSync(`${root}/index.html`)) {
    app.get('/dashboard/', { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('The company dashboard is not built: run `npm run build:dashboard` (npm ci does it), then reload.\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/dashboard/',
    decorateReply: false,
    schemaHide: true,
    // Assets are named by content hash: cached for good; index.html never.
    setHeaders: (res, file) => res.header('cache-control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
  });
}

export default fp(dashboardPlugin, { name: 'steward-dashboard', fastify: '5.x' });
