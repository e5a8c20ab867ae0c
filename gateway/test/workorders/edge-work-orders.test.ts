/**
 * Work orders at the edge: made through the gateway's API with a login, checked by the
 * shared state machine, kept across restarts; with a cloud, each operation waits in lane 0
 * as pending until the downlink brings the cloud's confirmation or refusal.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import { canonicalJson, type WorkOrderOp } from '../../../protocol/work-orders.js';
import { hashPassword } from '../../src/api/auth.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { GatewayStore } from '../../src/store/store.js';
import { WorkOrderStore } from '../../src/store/work-orders.js';
import { Downlink } from '../../src/sync/downlink.js';

const silent = createLogger({ level: 'silent' });

t.test('through the API, without a cloud: create, operate, refusals, roles, restart', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-wo-'));
  const file = path.join(dir, 'site.yaml');
  const hash = await hashPassword('op-pass');
  writeFileSync(
    file,
    `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent }
users:
  - { name: op, role: operator, passwordHash: "${hash}" }
  - { name: watcher, role: viewer, passwordHash: "${hash}" }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 60000, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
`,
  );
  let gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: silent });
  t.teardown(() => gw.close());
  const call = async (method: string, p: string, body?: unknown, token?: string) => {
    const res = await fetch(`${gw.url}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { sync?: { pending: number } } };
  };
  const login = async (name: string) => (await call('POST', '/api/v1/auth/login', { name, password: 'op-pass' })).body.token as string;
  const op = await login('op');
  const viewer = await login('watcher');

  t.match(await call('POST', '/api/v1/work-orders', { title: 'x', priority: 'P2' }), { status: 401, body: { code: 'GW_ERR_AUTH_REQUIRED' } });
  t.match(await call('POST', '/api/v1/work-orders', { title: 'x', priority: 'P2' }, viewer), { status: 403 });
  t.match(await call('POST', '/api/v1/work-orders', { title: 'x', priority: 'P9' }, op), { status: 400, body: { message: /priority/ } });
  t.match(await call('POST', '/api/v1/work-orders', { title: 'x', priority: 'P2', device: 'pump-9' }, op), { status: 404, body: { code: 'GW_ERR_DEVICE_NOT_FOUND' } });

  const created = await call('POST', '/api/v1/work-orders', { title: 'Pump 1 leaking seal', priority: 'P2', device: 'pump-1' }, op);
  t.match(created, { status: 201, body: { status: 'open', category: 'plumbing', createdBy: 'op', priority: 'P2', sync: { pending: 0 } } }, 'category from the device system; final at once without a cloud');
  const id = created.body.id as string;
  t.match(await call('POST', `/api/v1/work-orders/${id}/ops`, { op: 'resolve', data: { resolution: 'done' } }, op), {
    status: 409,
    body: { code: 'GW_ERR_WO_REFUSED', message: /cannot resolve a work order that is open/ },
  });
  t.match(await call('POST', `/api/v1/work-orders/${id}/ops`, { op: 'assign', data: {} }, op), { status: 400, body: { message: /assign: data.* assignee/ } });
  for (const [kind, data] of [
    ['assign', { assignee: 'li.wei' }],
    ['start', {}],
    ['note', { text: 'seal ordered' }],
    ['hold', { reason: 'waiting for the seal' }],
  ] as const) {
    t.equal((await call('POST', `/api/v1/work-orders/${id}/ops`, { op: kind, data }, op)).status, 200, kind);
  }
  const one = await call('GET', `/api/v1/work-orders/${id}`);
  t.match(one.body, { status: 'on_hold', assignee: 'li.wei', holdReason: 'waiting for the seal', notes: [{ text: 'seal ordered', actor: 'op' }], allowed: ['assign', 'resume', 'note', 'resolve', 'cancel'] });
  t.equal((one.body.ops as unknown[]).length, 5);
  t.match(await call('GET', `/api/v1/work-orders/00000000-0000-7000-8000-000000000000`), { status: 404, body: { code: 'GW_ERR_WO_NOT_FOUND' } });

  await call('POST', '/api/v1/work-orders', { title: 'Lamp out in B2', priority: 'P4' }, op);
  t.equal(((await call('GET', '/api/v1/work-orders?open=true')).body.items as unknown[]).length, 2);
  t.equal(((await call('GET', '/api/v1/work-orders?status=on_hold')).body.items as unknown[]).length, 1);
  t.match(await call('GET', '/api/v1/work-orders?status=bogus'), { status: 400 });

  // Kept across a restart.
  await gw.close();
  gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: silent });
  t.match((await call('GET', `/api/v1/work-orders/${id}`)).body, { status: 'on_hold', version: 5 });
});

t.test('with a cloud: pending in lane 0, confirmed, refused, cloud-made operations, cursor, desired config', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-wo-sync-'));
  const store = new GatewayStore({ dataDir: dir, site: 's1' });
  t.teardown(() => store.close());
  const wos = new WorkOrderStore(store, true);
  const downlink = new Downlink({ store, workOrders: wos, url: 'http://127.0.0.1:9', gatewayId: 'gw-1', bearer: () => undefined, dataDir: dir, log: silent, waitMs: 0, requestTimeoutMs: 100 });
  const ts = Date.now();
  const op = (workOrder: string, kind: WorkOrderOp['op'], data: Record<string, unknown>, actor = 'op'): WorkOrderOp => ({ id: uuidv7(), workOrder, op: kind, actor, ts, data });

  const woId = uuidv7();
  const create = op(woId, 'create', { site: 's1', title: 'Pump 1 vibration', category: 'plumbing', priority: 'P3' });
  t.match(wos.addLocal(create), { status: 'open', sync: { pending: 1 } });
  const assign = op(woId, 'assign', { assignee: 'li.wei' });
  wos.addLocal(assign);
  const queued = store.peek(0, 10);
  t.same(
    queued.map((i) => [i.kind, (i.body as { id: string }).id]),
    [
      ['workorder.op', create.id],
      ['workorder.op', assign.id],
    ],
    'each operation is an outbox item in lane 0',
  );

  // The cloud confirms the create, refuses the assign, and adds an assignment of its own.
  const dispatch = op(woId, 'assign', { assignee: 'zhang.min' }, 'dispatch');
  const page = [
    { seq: 3, kind: 'workorder.op', ts, body: { ...create } },
    { seq: 4, kind: 'workorder.rejected', ts, body: { opId: assign.id, workOrder: woId, op: 'assign', reason: 'li.wei is not a technician of this site' } },
    { seq: 6, kind: 'workorder.op', ts, body: { ...dispatch } },
    { seq: 7, kind: 'workorder.future', ts, body: {} },
  ];
  t.equal(downlink.apply(page, 7), 3, 'three applied, the unknown kind skipped');
  t.equal(downlink.cursor(), 7);
  const view = wos.get(woId)!;
  t.match(view, { status: 'assigned', assignee: 'zhang.min', sync: { pending: 0, rejected: [{ op: assign.id, reason: /not a technician/ }] } });
  t.equal(downlink.status().skipped, 1);

  // A replayed page changes nothing.
  t.equal(downlink.apply(page.slice(0, 3), 7), 3, 'a replayed page goes through without error');
  t.same(wos.get(woId), view);

  // A local op that the cloud's view makes impossible is a conflict until the verdict.
  const start = op(woId, 'start', {});
  wos.addLocal(start);
  const cancel = op(woId, 'cancel', { reason: 'duplicate' }, 'staff');
  downlink.apply([{ seq: 8, kind: 'workorder.op', ts, body: { ...cancel } }], 8);
  t.match(wos.get(woId), { status: 'cancelled', sync: { pending: 1, conflicts: [{ op: start.id, reason: /cannot start a work order that is cancelled/ }] } });

  // A work order made in the cloud arrives whole.
  const cloudWo = uuidv7();
  downlink.apply([{ seq: 9, kind: 'workorder.op', ts, body: { ...op(cloudWo, 'create', { site: 's1', title: 'Annual fire check', category: 'fire', priority: 'P4' }, 'dispatcher') } }], 9);
  t.match(wos.get(cloudWo), { title: 'Annual fire check', sync: { pending: 0 } });

  // Desired configuration: staged when its checksum holds, failed when not.
  const parts = { flows: '[]', site: 'site: { id: s1 }\n' };
  const checksum = createHash('sha256').update(canonicalJson(parts)).digest('hex');
  downlink.apply([{ seq: 10, kind: 'config.desired', ts, body: { version: 3, checksum, parts } }], 10);
  t.ok(existsSync(path.join(dir, 'config', 'desired', 'v3', 'flows')));
  t.equal(readFileSync(path.join(dir, 'config', 'desired', 'v3', 'site'), 'utf8'), parts.site);
  downlink.apply([{ seq: 11, kind: 'config.desired', ts, body: { version: 4, checksum: '0'.repeat(64), parts } }], 11);
  const applied = store.events({ type: 'config.applied' });
  t.same(applied.map((e) => (e.body as { status: string }).status).sort(), ['failed', 'staged']);
  t.equal(downlink.status().desired?.status, 'failed');
  downlink.apply([{ seq: 12, kind: 'config.desired', ts, body: { version: 5, checksum: createHash('sha256').update(canonicalJson({ '../x': 'y' })).digest('hex'), parts: { '../x': 'y' } } }], 12);
  t.notOk(existsSync(path.join(dir, 'config', 'x')), 'a part name cannot escape the folder');

  // All of it survives a reopen.
  store.close();
  const again = new GatewayStore({ dataDir: dir, site: 's1' });
  t.teardown(() => again.close());
  t.match(new WorkOrderStore(again, true).get(woId), { status: 'cancelled' });
  t.equal(again.getState('downlink.cursor'), '12');
});

t.test('desired config: what can take effect live is applied after the page commits, each part reported', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-desired-'));
  const store = new GatewayStore({ dataDir: dir, site: 's1' });
  t.teardown(() => store.close());
  const seen: string[] = [];
  const downlink = new Downlink({
    store,
    workOrders: new WorkOrderStore(store, true),
    url: 'http://127.0.0.1:9',
    gatewayId: 'gw-1',
    bearer: () => undefined,
    dataDir: dir,
    log: silent,
    waitMs: 0,
    requestTimeoutMs: 100,
    applyDesired: async (d) => {
      seen.push(d.parts.flows ?? '');
      return d.parts.flows === 'bad' ? { flows: { error: 'not a flows array' } } : { flows: 'applied' };
    },
  });
  const desired = (version: number, parts: Record<string, string>) => ({ version, checksum: createHash('sha256').update(canonicalJson(parts)).digest('hex'), parts });
  const ts = Date.now();
  downlink.apply([{ seq: 1, kind: 'config.desired', ts, body: desired(1, { flows: '[]' }) }], 1);
  await downlink.settled();
  downlink.apply([{ seq: 2, kind: 'config.desired', ts, body: desired(2, { flows: '[]', site: 'x' }) }], 2);
  await downlink.settled();
  downlink.apply([{ seq: 3, kind: 'config.desired', ts, body: desired(3, { flows: 'bad' }) }], 3);
  await downlink.settled();
  t.same(seen, ['[]', '[]', 'bad']);
  const reports = store
    .events({ type: 'config.applied' })
    .map((e) => e.body as { version: number; status: string; parts: Record<string, string>; error?: string })
    .sort((a, b) => a.version - b.version);
  t.match(reports, [
    { version: 1, status: 'applied', parts: { flows: 'applied' } },
    { version: 2, status: 'staged', parts: { flows: 'applied', site: 'staged' } },
    { version: 3, status: 'failed', parts: { flows: 'failed' }, error: /flows: not a flows array/ },
  ]);
  t.equal(downlink.status().desired?.status, 'failed');
});
