/**
 * Work orders in the cloud (issue 5): staff create and operate them with role checks;
 * every illegal transition is a 409 with the state machine's reason; alarms open work
 * orders by rule; dispatch offers, re-dispatches when not accepted in time; technicians
 * accept, add photos, resolve; SLA escalation emits a signed webhook, retried; the
 * resident's link shows progress and takes one rating.
 */
import { createServer, type IncomingMessage } from 'node:http';
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import { foldOps, WO_OPS, WO_STATUSES, type WorkOrderOpKind, type WorkOrderStatus } from '../../../protocol/work-orders.js';
import { sign } from '../../src/webhooks/worker.js';
import { batchOf, enrolledGateway, eventItem, postBatch, testCloud, userWith } from '../fixtures/cloud.js';
import type { FastifyInstance } from 'fastify';

type Auth = { authorization: string };

async function create(app: FastifyInstance, auth: Auth, body: Record<string, unknown> = {}) {
  return app.inject({ method: 'POST', url: '/v1/work-orders', headers: auth, payload: { site: 's1', title: 'Lift L3 stuck at floor 5', category: 'elevator', priority: 'P2', ...body } });
}
const opOn = (app: FastifyInstance, auth: Auth, id: string, op: string, data: Record<string, unknown> = {}) => app.inject({ method: 'POST', url: `/v1/work-orders/${id}/ops`, headers: auth, payload: { op, data } });

const DATA: Record<WorkOrderOpKind, Record<string, unknown>> = {
  create: {},
  assign: { assignee: 'tech-a' },
  start: {},
  hold: { reason: 'waiting for parts' },
  resume: {},
  note: { text: 'checked' },
  resolve: { resolution: 'fixed' },
  close: {},
  cancel: { reason: 'duplicate' },
  reopen: { reason: 'again' },
};
const PATHS: Record<WorkOrderStatus, WorkOrderOpKind[]> = {
  open: [],
  assigned: ['assign'],
  in_progress: ['assign', 'start'],
  on_hold: ['assign', 'start', 'hold'],
  resolved: ['assign', 'start', 'resolve'],
  closed: ['assign', 'start', 'resolve', 'close'],
  cancelled: ['cancel'],
};

t.test('create, operate, and every illegal transition refused with 409 and the reason', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const manager = await userWith(app, 'mgr', 'site_manager', ['s1']);
  const created = await create(app, manager, { forResident: true });
  t.equal(created.statusCode, 201, created.body);
  const wo = created.json().workOrder;
  t.match(wo, { site: 's1', status: 'open', priority: 'P2', createdBy: 'mgr' });
  t.equal(wo.dueAt - wo.createdAt, 24 * 3600_000, 'P2 resolution SLA');
  t.equal(wo.responseDueAt - wo.createdAt, 3600_000, 'P2 response SLA');
  t.match(created.json().residentLink.path, /^\/v1\/public\/work-orders\/str_/);

  let refused = 0;
  for (const status of WO_STATUSES) {
    for (const kind of WO_OPS) {
      if (kind === 'create') continue;
      const id = (await create(app, manager)).json().workOrder.id as string;
      for (const step of PATHS[status]) t.equal((await opOn(app, manager, id, step, DATA[step])).statusCode, 200, `${status} via ${step}`);
      // The expected outcome comes from the protocol's own state machine.
      const expected = foldOps([
        { id: uuidv7(), workOrder: id, op: 'create', actor: 'x', ts: 1, data: { site: 's1', title: 't', category: 'elevator', priority: 'P2' } },
        ...PATHS[status].map((k) => ({ id: uuidv7(), workOrder: id, op: k, actor: 'x', ts: 2, data: DATA[k] })),
        { id: uuidv7(), workOrder: id, op: kind, actor: 'x', ts: 3, data: DATA[kind] },
      ]);
      const res = await opOn(app, manager, id, kind, DATA[kind]);
      if (expected.ok) t.equal(res.statusCode, 200, `${kind} from ${status} allowed`);
      else {
        refused++;
        t.equal(res.statusCode, 409, `${kind} from ${status} refused`);
        t.equal(res.json().code, 'CS_ERR_WO_TRANSITION');
        t.equal(res.json().message, expected.reason, `${kind} from ${status}: the reason`);
        const after = (await app.inject({ url: `/v1/work-orders/${id}`, headers: manager })).json();
        t.equal(after.workOrder.status, status, 'nothing changed');
        t.equal(after.ops.at(-1).outcome, 'rejected', 'the refusal is in the op log');
      }
    }
  }
  t.ok(refused > 20, `${refused} illegal transitions refused`);

  const bad = await opOn(app, manager, wo.id, 'assign', { assignee: '' });
  t.equal(bad.statusCode, 409);
  t.match(bad.json().message, /invalid assign operation/);
});

t.test('roles: viewers read only, technicians work only their own, dispatchers cannot close', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const viewer = await userWith(app, 'v', 'viewer', ['s1']);
  const disp = await userWith(app, 'd', 'dispatcher', ['s1']);
  const tech = await userWith(app, 'tech-a', 'technician', ['s1']);
  const other = await userWith(app, 'tech-b', 'technician', ['s1']);
  t.equal((await create(app, viewer)).statusCode, 403);
  t.equal((await create(app, tech)).statusCode, 403);
  const id = (await create(app, disp)).json().workOrder.id;
  t.equal((await opOn(app, viewer, id, 'note', { text: 'hi' })).statusCode, 403);
  t.equal((await opOn(app, disp, id, 'assign', { assignee: 'tech-a' })).statusCode, 200);
  t.equal((await opOn(app, other, id, 'start')).statusCode, 403, 'not assigned to tech-b');
  t.equal((await opOn(app, tech, id, 'start')).statusCode, 200);
  const photo = await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/photos?text=motor%20room`, headers: { ...tech, 'content-type': 'image/jpeg' }, payload: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]) });
  t.equal(photo.statusCode, 201, photo.body);
  const img = await app.inject({ url: photo.json().url, headers: viewer });
  t.equal(img.statusCode, 200);
  t.equal(img.headers['content-type'], 'image/jpeg');
  t.equal(img.rawPayload.length, 7);
  const big = await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/photos`, headers: { ...tech, 'content-type': 'image/jpeg' }, payload: Buffer.alloc(5 * 1024 * 1024 + 1) });
  t.equal(big.statusCode, 413);
  t.equal((await opOn(app, tech, id, 'resolve', { resolution: 'rollers replaced' })).statusCode, 200);
  t.equal((await opOn(app, disp, id, 'close')).statusCode, 403, 'closing is the site manager’s');
  const mine = (await app.inject({ url: '/v1/me/work-orders', headers: tech })).json();
  t.same(mine, [], 'resolved: no longer open');
});

t.test('an entrapment alarm from a gateway opens a P1 elevator work order by rule, echoed on the downlink', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const res = await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1', { type: 'alarm.raised', severity: 'critical', device: 'elev-1-a', body: { rule: 'entrapment', system: 'elevator' } })]));
  t.equal(res.statusCode, 200);
  const admin = await userWith(app, 'root', 'admin');
  const list = (await app.inject({ url: '/v1/work-orders?site=s1', headers: admin })).json();
  t.match(list, [{ priority: 'P1', category: 'elevator', device: 'elev-1-a', source: 'rule:elevator-entrapment', title: 'Entrapment: elev-1-a' }]);
  const alarms = (await app.inject({ url: '/v1/alarms?site=s1', headers: admin })).json();
  t.match(alarms, [{ state: 'active', rule: 'entrapment', workOrder: list[0].id }]);
  const feed = (await app.inject({ url: '/v1/gateways/gw-1/changes', headers: gw.auth })).json();
  t.match(feed.changes, [{ kind: 'workorder.op', body: { op: 'create', workOrder: list[0].id, actor: 'rule:elevator-entrapment' } }]);
  // The same alarm raised again while the work order is open opens no second one.
  await postBatch(app, gw, batchOf(gw, [eventItem(2, 's1', { type: 'alarm.raised', severity: 'critical', device: 'elev-1-a', body: { rule: 'entrapment' } })]));
  t.equal((await app.inject({ url: '/v1/work-orders', headers: admin })).json().length, 1);
  // failure.predicted (lane 1) → preventive P3
  await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1', { type: 'failure.predicted', severity: 'warning', device: 'pump-2', body: { system: 'water', horizonDays: 14 } })]));
  t.match((await app.inject({ url: '/v1/work-orders?priority=P3', headers: admin })).json(), [{ category: 'plumbing', device: 'pump-2', source: 'rule:failure-predicted' }]);
});

t.test('rules: replaced as a whole by an admin; an empty list is refused (it would mean the defaults); a disabled rule opens nothing', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  const rules = (await app.inject({ url: '/v1/rules', headers: admin })).json() as { id: string; enabled: boolean }[];
  t.ok(rules.some((r) => r.id === 'elevator-entrapment'), 'the defaults');
  const empty = await app.inject({ method: 'PUT', url: '/v1/rules', headers: admin, payload: [] });
  t.equal(empty.statusCode, 400, 'an empty list is refused');
  t.match(empty.json(), { code: 'CS_ERR_VALIDATION' });
  const viewer = await userWith(app, 'v', 'viewer', ['s1']);
  t.equal((await app.inject({ method: 'PUT', url: '/v1/rules', headers: viewer, payload: rules })).statusCode, 403, 'only an admin replaces them');
  const off = rules.map((r) => ({ ...r, enabled: false }));
  const put = await app.inject({ method: 'PUT', url: '/v1/rules', headers: admin, payload: off });
  t.equal(put.statusCode, 200);
  t.ok((put.json() as { enabled: boolean }[]).every((r) => !r.enabled), 'all stored, all off');
  await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1', { type: 'alarm.raised', severity: 'critical', device: 'elev-1-a', body: { rule: 'entrapment', system: 'elevator' } })]));
  t.same((await app.inject({ url: '/v1/work-orders?site=s1', headers: admin })).json(), [], 'no work order from a disabled rule');
});

t.test("a gateway's alarm with the work order its rule opened: the cloud's rules open no second one", async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  // The shape a Steward gateway sends: the alarm record in body.alarm, then (lane 0, next
  // seq) the create operation its work-order rule made for that alarm.
  const alarm = { id: 'elev-1-a:entrapment', source: 'elev-1-a', rule: 'entrapment', device: 'elev-1-a', system: 'elevator', severity: 'critical', priority: 'P1', message: 'passenger trapped' };
  const wo = uuidv7();
  const create = { id: uuidv7(), workOrder: wo, op: 'create', actor: 'rule:p1-alarms', ts: Date.now(), data: { site: 's1', title: 'L1: passenger trapped', category: 'elevator', priority: 'P1', device: 'elev-1-a', alarm: alarm.id, source: 'rule:p1-alarms' } };
  const res = await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1', { type: 'alarm.raised', severity: 'critical', device: 'elev-1-a', body: { alarm } }), { lane: 0, seq: 2, id: uuidv7(), kind: 'workorder.op', ts: create.ts, body: create }]));
  t.equal(res.statusCode, 200, res.body);
  const list = (await app.inject({ url: '/v1/work-orders?site=s1', headers: admin })).json();
  t.equal(list.length, 1, 'only the gateway\'s work order');
  t.match(list, [{ id: wo, source: 'rule:p1-alarms' }]);
  const alarms = (await app.inject({ url: '/v1/alarms?site=s1', headers: admin })).json();
  t.match(alarms, [{ state: 'active', rule: 'entrapment' }], 'the alarm is projected from body.alarm');
  // The same alarm alone (a gateway without work-order rules): the cloud's rule opens one.
  const gw2 = await enrolledGateway(app, 's2', 'gw-2');
  await postBatch(app, gw2, batchOf(gw2, [eventItem(1, 's2', { type: 'alarm.raised', severity: 'critical', device: 'elev-9', body: { alarm: { ...alarm, id: 'elev-9:entrapment', device: 'elev-9', source: 'elev-9' } } })]));
  t.match((await app.inject({ url: '/v1/work-orders?site=s2', headers: admin })).json(), [{ priority: 'P1', source: 'rule:elevator-entrapment', device: 'elev-9' }]);
});

t.test('dispatch offers to the best technician, explains, and re-dispatches when not accepted in time', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  await app.inject({ method: 'PATCH', url: '/v1/sites/s1', headers: admin, payload: { lat: 22.5431, lon: 114.0579 } });
  const now = Date.now();
  const techs: Record<string, Auth> = {};
  for (const [name, skills, lat, lon] of [['near', ['elevator'], 22.5484, 114.1316], ['far', ['elevator'], 22.5329, 113.9305], ['plumber', ['plumbing'], 22.5431, 114.0579]] as const) {
    techs[name] = await userWith(app, name, 'technician', ['s1']);
    t.equal((await app.inject({ method: 'PUT', url: `/v1/technicians/${name}`, headers: admin, payload: { skills } })).statusCode, 204);
    t.equal((await app.inject({ method: 'POST', url: `/v1/technicians/${name}/shifts`, headers: admin, payload: { start: now - 3600_000, end: now + 8 * 3600_000 } })).statusCode, 201);
    t.equal((await app.inject({ method: 'PUT', url: '/v1/me/location', headers: techs[name], payload: { lat, lon } })).statusCode, 204);
  }
  const id = (await create(app, admin, { priority: 'P1' })).json().workOrder.id;
  const d = await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/dispatch`, headers: admin });
  t.equal(d.statusCode, 200, d.body);
  t.equal(d.json().chosen, 'near');
  t.match(d.json().reason, /near: skill elevator, on shift, 7\.\d km away/);
  t.equal(d.json().workOrder.assignee, 'near');
  const detail = (await app.inject({ url: `/v1/work-orders/${id}`, headers: admin })).json();
  t.match(detail.ops.at(-1), { op: 'assign', actor: 'dispatch:root', explanation: { reason: /near/ } }, 'the explanation is stored with the assign op');

  // Not accepted within 5 minutes (P1): the check re-dispatches to the next best.
  await app.stewardRuntime.runJob('sla', Date.now() + 6 * 60_000);
  const after = (await app.inject({ url: `/v1/work-orders/${id}`, headers: admin })).json();
  t.equal(after.workOrder.assignee, 'far');
  t.same(after.assignments.map((a: { technician: string; status: string }) => [a.technician, a.status]), [['near', 'expired'], ['far', 'offered']]);
  const acc = await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/accept`, headers: techs['far']! });
  t.equal(acc.statusCode, 200, acc.body);
  t.type(acc.json().respondedAt, 'number');
  t.equal((await opOn(app, techs['far']!, id, 'start')).statusCode, 200);
  t.match((await app.inject({ url: '/v1/me/work-orders', headers: techs['far']! })).json(), [{ id, status: 'in_progress' }]);

  // Declining hands it on; with nobody left, 409 and an escalation.
  const id2 = (await create(app, admin, { category: 'plumbing' })).json().workOrder.id;
  t.equal((await app.inject({ method: 'POST', url: `/v1/work-orders/${id2}/dispatch`, headers: admin })).json().chosen, 'plumber');
  await app.inject({ method: 'POST', url: `/v1/work-orders/${id2}/decline`, headers: techs['plumber']!, payload: { reason: 'sick' } });
  const d2 = (await app.inject({ url: `/v1/work-orders/${id2}`, headers: admin })).json();
  t.match(d2.escalations, [{ kind: 'dispatch' }]);
  const again = await app.inject({ method: 'POST', url: `/v1/work-orders/${id2}/dispatch`, headers: admin });
  t.equal(again.statusCode, 409);
  t.equal(again.json().code, 'CS_ERR_NO_TECHNICIAN');
});

t.test("technicians serve their login's sites: a site's dispatcher sees and manages only those (and sees company-wide ones); dispatch never sends one elsewhere", async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  await enrolledGateway(app, 's2', 'gw-2');
  const admin = await userWith(app, 'root', 'admin');
  const now = Date.now();
  for (const [name, sites] of [['tech-s1', ['s1']], ['tech-s2', ['s2']], ['tech-all', []]] as const) {
    await userWith(app, name, 'technician', [...sites]);
    t.equal((await app.inject({ method: 'PUT', url: `/v1/technicians/${name}`, headers: admin, payload: { skills: ['elevator'] } })).statusCode, 204);
  }
  const dispatcher = await userWith(app, 'disp-s1', 'dispatcher', ['s1']);
  const seen = (await app.inject({ url: '/v1/technicians', headers: dispatcher })).json() as { name: string }[];
  t.same(seen.map((r) => r.name).sort(), ['tech-all', 'tech-s1'], "s1's dispatcher sees s1's technician and the company-wide one, not s2's");
  t.same(((await app.inject({ url: '/v1/technicians', headers: admin })).json() as { name: string }[]).map((r) => r.name).sort(), ['tech-all', 'tech-s1', 'tech-s2'], 'an admin sees all');
  const shift = { start: now - 3600_000, end: now + 8 * 3600_000 };
  t.equal((await app.inject({ method: 'POST', url: '/v1/technicians/tech-s1/shifts', headers: dispatcher, payload: shift })).statusCode, 201, 'manages its own site\'s technician');
  t.equal((await app.inject({ method: 'PUT', url: '/v1/technicians/tech-s1', headers: dispatcher, payload: { skills: ['elevator', 'fire'] } })).statusCode, 204);
  for (const [method, url, payload] of [['PUT', '/v1/technicians/tech-s2', { skills: [] }], ['POST', '/v1/technicians/tech-s2/shifts', shift], ['PUT', '/v1/technicians/tech-all', { skills: [] }], ['POST', '/v1/technicians/tech-all/shifts', shift]] as const) {
    const res = await app.inject({ method, url, headers: dispatcher, payload });
    t.equal(res.statusCode, 404, `${method} ${url}: not another site's (or the whole company's) technician`);
  }
  for (const name of ['tech-s2', 'tech-all']) await app.inject({ method: 'POST', url: `/v1/technicians/${name}/shifts`, headers: admin, payload: shift });
  // A work order at s2: s1's technician is not a candidate, whoever is nearer or freer.
  const id = (await create(app, admin, { site: 's2' })).json().workOrder.id;
  const d = (await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/dispatch`, headers: admin })).json() as { chosen: string; candidates: { name: string; eligible: boolean; why?: string }[] };
  t.not(d.chosen, 'tech-s1');
  t.match(d.candidates.find((c) => c.name === 'tech-s1'), { eligible: false, why: 'does not serve site s2' });
});

t.test('SLA escalation emits a signed webhook, retried with backoff until delivered', async (t) => {
  const received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let failFirst = 1;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (failFirst-- > 0) {
        res.writeHead(503).end();
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;

  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  const hook = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url, events: ['workorder.escalated'] } });
  t.equal(hook.statusCode, 201);
  const { id: hookId, secret } = hook.json();
  const id = (await create(app, admin, { priority: 'P1' })).json().workOrder.id;

  await app.stewardRuntime.runJob('sla', Date.now() + 16 * 60_000); // past the 15-minute response deadline
  const detail = (await app.inject({ url: `/v1/work-orders/${id}`, headers: admin })).json();
  t.match(detail.escalations, [{ kind: 'response' }]);
  t.match(detail.workOrder.notes, [{ actor: 'sla', text: /SLA response deadline of P1 missed/ }]);
  await app.stewardRuntime.runJob('sla', Date.now() + 17 * 60_000);
  t.equal((await app.inject({ url: `/v1/work-orders/${id}`, headers: admin })).json().escalations.length, 1, 'escalated once');

  await app.stewardRuntime.runJob('webhooks', Date.now() + 17 * 60_000); // queued at the (simulated) time of the check
  let deliveries = (await app.inject({ url: `/v1/webhooks/${hookId}/deliveries`, headers: admin })).json();
  t.match(deliveries, [{ event: 'workorder.escalated', status: 'pending', attempts: 1, lastError: 'HTTP 503' }], 'first attempt failed, retry scheduled');
  t.ok(deliveries[0].nextAt >= Date.now() + 9000, 'backoff ≥ 10 s');
  await app.stewardRuntime.runJob('webhooks', deliveries[0].nextAt + 1);
  deliveries = (await app.inject({ url: `/v1/webhooks/${hookId}/deliveries`, headers: admin })).json();
  t.match(deliveries, [{ status: 'delivered', attempts: 2 }]);
  t.equal(received.length, 1);
  const got = received[0]!;
  const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(got.headers['x-steward-signature'])) ?? [];
  t.equal(v1, sign(secret, Number(ts), got.body), 'HMAC-SHA256 over t.body with the secret');
  t.match(JSON.parse(got.body), { event: 'workorder.escalated', site: 's1', data: { workOrder: id, kind: 'response' } });
});

t.test("the resident's link shows progress without login and takes one rating after resolution", async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  const created = (await create(app, admin, { forResident: true, title: 'Water leak in 3-201' })).json();
  const path = created.residentLink.path as string;
  const id = created.workOrder.id as string;
  let page = (await app.inject({ url: path })).json();
  t.match(page, { title: 'Water leak in 3-201', status: 'open', canRate: false, steps: [{ status: 'received' }] });
  t.equal((await app.inject({ method: 'POST', url: `${path}/rating`, payload: { stars: 5 } })).statusCode, 409, 'not before resolution');
  for (const [op, data] of [['assign', { assignee: 'x' }], ['start', {}], ['resolve', { resolution: 'pipe fixed' }]] as const) await opOn(app, admin, id, op, data);
  page = (await app.inject({ url: path })).json();
  t.match(page, { status: 'resolved', canRate: true });
  t.same(page.steps.map((s: { status: string }) => s.status), ['received', 'technician assigned', 'work started', 'resolved']);
  t.equal((await app.inject({ method: 'POST', url: `${path}/rating`, payload: { stars: 4, comment: 'quick' } })).statusCode, 204);
  const twice = await app.inject({ method: 'POST', url: `${path}/rating`, payload: { stars: 1 } });
  t.equal(twice.statusCode, 409);
  t.equal(twice.json().code, 'CS_ERR_ALREADY_RATED');
  t.equal((await app.inject({ url: `/v1/work-orders/${id}`, headers: admin })).json().workOrder.rating, 4);
  t.equal((await app.inject({ url: `/v1/public/work-orders/str_${'A'.repeat(43)}` })).statusCode, 404, 'a guessed token finds nothing');
  t.equal((await app.inject({ url: '/v1/public/work-orders/../../etc' })).statusCode, 404);
});
