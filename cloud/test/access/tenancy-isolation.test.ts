/**
 * Tenancy (issue 5): a user and a gateway of one site try every route of the cloud
 * against another site — its ids in the path, in the query, in the body — and never read
 * or change anything of it. The routes come from the OpenAPI document, so a new route is
 * covered as soon as it exists.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { FastifyInstance } from 'fastify';
import { batchOf, enrolledGateway, eventItem, postBatch, telemetryItem, testCloud, userWith } from '../fixtures/cloud.js';

async function snapshotOfB(app: FastifyInstance, woB: string): Promise<string> {
  const db = app.stewardDb.db;
  const parts = await Promise.all([
    db.selectFrom('sites').selectAll().where('id', '=', 'site-b').execute(),
    db.selectFrom('gateways').select(['id', 'site_id', 'secret_hash', 'enrol_token_hash']).where('site_id', '=', 'site-b').execute(),
    db.selectFrom('work_orders').selectAll().where('site_id', '=', 'site-b').execute(),
    db.selectFrom('work_order_ops').selectAll().where('work_order_id', '=', woB).execute(),
    db.selectFrom('changes').selectAll().where('gateway_id', '=', 'gw-b').execute(),
    db.selectFrom('alarms').selectAll().where('site_id', '=', 'site-b').execute(),
    db.selectFrom('events').selectAll().where('site_id', '=', 'site-b').execute(),
    db.selectFrom('latest_readings').selectAll().where('site_id', '=', 'site-b').execute(),
    db.selectFrom('lane_marks').selectAll().where('gateway_id', '=', 'gw-b').execute(),
    db.selectFrom('attachments').select(['id', 'bytes']).where('work_order_id', '=', woB).execute(),
    db.selectFrom('assignments').selectAll().where('work_order_id', '=', woB).execute(),
  ]);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

t.test("one site's user and gateway against every route of another site", async (t) => {
  const app = await testCloud(t);
  const gwA = await enrolledGateway(app, 'site-a', 'gw-a');
  const gwB = await enrolledGateway(app, 'site-b', 'gw-b');
  const admin = await userWith(app, 'root', 'admin');
  // The most powerful non-admin role, scoped to site A; and a technician of A.
  const managerA = await userWith(app, 'mgr-a', 'site_manager', ['site-a']);
  const techA = await userWith(app, 'tech-a', 'technician', ['site-a']);
  await app.inject({ method: 'PUT', url: '/v1/technicians/tech-a', headers: admin, payload: { skills: ['elevator'] } });

  // Site B has data of every kind.
  await postBatch(app, gwB, batchOf(gwB, [eventItem(1, 'site-b', { type: 'alarm.raised', severity: 'critical', device: 'elev-b', body: { rule: 'entrapment' } }), telemetryItem(1, [{ id: 'pump-b.flow', v: 3, ts: 1, q: 'good' }])]));
  const woB = (await app.inject({ url: '/v1/work-orders?site=site-b', headers: admin })).json()[0].id as string;
  await app.inject({ method: 'POST', url: `/v1/work-orders/${woB}/ops`, headers: admin, payload: { op: 'assign', data: { assignee: 'tech-a' } } });
  const photo = await app.inject({ method: 'POST', url: `/v1/work-orders/${woB}/photos`, headers: { ...admin, 'content-type': 'image/png' }, payload: Buffer.from('png') });
  const attachmentB = photo.json().attachment as string;
  const before = await snapshotOfB(app, woB);

  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const params: Record<string, string> = { id: woB, site: 'site-b', name: 'tech-a', region: 'region-b', token: `str_${'x'.repeat(43)}` };
  const bodies: Record<string, unknown> = {
    'POST /v1/work-orders': { site: 'site-b', title: 'x', category: 'general', priority: 'P4' },
    'POST /v1/work-orders/{id}/ops': { op: 'cancel', data: { reason: 'x' } },
    'PUT /v1/me/location': { site: 'site-b' },
    'PATCH /v1/sites/{site}': { name: 'taken over' },
    'POST /v1/gateways': { site: 'site-b', gateway: 'gw-evil' },
    'POST /v1/users': { name: 'evil', password: 'long enough pw', role: 'admin' },
    'POST /v1/gateways/{id}/batches': batchOf(gwB, [eventItem(2, 'site-b', { type: 'alarm.cleared', severity: 'info', device: 'elev-b', body: { rule: 'entrapment' } })]),
    'POST /v1/gateways/{id}/enrol': { token: 'ste_guessed-token-value' },
  };
  const siteBIds = ['site-b', 'gw-b', woB, 'elev-b', 'pump-b', attachmentB];
  let tried = 0;
  for (const [path, methods] of Object.entries(doc.paths)) {
    if (!path.startsWith('/v1/') || path.startsWith('/v1/public/') || path === '/v1/auth/login') continue;
    for (const method of Object.keys(methods).map((m) => m.toUpperCase())) {
      const key = `${method} ${path}`;
      let url = path.replace(/\{(\w+)\}/g, (_, p: string) => (p === 'id' && path.startsWith('/v1/gateways') ? 'gw-b' : p === 'id' && path.startsWith('/v1/attachments') ? attachmentB : (params[p] ?? 'x')));
      if (method === 'GET' && !url.includes('site-b') && !url.includes(woB)) url += '?site=site-b';
      const body = bodies[key] ?? (method === 'GET' || method === 'DELETE' ? undefined : key.endsWith('/photos') ? Buffer.from('jpeg') : {});
      for (const [who, headers] of [['user of site A', managerA], ['technician of site A', techA], ['gateway of site A', gwA.auth]] as const) {
        const res = await app.inject({
          method: method as 'GET',
          url,
          headers: { ...headers, ...(key.endsWith('/photos') ? { 'content-type': 'image/jpeg' } : {}) },
          ...(body === undefined ? {} : { payload: body as string }),
        });
        tried++;
        if (res.statusCode < 300) {
          // Allowed only when it shows nothing of site B (a list filtered to the caller's scope).
          for (const idB of siteBIds) t.notOk(res.body.includes(idB), `${who}: ${key} answered ${res.statusCode} without site B's ${idB}`);
        } else {
          t.ok(res.statusCode >= 400 && res.statusCode < 500, `${who}: ${key} → ${res.statusCode} ${res.statusCode >= 500 ? res.body : ''}`);
        }
      }
    }
  }
  t.ok(tried > 60, `${tried} requests`);
  t.equal(await snapshotOfB(app, woB), before, "site B's data is unchanged");

  // And the same routes do work for site A's own data (the test is not vacuous).
  t.equal((await app.inject({ method: 'POST', url: '/v1/work-orders', headers: managerA, payload: { site: 'site-a', title: 'ok', category: 'general', priority: 'P4' } })).statusCode, 201);
  t.equal((await app.inject({ url: '/v1/gateways/gw-a/changes', headers: gwA.auth })).json().changes.length, 1);
  t.equal((await app.inject({ url: `/v1/work-orders/${uuidv7()}`, headers: managerA })).statusCode, 404);
});
