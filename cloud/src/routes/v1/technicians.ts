/**
 * Technicians for dispatch: skills, shifts, where they are (a site check-in or
 * coordinates). Dispatchers, site managers and admins manage the roster; a technician
 * reports their own position from the phone (`PUT /v1/me/location`).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { uuidv7 } from '../../../../protocol/uuid.js';
import { requirePermission, requireSite } from '../../access/policy.js';
import { roster, servedSites } from '../../dispatch/dispatch.js';
import { authenticated, principalOf } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { USER_NAME_PATTERN } from '../../users/users.js';
import { Id, bearer, errorResponses } from './schemas.js';

export const SKILLS = ['elevator', 'electrical', 'plumbing', 'hvac', 'fire', 'security'] as const;
const Name = Type.String({ pattern: USER_NAME_PATTERN });
const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lon = Type.Number({ minimum: -180, maximum: 180 });
const Time = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

const TechnicianBody = Type.Object(
  { skills: Type.Array(Type.Enum([...SKILLS]), { maxItems: 6, uniqueItems: true }), phone: Type.Optional(Type.String({ maxLength: 40 })) },
  { additionalProperties: false },
);
const Location = Type.Union([
  Type.Object({ site: Id }, { additionalProperties: false }),
  Type.Object({ lat: Lat, lon: Lon }, { additionalProperties: false }),
]);
const TechnicianView = Type.Object(
  {
    name: Type.String(),
    skills: Type.Array(Type.String()),
    onShift: Type.Boolean(),
    site: Type.Union([Type.String(), Type.Null()]),
    lat: Type.Union([Type.Number(), Type.Null()]),
    lon: Type.Union([Type.Number(), Type.Null()]),
    locatedAt: Type.Union([Type.Integer(), Type.Null()]),
    load: Type.Integer({ description: 'Open work orders assigned' }),
    serves: Type.Union([Type.Array(Type.String()), Type.Null()], { description: "The sites the technician serves (their login's sites and regions); null: the whole company" }),
  },
  { additionalProperties: false },
);

type UserPrincipal = ReturnType<typeof requirePermission>;

/** Whether a user scoped to `sites` shares a site with a technician serving `serves` (undefined: the whole company). */
const overlaps = (sites: UserPrincipal['sites'], serves: readonly string[] | undefined): boolean =>
  sites === 'all' || (serves !== undefined && serves.some((s) => sites.includes(s)));

const technicianRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = () => app.stewardDb.db;

  /**
   * A dispatcher or site manager manages only the technicians who serve one of their sites
   * (a technician's login scope); a technician serving the whole company only an admin.
   * Someone they may not manage is "not found", as another site's things are.
   */
  const requireManages = async (who: UserPrincipal, name: string): Promise<void> => {
    if (who.sites === 'all') return;
    if (!overlaps(who.sites, (await servedSites(db(), [name])).get(name))) throw new CloudError('CS_ERR_NOT_FOUND', `no technician "${name}" serving your sites`);
  };

  app.get(
    '/technicians',
    {
      onRequest: authenticated(app),
      schema: { tags: ['dispatch'], summary: 'The roster: skills, shift, position, workload', security: bearer, response: { 200: Type.Array(TechnicianView), ...errorResponses(401, 403) } },
    },
    async (request) => {
      const who = requirePermission(principalOf(request), 'workorder.dispatch');
      const now = Date.now();
      // Technicians who serve one of the caller's sites, and those who serve the whole company.
      const list = (await db().transaction().execute((trx) => roster(trx, now))).filter((c) => c.serves === undefined || overlaps(who.sites, c.serves));
      const rows = new Map((await db().selectFrom('technicians').selectAll().execute()).map((r) => [r.name, r]));
      return list.map((c) => {
        const r = rows.get(c.name);
        return { name: c.name, skills: [...c.skills], onShift: c.onShift, site: r?.site_id ?? null, lat: r?.lat ?? null, lon: r?.lon ?? null, locatedAt: r?.located_at ?? null, load: c.load, serves: c.serves === undefined ? null : [...c.serves] };
      });
    },
  );

  app.put(
    '/technicians/:name',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['dispatch'],
        summary: "Add or update a technician's skills (the user must exist with role technician)",
        security: bearer,
        params: Type.Object({ name: Name }, { additionalProperties: false }),
        body: TechnicianBody,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const who = requirePermission(principalOf(request), 'technician.manage');
      const user = await db().selectFrom('users').select('role').where('name', '=', request.params.name).executeTakeFirst();
      if (user?.role !== 'technician') throw new CloudError('CS_ERR_NOT_FOUND', `no user "${request.params.name}" with role technician`);
      await requireManages(who, request.params.name);
      const skills = JSON.stringify(request.body.skills);
      const phone = request.body.phone ?? null;
      await db()
        .insertInto('technicians')
        .values({ name: request.params.name, skills_json: skills, phone, lat: null, lon: null, site_id: null, located_at: null, created_at: Date.now() })
        .onConflict((oc) => oc.column('name').doUpdateSet({ skills_json: skills, phone }))
        .execute();
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/technicians/:name/shifts',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['dispatch'],
        summary: 'Add a shift (start and end, ms epoch)',
        security: bearer,
        params: Type.Object({ name: Name }, { additionalProperties: false }),
        body: Type.Object({ start: Time, end: Time }, { additionalProperties: false }),
        response: { 201: Type.Object({ id: Type.String() }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const who = requirePermission(principalOf(request), 'technician.manage');
      if (request.body.end <= request.body.start) throw new CloudError('CS_ERR_VALIDATION', 'body/end must be after body/start');
      const t = await db().selectFrom('technicians').select('name').where('name', '=', request.params.name).executeTakeFirst();
      if (t === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no technician "${request.params.name}"`);
      await requireManages(who, request.params.name);
      const id = uuidv7();
      await db().insertInto('shifts').values({ id, technician: request.params.name, start_at: request.body.start, end_at: request.body.end }).execute();
      return reply.code(201).send({ id });
    },
  );

  app.put(
    '/me/location',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['technicians'],
        summary: 'Technician: check in at a site (`{ site }`) or report coordinates (`{ lat, lon }`)',
        security: bearer,
        body: Location,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const user = requirePermission(principalOf(request), 'workorder.work');
      const body = request.body;
      const now = Date.now();
      let set: { site_id: string | null; lat: number | null; lon: number | null; located_at: number };
      if ('site' in body) {
        requireSite(user, body.site);
        set = { site_id: body.site, lat: null, lon: null, located_at: now };
      } else set = { site_id: null, lat: body.lat, lon: body.lon, located_at: now };
      const r = await db().updateTable('technicians').set(set).where('name', '=', user.name).executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) throw new CloudError('CS_ERR_NOT_FOUND', `${user.name} is not on the technicians' roster`);
      return reply.code(204).send(null);
    },
  );
};

export default fp(technicianRoutes, { name: 'steward-routes-technicians', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth'] });
