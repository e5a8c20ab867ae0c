/** `/v1/sites` and `/v1/sites/:site/points`: communities and the latest reading of every point. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { authenticated, principalOf, requireSiteReader } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { siteFilter } from '../../access/policy.js';
import { Point, PointsQuery, Site, SiteParams, bearer, errorResponses } from './schemas.js';

function parseValue(json: string): Point['value'] {
  const v: unknown = JSON.parse(json);
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : null;
}

const QUALITIES = new Set(['good', 'bad', 'stale']);
function quality(q: string): Point['quality'] {
  return QUALITIES.has(q) ? (q as Point['quality']) : 'bad';
}

const siteRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/sites',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['sites'],
        summary: 'Sites (communities) with their gateways, region and position where set; a gateway sees only its own site',
        security: bearer,
        response: { 200: Type.Array(Site), ...errorResponses(401) },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const db = app.stewardDb.db;
      let sites = db.selectFrom('sites').leftJoin('regions', 'regions.id', 'sites.region_id').select(['sites.id as id', 'sites.name as name', 'sites.region_id as region_id', 'regions.name as region_name', 'sites.lat as lat', 'sites.lon as lon']).orderBy('sites.id');
      let gateways = db.selectFrom('gateways').select(['id', 'site_id']).orderBy('id');
      const visible = siteFilter(principal);
      if (visible !== undefined) {
        if (visible.length === 0) return [];
        sites = sites.where('sites.id', 'in', [...visible]);
        gateways = gateways.where('site_id', 'in', [...visible]);
      }
      const [siteRows, gatewayRows] = await Promise.all([sites.execute(), gateways.execute()]);
      // Region and position only where set, so a site without them reads as before.
      return siteRows.map((s) => ({
        id: s.id,
        name: s.name,
        gateways: gatewayRows.filter((g) => g.site_id === s.id).map((g) => g.id),
        ...(s.region_id === null ? {} : { region: s.region_id, regionName: s.region_name ?? s.region_id }),
        ...(s.lat === null || s.lon === null ? {} : { lat: s.lat, lon: s.lon }),
      }));
    },
  );

  app.get(
    '/sites/:site/points',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['sites'],
        summary: "The latest reading of every point of a site (or of one device), as the site's gateway last synced it",
        security: bearer,
        params: SiteParams,
        querystring: PointsQuery,
        response: { 200: Type.Array(Point), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { site } = request.params;
      requireSiteReader(principalOf(request), site);
      const db = app.stewardDb.db;
      const known = await db.selectFrom('sites').select('id').where('id', '=', site).executeTakeFirst();
      if (known === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no site "${site}"`);
      let query = db.selectFrom('latest_readings').selectAll().where('site_id', '=', site);
      if (request.query.device !== undefined) query = query.where('device_id', '=', request.query.device);
      const rows = await query.orderBy('point_id').execute();
      return rows.map((r) => ({
        id: r.point_id,
        device: r.device_id,
        point: r.point,
        value: parseValue(r.value_json),
        quality: quality(r.quality),
        ts: r.ts,
        receivedAt: r.received_at,
      }));
    },
  );
};

export default fp(siteRoutes, { name: 'steward-routes-sites', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
