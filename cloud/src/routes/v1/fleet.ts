/**
 * Fleet configuration (issue 5): releases of desired configuration — whole documents by
 * name (`site`, `profiles/<id>`, `flows`, `models/<name>`), with a version and the sha256
 * of their canonical JSON (protocol/work-orders.ts ConfigDesired) — rolled out to chosen
 * gateways (a few first: `stage`), delivered on each gateway's downlink as a
 * `config.desired` change, and rolled back. Each gateway reports what it applied with a
 * `config.applied` event; `GET /v1/gateways/:id` shows desired and applied versions.
 *
 * A rollback is a new release (a higher version) carrying the parts of the version rolled
 * back to, so versions only ever grow on a gateway and "newer wins" stays true.
 */
import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { canonicalJson, type ConfigDesired } from '../../../../protocol/work-orders.js';
import { requirePermission } from '../../access/policy.js';
import type { Effects } from '../../downlink/effects.js';
import { appendChange } from '../../downlink/feed.js';
import { authenticated, principalOf } from '../../plugins/auth.js';
import { CloudError } from '../../plugins/errors.js';
import { withEffects } from '../../workorders/tx.js';
import type { Transaction } from 'kysely';
import type { CloudSchema } from '../../db/schema.js';
import type { Dialect } from '../../db/migrations.js';
import { Id, bearer, errorResponses } from './schemas.js';

/** Most bytes of one release's parts together (the downlink change carries them whole). */
export const MAX_RELEASE_BYTES = 4 * 1024 * 1024;
const PART_NAME = '^(site|flows|profiles/[a-z0-9][a-z0-9/_-]*|models/[a-z0-9][a-z0-9_-]*)$';
const PART_NAME_RE = new RegExp(PART_NAME);

const Release = Type.Object(
  { version: Type.Integer(), checksum: Type.String(), note: Type.Union([Type.String(), Type.Null()]), parts: Type.Array(Type.String()), createdBy: Type.String(), createdAt: Type.Integer() },
  { additionalProperties: false },
);
const Targets = Type.Object(
  {
    gateways: Type.Optional(Type.Array(Id, { maxItems: 10_000, uniqueItems: true })),
    sites: Type.Optional(Type.Array(Id, { maxItems: 10_000, uniqueItems: true })),
    /** Only the first N targets (by gateway id): a staged rollout. */
    stage: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
const RolloutReply = Type.Object({ version: Type.Integer(), gateways: Type.Array(Type.String()) }, { additionalProperties: false });

export function checksumOf(parts: Record<string, string>): string {
  return createHash('sha256').update(canonicalJson(parts)).digest('hex');
}

async function targets(trx: Transaction<CloudSchema>, t: { gateways?: string[] | undefined; sites?: string[] | undefined; stage?: number | undefined }): Promise<string[]> {
  let q = trx.selectFrom('gateways').select('id');
  if (t.gateways !== undefined) q = q.where('id', 'in', t.gateways.length === 0 ? [''] : t.gateways);
  if (t.sites !== undefined) q = q.where('site_id', 'in', t.sites.length === 0 ? [''] : t.sites);
  if (t.gateways === undefined && t.sites === undefined) throw new CloudError('CS_ERR_VALIDATION', 'name the target: body/gateways or body/sites');
  const ids = (await q.orderBy('id').execute()).map((r) => r.id);
  if (t.gateways !== undefined) {
    const missing = t.gateways.filter((g) => !ids.includes(g));
    if (missing.length > 0) throw new CloudError('CS_ERR_NOT_FOUND', `no gateway ${missing.join(', ')}`);
  }
  return t.stage === undefined ? ids : ids.slice(0, t.stage);
}

/** Makes `version` the desired configuration of each gateway and puts it on their downlinks. */
async function deliver(trx: Transaction<CloudSchema>, dialect: Dialect, version: number, gateways: readonly string[], now: number, effects: Effects): Promise<void> {
  const rel = await trx.selectFrom('config_releases').selectAll().where('version', '=', version).executeTakeFirst();
  if (rel === undefined) throw new CloudError('CS_ERR_NOT_FOUND', `no release ${version}`);
  const desired: ConfigDesired = { version: rel.version, checksum: rel.checksum, parts: JSON.parse(rel.parts_json) as Record<string, string> };
  for (const g of gateways) {
    const cur = await trx.selectFrom('gateway_config').select('desired_version').where('gateway_id', '=', g).executeTakeFirst();
    await trx
      .insertInto('gateway_config')
      .values({ gateway_id: g, desired_version: version, previous_version: null, desired_at: now, applied_version: null, applied_checksum: null, applied_status: null, applied_error: null, applied_at: null })
      .onConflict((oc) => oc.column('gateway_id').doUpdateSet({ desired_version: version, previous_version: cur?.desired_version ?? null, desired_at: now }))
      .execute();
    await appendChange(trx, dialect, [g], { kind: 'config.desired', ts: now, body: { ...desired } }, effects);
  }
}

async function newRelease(trx: Transaction<CloudSchema>, parts: Record<string, string>, note: string | null, by: string, now: number): Promise<{ version: number; checksum: string }> {
  const last = await trx.selectFrom('config_releases').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  const version = Number(last?.v ?? 0) + 1;
  const checksum = checksumOf(parts);
  await trx.insertInto('config_releases').values({ version, checksum, parts_json: JSON.stringify(parts), note, created_by: by, created_at: now }).execute();
  return { version, checksum };
}

const fleetRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const db = () => app.stewardDb.db;

  app.post(
    '/config/releases',
    {
      onRequest: authenticated(app),
      bodyLimit: MAX_RELEASE_BYTES + 64 * 1024,
      schema: {
        tags: ['fleet'],
        summary: 'Create a release of desired configuration (parts: site, flows, profiles/<id>, models/<name>); answers its version and checksum',
        security: bearer,
        body: Type.Object(
          { parts: Type.Record(Type.String({ pattern: PART_NAME, maxLength: 200 }), Type.String({ maxLength: 2 * 1024 * 1024 }), { minProperties: 1, maxProperties: 500 }), note: Type.Optional(Type.String({ maxLength: 1000 })) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ version: Type.Integer(), checksum: Type.String() }, { additionalProperties: false }), ...errorResponses(400, 401, 403, 413) },
      },
    },
    async (request, reply) => {
      const user = requirePermission(principalOf(request), 'admin');
      const parts = request.body.parts as Record<string, string>;
      const bad = Object.keys(parts).find((k) => !PART_NAME_RE.test(k));
      if (bad !== undefined) throw new CloudError('CS_ERR_VALIDATION', `body/parts: "${bad.slice(0, 100)}" is not a part name (site, flows, profiles/<id>, models/<name>)`);
      if (Buffer.byteLength(JSON.stringify(parts)) > MAX_RELEASE_BYTES) throw new CloudError('CS_ERR_BODY_TOO_LARGE', `a release's parts must stay under ${MAX_RELEASE_BYTES} bytes`);
      const r = await db().transaction().execute((trx) => newRelease(trx, parts, request.body.note ?? null, user.name, Date.now()));
      return reply.code(201).send(r);
    },
  );

  app.get(
    '/config/releases',
    { onRequest: authenticated(app), schema: { tags: ['fleet'], summary: 'Releases, newest first', security: bearer, response: { 200: Type.Array(Release), ...errorResponses(401, 403) } } },
    async (request) => {
      requirePermission(principalOf(request), 'admin');
      const rows = await db().selectFrom('config_releases').selectAll().orderBy('version', 'desc').limit(200).execute();
      return rows.map((r) => ({ version: r.version, checksum: r.checksum, note: r.note, parts: Object.keys(JSON.parse(r.parts_json) as object).sort(), createdBy: r.created_by, createdAt: r.created_at }));
    },
  );

  app.post(
    '/config/releases/:version/rollout',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['fleet'],
        summary: 'Roll a release out to gateways (by id or site; `stage: N` = the first N only), as `config.desired` on their downlinks',
        security: bearer,
        params: Type.Object({ version: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) }, { additionalProperties: false }),
        body: Targets,
        response: { 200: RolloutReply, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      requirePermission(principalOf(request), 'admin');
      const now = Date.now();
      const gateways = await withEffects(app, async (trx, effects) => {
        const list = await targets(trx, request.body);
        await deliver(trx, app.stewardDb.dialect, request.params.version, list, now, effects);
        return list;
      });
      return { version: request.params.version, gateways };
    },
  );

  app.post(
    '/config/rollback',
    {
      onRequest: authenticated(app),
      schema: {
        tags: ['fleet'],
        summary: "Roll gateways back to their previous desired release (delivered as a new, higher version with the old parts)",
        security: bearer,
        body: Targets,
        response: { 200: Type.Array(Type.Object({ gateway: Type.String(), from: Type.Integer(), to: Type.Integer(), version: Type.Integer() }, { additionalProperties: false })), ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const user = requirePermission(principalOf(request), 'admin');
      const now = Date.now();
      return withEffects(app, async (trx, effects) => {
        const out: { gateway: string; from: number; to: number; version: number }[] = [];
        const byPrevious = new Map<number, { version: number; from: number[]; gateways: string[] }>();
        for (const g of await targets(trx, request.body)) {
          const c = await trx.selectFrom('gateway_config').select(['desired_version', 'previous_version']).where('gateway_id', '=', g).executeTakeFirst();
          if (c?.previous_version == null || c.desired_version === null) throw new CloudError('CS_ERR_NOT_FOUND', `gateway ${g} has no previous release to roll back to`);
          let entry = byPrevious.get(c.previous_version);
          if (entry === undefined) {
            const old = await trx.selectFrom('config_releases').select('parts_json').where('version', '=', c.previous_version).executeTakeFirstOrThrow();
            const rel = await newRelease(trx, JSON.parse(old.parts_json) as Record<string, string>, `rollback to ${c.previous_version}`, user.name, now);
            entry = { version: rel.version, from: [], gateways: [] };
            byPrevious.set(c.previous_version, entry);
          }
          entry.gateways.push(g);
          out.push({ gateway: g, from: c.desired_version, to: c.previous_version, version: entry.version });
        }
        for (const e of byPrevious.values()) await deliver(trx, app.stewardDb.dialect, e.version, e.gateways, now, effects);
        return out;
      });
    },
  );
};

export default fp(fleetRoutes, { name: 'steward-routes-fleet', fastify: '5.x', encapsulate: true, dependencies: ['steward-db', 'steward-auth', 'steward-runtime'] });
