/**
 * Work orders converge between a gateway and the real cloud (DESIGN.md "Work orders
 * converge"): made at the edge, they are pending until the cloud echoes them on the
 * downlink; made while the cloud is down, they wait in lane 0 and are confirmed once it is
 * back; an operation the cloud's order makes impossible comes back refused, with the
 * reason, and the edge shows the cloud's view.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, startCloud } from '../../cloud/src/index.js';
import { hashPassword } from '../../gateway/src/api/auth.js';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import { freePort } from '../support/ports.js';
import { until } from '../support/until.js';
import { uuidv7 } from '../../protocol/uuid.js';

interface View {
  id: string;
  status: string;
  sync: { pending: number; rejected: { reason: string }[]; conflicts: unknown[] };
}

t.test('edge work orders: confirmed online, queued offline, refusals come back', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-wo-e2e-'));
  const port = await freePort();
  const cloudUrl = `http://127.0.0.1:${port}`;
  const dbFile = path.join(dir, 'cloud.db');
  let cloud = await startCloud({ port, database: dbFile });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 's1', gateway: 'gw-1' });

  const hash = await hashPassword('op-pass');
  const file = path.join(dir, 'site.yaml');
  writeFileSync(
    file,
    `site: { id: s1, name: S }
gateway: { dataDir: ./gw, logLevel: silent, mqtt: { enabled: false } }
cloud: { url: "${cloudUrl}", gatewayId: gw-1, enrolmentToken: "${token}", requestTimeoutMs: 2000, downlinkWaitMs: 500 }
users:
  - { name: op, role: operator, passwordHash: "${hash}" }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 60000, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
`,
  );
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }), uplink: { idleMs: 50, maxBackoffMs: 300 }, downlinkWaitMs: 500 });
  t.teardown(() => gw.close());
  let session: string | undefined = undefined;
  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(session === undefined ? {} : { authorization: `Bearer ${session}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as View & Record<string, unknown>;
  };
  session = (await call('POST', '/api/v1/auth/login', { name: 'op', password: 'op-pass' })).token as string;
  const get = (id: string) => call('GET', `/api/v1/work-orders/${id}`);

  // Online: pending, then confirmed by the cloud's echo on the downlink.
  const wo = await call('POST', '/api/v1/work-orders', { title: 'Pump 1 seal leaking', priority: 'P2', device: 'pump-1' });
  t.equal(wo.sync.pending, 1, 'pending until the cloud confirms');
  await until('confirmed by the cloud', async () => ((await get(wo.id)).sync.pending === 0 ? true : undefined), 20_000);
  t.match(await get(wo.id), { status: 'open', ops: [{ sync: 'confirmed' }] });
  const status = (await (await fetch(`${gw.url}/api/v1/sync`)).json()) as { downlink: { cursor: number; online: boolean } };
  t.ok(status.downlink.cursor > 0 && status.downlink.online, 'the downlink cursor moved');

  // Offline: operations wait in lane 0 and are confirmed once the cloud is back.
  await cloud.close();
  await call('POST', `/api/v1/work-orders/${wo.id}/ops`, { op: 'assign', data: { assignee: 'li.wei' } });
  await call('POST', `/api/v1/work-orders/${wo.id}/ops`, { op: 'note', data: { text: 'parts ordered while offline' } });
  const offline = await get(wo.id);
  t.match(offline, { status: 'assigned', sync: { pending: 2 } }, 'the edge goes on offline');
  cloud = await startCloud({ port, database: dbFile });
  await until('offline operations confirmed', async () => ((await get(wo.id)).sync.pending === 0 ? true : undefined), 30_000);
  t.match(await get(wo.id), { status: 'assigned', assignee: 'li.wei', notes: [{ text: 'parts ordered while offline' }] });

  // A refusal: another gateway of the site cancels the work order while this one's uplink
  // is held back and it starts the work; the cloud, in its order, refuses the start.
  const token2 = await addGateway(cloud.app, { site: 's1', gateway: 'gw-2' });
  const enrol = (await (await fetch(`${cloudUrl}/v1/gateways/gw-2/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: token2 }) })).json()) as { secret: string };
  await gw.uplink!.stop();
  await call('POST', `/api/v1/work-orders/${wo.id}/ops`, { op: 'start', data: {} });
  t.match(await get(wo.id), { status: 'in_progress', sync: { pending: 1 } });
  const cancel = { id: uuidv7(), workOrder: wo.id, op: 'cancel', actor: 'gateway:gw-2', ts: Date.now(), data: { reason: 'duplicate of another work order' } };
  const res = await fetch(`${cloudUrl}/v1/gateways/gw-2/batches`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${enrol.secret}` },
    body: JSON.stringify({ v: 1, gateway: 'gw-2', site: 's1', sentAt: Date.now(), items: [{ lane: 0, seq: 1, id: uuidv7(), kind: 'workorder.op', ts: cancel.ts, body: cancel }] }),
  });
  t.equal(res.status, 200, 'the other gateway\'s cancel is accepted');
  await until('the cancel reaches this gateway', async () => ((await get(wo.id)).status === 'cancelled' ? true : undefined), 20_000);
  t.match(await get(wo.id), { sync: { pending: 1, conflicts: [{ kind: 'start', reason: /cannot start a work order that is cancelled/ }] } }, 'a conflict until the verdict');
  gw.uplink!.start();
  await until('the start refused by the cloud', async () => ((await get(wo.id)).sync.rejected.length === 1 ? true : undefined), 20_000);
  t.match(await get(wo.id), { status: 'cancelled', sync: { pending: 0, conflicts: [], rejected: [{ kind: 'start', reason: /cannot start a work order that is cancelled/ }] } });
});
