/**
 * The broker's worker thread (`gateway.mqtt.worker: true`; the main thread's side is
 * remote.ts): runs the in-thread broker (`LocalBroker`: aedes, its listeners, the ACL, the
 * fan-out, the retained table, the bridge) with the password check, the credentials issued
 * there but not received here yet, and the writes asked of the main thread, its counters in
 * the shared memory the main thread reads, its logs sent to the main thread's logger.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GatewayError, type GatewayErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { Reading, Value } from '../core/model.js';
import type { BridgeStats } from './bridge.js';
import { LocalBroker } from './broker.js';
import { KIND, QUALITIES, RECORD, SLOT, type FromWorker, type SharedSlot, type ToWorker, type WorkerInit } from './remote.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const shared = new Float64Array(init.shared);
const post = (m: FromWorker): void => port.postMessage(m);

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type Level = keyof typeof LEVELS;

/** A logger whose lines go to the main thread's (only the levels it writes). */
function portLogger(bindings: Record<string, unknown>, level: string): Logger {
  const min = level in LEVELS ? LEVELS[level as Level] : Infinity;
  const method =
    (name: Level) =>
    (a: unknown, b?: string): void => {
      if (LEVELS[name] < min) return;
      const [obj, msg] = typeof a === 'string' ? [{}, a] : [(a ?? {}) as Record<string, unknown>, b];
      try {
        post({ t: 'log', level: name, bindings, obj, ...(msg === undefined ? {} : { msg }) });
      } catch {
        // Something in it cannot be cloned: the message at least.
        post({ t: 'log', level: name, bindings, obj: { detail: String(obj) }, ...(msg === undefined ? {} : { msg }) });
      }
    };
  return {
    level,
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    isLevelEnabled: (l: string) => l in LEVELS && LEVELS[l as Level] >= min,
    child: (more: Record<string, unknown>) => portLogger({ ...bindings, ...more }, level),
  } as unknown as Logger;
}

let nextId = 1;
type Answer = Extract<ToWorker, { t: 'verified' | 'written' | 'issued' }>;
const pending = new Map<number, (m: Answer) => void>();
function ask(m: Extract<FromWorker, { t: 'verify' | 'write' | 'lookup' }>): Promise<Answer> {
  return new Promise((resolve) => {
    pending.set(m.id, resolve);
    post(m);
  });
}

const log = portLogger({}, init.logLevel);
let broker: LocalBroker;
try {
  broker = await LocalBroker.start({
    site: init.site,
    config: init.config,
    gatewayUsers: init.gatewayUsers,
    ...(init.port === undefined ? {} : { port: init.port }),
    ...(init.tlsPort === undefined ? {} : { tlsPort: init.tlsPort }),
    ...(init.slowSubscriber === undefined ? {} : { slowSubscriber: init.slowSubscriber }),
    sharedCounters: shared,
    log,
    verifyPassword: async (secret, password) => {
      const r = await ask({ t: 'verify', id: nextId++, secret, password });
      return r.t === 'verified' && r.ok;
    },
    // A user name not known here: maybe a credential issued on the main thread whose message is still on its way.
    issuedCredential: async (username) => {
      const r = await ask({ t: 'lookup', id: nextId++, username });
      return r.t === 'issued' ? r.credential : undefined;
    },
    writePoint: async (device, point, value, actor) => {
      const r = await ask({ t: 'write', id: nextId++, device, point, value, actor });
      if (r.t !== 'written') throw new GatewayError('GW_ERR_INTERNAL', 'unexpected answer');
      if ('code' in r) throw new GatewayError(r.code as GatewayErrorCode, r.message);
      return { previous: r.previous };
    },
  });
} catch (err) {
  post({ t: 'failed', code: err instanceof GatewayError ? err.code : 'GW_ERR_MQTT_LISTEN', message: err instanceof Error ? err.message : String(err) });
  port.close();
  // Nothing more to do: the thread ends once the port is closed.
  await new Promise<never>(() => undefined);
  throw err;
}

// The bridge's figures: copied into the shared counters after each message and every 250 ms.
const slot = (n: SharedSlot): number => SLOT[n];
const bridgeSlots: [keyof BridgeStats, number][] = [
  ['queuedEvents', slot('bridgeQueuedEvents')],
  ['queuedValues', slot('bridgeQueuedValues')],
  ['sentEvents', slot('bridgeSentEvents')],
  ['sentValues', slot('bridgeSentValues')],
  ['droppedEvents', slot('bridgeDroppedEvents')],
  ['droppedValues', slot('bridgeDroppedValues')],
];
function bridgeFigures(): void {
  const b = broker.bridge?.stats();
  if (b === undefined) return;
  shared[slot('bridgeConnected')] = b.connected ? 1 : 0;
  for (const [k, i] of bridgeSlots) shared[i] = b[k] as number;
}
const timer = broker.bridge === undefined ? undefined : setInterval(bridgeFigures, 250);

const handled = slot('valuesMessagesHandled');
// The main thread's point and device numbers.
const points: { device: string; id: string }[] = [];
const devices: string[] = [];

function values(m: Extract<ToWorker, { t: 'values' }>): void {
  for (const [n, device] of m.devices) devices[n] = device;
  for (const [n, device, id] of m.points) points[n] = { device, id };
  const f = new Float64Array(m.buf, 0, m.len);
  for (let i = 0; i < m.len; ) {
    const device = devices[f[i + 1]!]!;
    const count = f[i + 2]!;
    i += RECORD;
    const readings: Reading[] = new Array<Reading>(count);
    for (let k = 0; k < count; k++, i += RECORD) {
      const code = f[i + 2]!;
      const kind = code % 4;
      const raw = f[i + 3]!;
      const value: Value | null = kind === KIND.number ? raw : kind === KIND.boolean ? raw === 1 : kind === KIND.null ? null : m.strings[raw]!;
      readings[k] = { point: points[f[i]!]!.id, ts: f[i + 1]!, value, quality: QUALITIES[(code - kind) / 4]! };
    }
    broker.publishReadings(device, readings);
  }
  shared[handled] = shared[handled]! + 1;
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'values':
      values(m);
      break;
    case 'state':
      broker.setDeviceState(m.device, m.state);
      break;
    case 'event':
      broker.publishEvent(m.event);
      break;
    case 'credential':
      broker.addCredential(m.username, m.password, m.role, m.acl);
      break;
    case 'verified':
    case 'written':
    case 'issued':
      pending.get(m.id)?.(m);
      pending.delete(m.id);
      break;
    case 'ping':
      if (timer !== undefined) bridgeFigures();
      post({ t: 'pong', id: m.id });
      return;
    case 'close':
      if (timer !== undefined) clearInterval(timer);
      void broker.close().then(() => {
        post({ t: 'closed' });
        port.close();
      });
      return;
  }
  if (timer !== undefined) bridgeFigures();
});

post({ t: 'ready', url: broker.url, ...(broker.tlsUrl === undefined ? {} : { tlsUrl: broker.tlsUrl }) });
