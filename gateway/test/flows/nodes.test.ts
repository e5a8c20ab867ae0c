/**
 * Steward's Node-RED nodes (flows/nodes/), each in a Node-RED runtime started by
 * node-red-node-test-helper, against a real MQTT broker (aedes, as the gateway embeds)
 * and a stand-in of the gateway's HTTP API that answers as the real one does and records
 * what it was asked. One runtime for the whole file: Node-RED costs ~1 s and ~130 MB.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import t from 'tap';
import { until } from '../../../test/support/until.js';

const require = createRequire(import.meta.url);
const helper = require('node-red-node-test-helper') as Helper;
const nodes = ['steward-gateway', 'steward-point-in', 'steward-point-out', 'steward-alarm', 'steward-work-order'].map((n) => require(`../../../flows/nodes/${n}.js`) as unknown);

interface RedNode {
  on(event: 'input', fn: (msg: Record<string, unknown>) => void): void;
  receive(msg: Record<string, unknown>): void;
}
interface Helper {
  init(path: string, settings?: Record<string, unknown>): void;
  load(nodes: unknown[], flow: Record<string, unknown>[], credentials: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  startServer(cb: () => void): void;
  stopServer(cb: () => void): void;
  getNode(id: string): RedNode;
}

helper.init(require.resolve('node-red'));

// ── A real MQTT broker ──────────────────────────────────────────────────────────────
const broker = await Aedes.createBroker();
const mqttServer = createNetServer(broker.handle);
await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', r));
const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
const peer = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4 });

// ── The gateway's API, as far as the nodes use it ───────────────────────────────────
const calls: { method: string; url: string; auth: string | undefined; body: unknown }[] = [];
const alarms = new Map<string, { id: string; active: boolean }>();
let token = 'sgw_first';
const workOrders: Record<string, unknown>[] = [];
const api: Server = createServer((req: IncomingMessage, res) => {
  let text = '';
  req.on('data', (c: Buffer) => (text += c.toString()));
  req.on('end', () => {
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    calls.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, body });
    const send = (status: number, answer: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    };
    if (req.url === '/api/v1/auth/login') {
      return body?.name === 'node-red' && body.password === 'nr-pw' ? send(200, { token, expiresAt: Date.now() + 3600_000 }) : send(401, { code: 'GW_ERR_AUTH_INVALID', message: 'wrong user name or password' });
    }
    if (req.headers.authorization !== `Bearer ${token}` && req.method === 'POST') return send(401, { code: 'GW_ERR_AUTH_INVALID', message: 'the session has expired: log in again' });
    if (req.method === 'POST' && req.url === '/api/v1/alarms/external') {
      const key = `${String(body?.source)}/${String(body?.name)}`;
      const a = alarms.get(key) ?? { id: `alarm-${alarms.size + 1}`, active: false };
      a.active = body?.active === true;
      alarms.set(key, a);
      return send(200, { id: a.id, source: body?.source, rule: body?.name, active: a.active, severity: body?.severity });
    }
    if (req.method === 'POST' && req.url === '/api/v1/work-orders') {
      const wo = { id: `0190aaaa-0000-7000-8000-00000000000${workOrders.length + 1}`, status: 'open', ...body };
      workOrders.push(wo);
      return send(201, wo);
    }
    if (req.method === 'GET' && req.url?.startsWith('/api/v1/work-orders?')) {
      const q = new URL(req.url, 'http://x').searchParams;
      return send(200, { items: workOrders.filter((w) => w.alarm === q.get('alarm') && q.get('open') === 'true'), next: null });
    }
    if (req.method === 'POST' && req.url?.startsWith('/api/v1/points/')) {
      const id = decodeURIComponent(req.url.split('/')[4] ?? '');
      if (id === 'pump-1.outlet_pressure') return send(422, { code: 'GW_ERR_WRITE_REFUSED', message: 'pump-1.outlet_pressure is read-only' });
      return send(200, { ok: true, point: id, value: body?.value, previous: false });
    }
    if (req.method === 'GET' && req.url === '/api/v1/points?device=pump-2') return send(200, [{ id: 'pump-2.running', device: 'pump-2', point: 'running', value: true, unit: null, quality: 'good', ts: 1700000000000 }]);
    if (req.method === 'GET' && req.url?.startsWith('/api/v1/events?device=cam-1')) {
      return send(200, [
        { id: 'e2', ts: 1700000002000, device: 'cam-1', type: 'camera.motion', body: {} },
        { id: 'e1', ts: 1700000001000, device: 'cam-1', type: 'camera.motion', body: { snapshot: { file: 'e1.jpg', bytes: 1234 } } },
      ]);
    }
    return send(404, { code: 'GW_ERR_HTTP_NOT_FOUND', message: `no route ${req.method} ${req.url}` });
  });
});
await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

await new Promise<void>((r) => helper.startServer(r));
t.teardown(async () => {
  await helper.unload();
  await new Promise<void>((r) => helper.stopServer(r));
  await peer.endAsync();
  await new Promise<void>((r) => api.close(() => r()));
  mqttServer.close();
  await new Promise<void>((r) => broker.close(() => r()));
});

const gw = { id: 'gw', type: 'steward-gateway', url: apiUrl, site: 'site-a', mqttUrl };
const creds = { gw: { user: 'node-red', password: 'nr-pw' } };
/** Loads a flow of `nodes` wired to a collecting helper node `out`; returns what it got. */
async function load(flow: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  await helper.unload();
  await helper.load(nodes, [gw, ...flow, { id: 'out', type: 'helper' }], creds);
  const got: Record<string, unknown>[] = [];
  helper.getNode('out').on('input', (m) => got.push(m));
  return got;
}
const publishValue = (device: string, point: string, v: unknown, q = 'good', ts = Date.now()) =>
  peer.publishAsync(`steward/v1/site-a/${device}/${point}`, JSON.stringify({ v, ts, q }), { retain: true, qos: 1 });

t.test('point in: the retained value at start, then each change, named device.point', async (t) => {
  await publishValue('pump-1', 'outlet_pressure', 3.1);
  await publishValue('pump-9', 'outlet_pressure', 9.9); // a device not watched
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: 'pump-1, pump-2', points: 'outlet_pressure,running', changesOnly: true, wires: [['out']] }]);
  await until('the retained value', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-1.outlet_pressure', payload: 3.1, device: 'pump-1', point: 'outlet_pressure', quality: 'good' });
  await publishValue('pump-1', 'outlet_pressure', 3.1); // same value and quality: not a change
  await publishValue('pump-2', 'running', true);
  await until('the change of pump-2', () => got.some((m) => m.topic === 'pump-2.running'));
  await publishValue('pump-1', 'outlet_pressure', 0.8, 'good');
  await until('the pressure drop', () => got.filter((m) => m.topic === 'pump-1.outlet_pressure').length === 2);
  t.same(
    got.map((m) => [m.topic, m.payload]),
    [
      ['pump-1.outlet_pressure', 3.1],
      ['pump-2.running', true],
      ['pump-1.outlet_pressure', 0.8],
    ],
  );
  t.notOk(got.some((m) => m.device === 'pump-9'), 'an unwatched device sends nothing');
});

t.test('point in: a message at its input reads the latest values (from the API before the bus has one)', async (t) => {
  await peer.publishAsync('steward/v1/site-a/pump-2/running', '', { retain: true, qos: 1 }); // no retained value
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: 'pump-2', points: 'running', wires: [['out']] }]);
  helper.getNode('in').receive({ topic: 'pump-2.running' });
  await until('the read', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-2.running', payload: true, quality: 'good', ts: 1700000000000 });
});

t.test('point in: devices from the environment, a ${VAR} property', async (t) => {
  process.env.TEST_STEWARD_DEVICES = 'pump-7';
  await publishValue('pump-7', 'running', false);
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: '${TEST_STEWARD_DEVICES}', points: 'running', wires: [['out']] }]);
  await until('the value of the device named by the environment', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-7.running', payload: false });
});

t.test('point out by MQTT: {v, id} on …/set, the gateway answer on …/set/result goes on', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-point-out', gateway: 'gw', via: 'mqtt', wires: [['out']] }]);
  // The gateway's side: answer each write request with its id.
  const requests: { topic: string; body: { v: unknown; id: string } }[] = [];
  await peer.subscribeAsync('steward/v1/site-a/+/+/set', { qos: 1 });
  const onMessage = (topic: string, payload: Buffer) => {
    if (!topic.endsWith('/set')) return;
    const body = JSON.parse(payload.toString()) as { v: unknown; id: string };
    requests.push({ topic, body });
    const ok = topic.includes('channel_1');
    void peer.publishAsync(`${topic}/result`, JSON.stringify(ok ? { ok: true, v: body.v, previous: false, by: 'node-red', id: body.id } : { ok: false, code: 'GW_ERR_WRITE_REFUSED', message: 'read-only', id: body.id }), { qos: 1 });
  };
  peer.on('message', onMessage);
  t.teardown(() => {
    peer.off('message', onMessage);
  });
  await until('the MQTT link of the node', async () => {
    helper.getNode('w').receive({ topic: 'light-1.channel_1', payload: true });
    await new Promise((r) => setTimeout(r, 300));
    return got.length > 0;
  });
  t.match(got[0], { topic: 'light-1.channel_1', payload: { ok: true, point: 'light-1.channel_1', value: true, previous: false } });
  t.match(requests[0], { topic: 'steward/v1/site-a/light-1/channel_1/set', body: { v: true } });
  t.type(requests[0]?.body.id, 'string');
});

t.test('point out by API: the write, and a refused write is an error with the gateway code, not an output', async (t) => {
  const got = await load([
    { id: 'w', type: 'steward-point-out', gateway: 'gw', via: 'api', device: '', point: '', wires: [['out']] },
    { id: 'c', type: 'catch', scope: ['w'], wires: [['errors']] },
    { id: 'errors', type: 'helper' },
  ]);
  const errors: Record<string, unknown>[] = [];
  helper.getNode('errors').on('input', (m) => errors.push(m));
  helper.getNode('w').receive({ topic: 'pump-1.pressure_setpoint', payload: 4.5 });
  await until('the write', () => got.length === 1);
  t.match(got[0], { payload: { ok: true, point: 'pump-1.pressure_setpoint', value: 4.5 } });
  t.match(calls.at(-1), { method: 'POST', url: '/api/v1/points/pump-1.pressure_setpoint/write', auth: /^Bearer sgw_/, body: { value: 4.5 } });
  helper.getNode('w').receive({ topic: 'pump-1.outlet_pressure', payload: 1 });
  await until('the refusal', () => errors.length === 1);
  t.match(String((errors[0]?.error as { message: string }).message), /read-only/);
  t.equal(got.length, 1, 'nothing sent on for a refused write');
});

t.test('alarm: raise and clear by msg.payload, logged in again when the session expired', async (t) => {
  const got = await load([{ id: 'a', type: 'steward-alarm', gateway: 'gw', action: 'raise', source: '', alarmName: 'low_pressure_running', severity: 'major', message: 'low pressure while running', wires: [['out']] }]);
  token = 'sgw_second'; // the gateway's earlier sessions are gone
  helper.getNode('a').receive({ device: 'pump-1', payload: true });
  await until('the raise', () => got.length === 1);
  t.match(got[0], { payload: { id: 'alarm-1', active: true }, alarm: { source: 'pump-1', name: 'low_pressure_running', active: true, severity: 'major', id: 'alarm-1' } });
  t.match(
    calls.filter((c) => c.url === '/api/v1/alarms/external').at(-1),
    { auth: 'Bearer sgw_second', body: { source: 'pump-1', name: 'low_pressure_running', active: true, severity: 'major', message: 'low pressure while running' } },
  );
  helper.getNode('a').receive({ device: 'pump-1', payload: false });
  await until('the clear', () => got.length === 2);
  t.match(got[1], { payload: { active: false } });
});

t.test('work order: linked to the alarm before it, with the newest camera picture attached', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-work-order', gateway: 'gw', title: '困人 Entrapment', priority: 'P1', category: 'elevator', camera: '', wires: [['out']] }]);
  helper.getNode('w').receive({ device: 'elev-1', alarm: { id: 'alarm-9' }, workOrder: { camera: 'cam-1', description: 'car stopped between floors' } });
  await until('the work order', () => got.length === 1);
  const body = calls.filter((c) => c.url === '/api/v1/work-orders').at(-1)?.body as Record<string, string>;
  t.match(body, { title: '困人 Entrapment', priority: 'P1', category: 'elevator', device: 'elev-1', alarm: 'alarm-9' });
  t.match(body.description, /car stopped between floors[\s\S]*cam-1: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/snapshots\/cam-1\/e1\.jpg/);
  t.match(got[0], { payload: { status: 'open', priority: 'P1' }, snapshot: { camera: 'cam-1', file: 'e1.jpg', event: 'e1' } });
});

t.test('work order: one open work order per alarm — raised again, the open one goes on', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-work-order', gateway: 'gw', title: 'Low pressure', priority: 'P2', dedupe: true, wires: [['out']] }]);
  const before = workOrders.length;
  helper.getNode('w').receive({ device: 'pump-1', alarm: { id: 'pump-1:low_pressure_running' } });
  await until('the first', () => got.length === 1);
  helper.getNode('w').receive({ device: 'pump-1', alarm: { id: 'pump-1:low_pressure_running' } });
  await until('the second', () => got.length === 2);
  t.equal(workOrders.length, before + 1, 'one work order made');
  t.match(got, [{ existing: false }, { existing: true, payload: { id: (got[0]?.payload as { id: string }).id } }]);
});
