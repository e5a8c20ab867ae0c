/**
 * What the Node-RED node and default-flow tests run against: Node-RED's runtime started
 * in the test's process by node-red-node-test-helper, a real MQTT broker (aedes, as the
 * gateway embeds), and a stand-in of the gateway's HTTP API that answers as the real one
 * does (login, point writes, external alarms, work orders, events) and records the calls.
 * The gateway's own answer to `…/set` writes is played by `answerWrites`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

const require = createRequire(import.meta.url);

export interface RedNode {
  on(event: 'input', fn: (msg: Record<string, unknown>) => void): void;
  receive(msg: Record<string, unknown>): void;
}
export interface Helper {
  init(path: string, settings?: Record<string, unknown>): void;
  load(nodes: unknown[], flow: Record<string, unknown>[], credentials: Record<string, unknown>): Promise<void>;
  unload(): Promise<void>;
  startServer(cb: () => void): void;
  stopServer(cb: () => void): void;
  getNode(id: string): RedNode;
}

export const helper = require('node-red-node-test-helper') as Helper;
helper.init(require.resolve('node-red'));
// The helper registers its core nodes (catch, status, complete) once per node of that type
// in the flow, and Node-RED refuses a second registration: once per load is enough.
const modules = (helper as unknown as { _nodeModules: Record<string, (red: object) => unknown> })._nodeModules;
for (const [type, register] of Object.entries(modules)) {
  const loaded = new WeakSet<object>();
  modules[type] = (red: object) => {
    if (loaded.has(red)) return undefined;
    loaded.add(red);
    return register(red);
  };
}

/** Steward's nodes and the core nodes the default flows use. */
export const stewardNodes = ['steward-gateway', 'steward-point-in', 'steward-point-out', 'steward-alarm', 'steward-work-order', 'steward-event-in'].map((n) => require(`../../../flows/nodes/${n}.js`) as unknown);
export const coreNodes = ['function/10-function.js', 'common/20-inject.js', 'common/21-debug.js', 'common/90-comment.js'].map((f) => require(`@node-red/nodes/core/${f}`) as unknown);

export interface ApiCall {
  readonly method: string;
  readonly url: string;
  readonly auth: string | undefined;
  readonly body: Record<string, unknown> | undefined;
}

export interface Fixture {
  readonly mqttUrl: string;
  readonly apiUrl: string;
  /** A plain MQTT client: the gateway's side of the bus. */
  readonly peer: MqttClient;
  readonly calls: ApiCall[];
  readonly workOrders: Record<string, unknown>[];
  readonly alarms: Map<string, { id: string; active: boolean }>;
  /** The gateway's current session token (change it to expire the old ones). */
  token: string;
  /** Publishes a retained value `{v, ts, q}` as the gateway does. */
  publishValue(site: string, device: string, point: string, v: unknown, q?: string): Promise<void>;
  /** Answers every `…/set` as the gateway would (refusing those `refuse` says); returns what was asked. */
  answerWrites(refuse?: (topic: string) => boolean): Promise<{ topic: string; v: unknown; id: string }[]>;
  close(): Promise<void>;
}

export async function startFixture(): Promise<Fixture> {
  const broker = await Aedes.createBroker();
  const mqttServer = createNetServer(broker.handle);
  await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', r));
  const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
  const peer = await mqtt.connectAsync(mqttUrl, { protocolVersion: 4 });

  const calls: ApiCall[] = [];
  const workOrders: Record<string, unknown>[] = [];
  const alarms = new Map<string, { id: string; active: boolean }>();
  const fx = { token: 'sgw_first' } as Fixture;
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
        return body?.name === 'node-red' && body.password === 'nr-pw' ? send(200, { token: fx.token, expiresAt: Date.now() + 3600_000 }) : send(401, { code: 'GW_ERR_AUTH_INVALID', message: 'wrong user name or password' });
      }
      if (req.headers.authorization !== `Bearer ${fx.token}` && req.method === 'POST') return send(401, { code: 'GW_ERR_AUTH_INVALID', message: 'the session has expired: log in again' });
      if (req.method === 'POST' && req.url === '/api/v1/alarms/external') {
        const id = `${String(body?.source)}:${String(body?.name)}`;
        const a = alarms.get(id) ?? { id, active: false };
        a.active = body?.active === true;
        alarms.set(id, a);
        return send(200, { id, source: body?.source, rule: body?.name, state: a.active ? 'unack_active' : 'normal', severity: body?.severity });
      }
      if (req.method === 'POST' && req.url === '/api/v1/work-orders') {
        const wo = { id: `0190aaaa-0000-7000-8000-${String(workOrders.length + 1).padStart(12, '0')}`, status: 'open', ...body };
        workOrders.push(wo);
        return send(201, wo);
      }
      const op = /^\/api\/v1\/work-orders\/([^/]+)\/ops$/.exec(req.url ?? '');
      if (req.method === 'POST' && op !== null) {
        const wo = workOrders.find((w) => w.id === op[1]);
        if (wo === undefined) return send(404, { code: 'GW_ERR_WO_NOT_FOUND', message: `no work order ${op[1]}` });
        if (body?.op === 'note') wo.notes = [...((wo.notes as unknown[]) ?? []), body.data];
        return send(200, wo);
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
      if (req.method === 'GET' && req.url?.startsWith('/api/v1/events?')) return send(200, []);
      return send(404, { code: 'GW_ERR_HTTP_NOT_FOUND', message: `no route ${req.method} ${req.url}` });
    });
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
  await new Promise<void>((r) => helper.startServer(r));

  let answering: ((topic: string, payload: Buffer) => void) | undefined;
  return Object.assign(fx, {
    mqttUrl,
    apiUrl,
    peer,
    calls,
    workOrders,
    alarms,
    async publishValue(site: string, device: string, point: string, v: unknown, q = 'good') {
      await peer.publishAsync(`steward/v1/${site}/${device}/${point}`, JSON.stringify({ v, ts: Date.now(), q }), { retain: true, qos: 1 });
    },
    async answerWrites(refuse: (topic: string) => boolean = () => false) {
      const requests: { topic: string; v: unknown; id: string }[] = [];
      if (answering !== undefined) peer.off('message', answering);
      await peer.subscribeAsync('steward/v1/+/+/+/set', { qos: 1 });
      answering = (topic: string, payload: Buffer) => {
        if (!topic.endsWith('/set')) return;
        const body = JSON.parse(payload.toString()) as { v: unknown; id: string };
        requests.push({ topic, ...body });
        const answer = refuse(topic) ? { ok: false, code: 'GW_ERR_WRITE_REFUSED', message: 'read-only', id: body.id } : { ok: true, v: body.v, previous: false, by: 'node-red', id: body.id };
        void peer.publishAsync(`${topic}/result`, JSON.stringify(answer), { qos: 1 });
      };
      peer.on('message', answering);
      return requests;
    },
    async close() {
      await helper.unload();
      await new Promise<void>((r) => helper.stopServer(r));
      await peer.endAsync();
      await new Promise<void>((r) => api.close(() => r()));
      mqttServer.close();
      await new Promise<void>((r) => broker.close(() => r()));
    },
  });
}
