/**
 * `GET /v1/events`: events synced from the gateways, oldest first, in pages. A page of
 * `limit` events carries an `x-next-cursor` header; pass it as `after` for the next page.
 * The cursor is the last event's (ts, id), so events sharing a millisecond are neither
 * skipped nor repeated across pages.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { authenticated, principalOf, requireSiteReader } from '../../plugins/auth.js';
import { siteFilter } from '../../access/policy.js';
import { CloudEvent, EventsQuery, bearer, errorResponses } from './schemas.js';

/** The smallest string after every string that starts with `prefix`: '.' + 1 = '/'. */
function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

const eventRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/events',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['events'],
        summary: 'Events (alarms, device online/offline, anomalies, …), oldest first; a gateway sees only its own site',
        security: bearer,
        querystring: EventsQuery,
        response: {
          200: Type.Array(CloudEvent),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const q = request.query;
      const site = principal.kind === 'gateway' ? (q.site ?? principal.site) : q.site;
      if (site !== undefined) requireSiteReader(principal, site);
      const limit = q.limit ?? 100;

      let query = app.stewardDb.db.selectFrom('events').selectAll();
      if (site !== undefined) query = query.where('site_id', '=', site);
      else {
        const visible = siteFilter(principal);
        if (visible !== undefined) query = query.where('site_id', 'in', visible.length === 0 ? [''] : [...visible]);
      }
      if (q.type !== undefined) {
        if (q.type.endsWith('.*')) {
          // A range rather than LIKE: `_` in type names would be a LIKE wildcard, and a range uses the index.
          const prefix = q.type.slice(0, -1);
          query = query.where('type', '>=', prefix).where('type', '<', prefixEnd(prefix));
        } else {
          query = query.where('type', '=', q.type);
        }
      }
      if (q.since !== undefined) query = query.where('ts', '>=', q.since);
      if (q.after !== undefined) {
        const cut = q.after.indexOf('_');
        const afterTs = Number(q.after.slice(0, cut));
        const afterId = q.after.slice(cut + 1);
        query = query.where((eb) => eb.or([eb('ts', '>', afterTs), eb.and([eb('ts', '=', afterTs), eb('id', '>', afterId)])]));
      }
      const rows = await query.orderBy('ts').orderBy('id').limit(limit).execute();
      const last = rows[rows.length - 1];
      if (rows.length === limit && last !== undefined) void reply.header('x-next-cursor', `${last.ts}_${last.id}`);
      return rows.map((r) => ({
        id: r.id,
        site: r.site_id,
        gateway: r.gateway_id,
        ...(r.device_id === null ? {} : { device: r.device_id }),
        type: r.type,
        severity: r.severity,
        ts: r.ts,
        body: JSON.parse(r.body_json) as Record<string, unknown>,
        receivedAt: r.received_at,
      }));
    },
  );
};

export default fp(eventRoutes, { name: 'steward-routes-events', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
