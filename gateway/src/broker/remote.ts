/**
 * The broker in a worker thread (`gateway.mqtt.worker: true`, docs/mqtt.md "The broker in a
 * worker thread"): the main thread's side. `RemoteBroker` has the members of the in-thread
 * broker (`LocalBroker`), so main.ts and the tests use either through `Broker`.
 *
 * The worker (worker.ts) runs aedes, its listeners, the ACL, the fan-out, the retained
 * table and the bridge. What stays here:
 *
 * - **publication by exception**: each point's last value is kept here too, matched by
 *   position as in the in-thread broker; only the changes cross, encoded in a
 *   `Float64Array` (4 numbers a change, a device header before each device's changes; a
 *   point's number defined once), one message per turn of the event loop, its buffer
 *   transferred, not copied. `publishReadings` still answers synchronously;
 * - `$state`, events and new credentials cross as small messages on the same port, after
 *   the values queued before them (a `$state` never overtakes the values before it);
 * - **logins**: the worker asks `verifyPassword` (scrypt) of this thread, and asks it for a
 *   user name it does not know, which may be a credential issued here whose message it has
 *   not handled yet (`issueCredential` answers at once);
 * - **writes**: the worker acknowledges a `…/set` and asks this thread, which runs the
 *   guarded, audited `writePoint` and answers; the worker publishes the result;
 * - **counters**: the worker counts in a `SharedArrayBuffer` read here, so `stats()` and
 *   `metrics()` stay synchronous;
 * - **restarts**: a worker that dies is logged and started again with backoff on the same
 *   ports, re-seeded with the latest values, the device states and the issued credentials.
 *   What it held alone is lost: what clients published retained, persistent sessions, and
 *   the events published while it was down.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { MqttConfig } from '../core/config/mqtt.js';
import { GatewayError, type GatewayErrorCode } from '../core/errors.js';
import type { DeviceState, GatewayEvent, Quality, Reading, Value } from '../core/model.js';
import type { Role } from './acl.js';
import type { BridgeStats } from './bridge.js';
import type { BrokerOptions, BrokerStats, GatewayLogin, PasswordSecret } from './broker.js';
import { slotAt, takeChange } from './by-position.js';
import { Topics } from './topics.js';

/** The counters the worker keeps in shared memory, by slot. */
export const SHARED_SLOTS = [
  'clients',
  'valuesPublished',
  'valuesUnchanged',
  'eventsPublished',
  'writesAccepted',
  'writesRefused',
  'publishRefused',
  'subscribeRefused',
  'loginsRefused',
  'delivered',
  'dropped',
  'caughtUp',
  'disconnected',
  'retainedSent',
  'bridgeConnected',
  'bridgeQueuedEvents',
  'bridgeQueuedValues',
  'bridgeSentEvents',
  'bridgeSentValues',
  'bridgeDroppedEvents',
  'bridgeDroppedValues',
  /** Values messages the worker has handled: how far behind it is. */
  'valuesMessagesHandled',
] as const;
export type SharedSlot = (typeof SHARED_SLOTS)[number];
/** Each counter's index in the shared array, looked up once (not per use: `behind()` runs per device batch). */
export const SLOT = Object.fromEntries(SHARED_SLOTS.map((name, i) => [name, i])) as Record<SharedSlot, number>;

/**
 * An object whose properties `names` read and write the slots of `shared` (a
 * SharedArrayBuffer's Float64Array): `counters.x++` in the worker is what `stats()` reads.
 */
export function sharedCounters<K extends SharedSlot>(shared: Float64Array, names: readonly K[], as: Partial<Record<K, string>> = {}): Record<string, number> {
  const o: Record<string, number> = {};
  for (const name of names) {
    const i = SLOT[name];
    Object.defineProperty(o, as[name] ?? name, {
      get: () => shared[i]!,
      set: (v: number) => {
        shared[i] = v;
      },
      enumerable: true,
    });
  }
  return o;
}

export const QUALITIES: readonly Quality[] = ['good', 'bad', 'stale'];
/** How a value is carried in its record: its kind (+ 4 × the quality's index). */
export const KIND = { number: 0, boolean: 1, null: 2, string: 3 } as const;
/** Numbers per record: `[point number, ts, kind + 4 × quality, value]`; a device header is `[-1, device number, changes, 0]`. */
export const RECORD = 4;

/** What the worker is started with. */
export interface WorkerInit {
  readonly site: string;
  readonly config: MqttConfig;
  readonly gatewayUsers: readonly GatewayLogin[];
  readonly port?: number;
  readonly tlsPort?: number;
  readonly slowSubscriber?: BrokerOptions['slowSubscriber'];
  readonly shared: SharedArrayBuffer;
  readonly logLevel: string;
}

type Acl = { readonly subscribe: readonly string[]; readonly publish: readonly string[] };

/** Main thread → worker. */
export type ToWorker =
  | {
      t: 'values';
      /** New point numbers: `[number, device, point id]`. */
      points: [number, string, string][];
      /** New device numbers: `[number, device]`. */
      devices: [number, string][];
      strings: string[];
      buf: ArrayBuffer;
      /** Numbers used in `buf`. */
      len: number;
    }
  | { t: 'state'; device: string; state: DeviceState }
  | { t: 'event'; event: GatewayEvent }
  | { t: 'credential'; username: string; password: string; role: Role; acl?: Acl }
  | { t: 'verified'; id: number; ok: boolean }
  /** The answer to `lookup`: the credential issued here under that name, if any. */
  | { t: 'issued'; id: number; credential?: { password: string; role: Role; acl?: Acl } }
  | { t: 'written'; id: number; previous: Value | null }
  | { t: 'written'; id: number; code: string; message: string }
  | { t: 'ping'; id: number }
  | { t: 'close' };

/** Worker → main thread. */
export type FromWorker =
  | { t: 'ready'; url: string; tlsUrl?: string }
  | { t: 'failed'; code: string; message: string }
  | { t: 'verify'; id: number; secret: PasswordSecret; password: string }
  /** A CONNECT with a user name the worker does not know: did this thread issue it (its `credential` message not handled yet)? */
  | { t: 'lookup'; id: number; username: string }
  | { t: 'write'; id: number; device: string; point: string; value: Value; actor: string }
  | { t: 'log'; level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'; bindings: Record<string, unknown>; obj: Record<string, unknown>; msg?: string }
  | { t: 'pong'; id: number }
  | { t: 'closed' };

/** A point's last value, for publication by exception on this thread. */
class MainSlot {
  /** Changed since it was last sent, while the worker was behind. */
  dirty = false;
  constructor(
    readonly id: string,
    readonly num: number,
    /** Its device's number. */
    readonly device: number,
    public v: Value | null,
    public ts: number,
    public q: Quality,
  ) {}
}

/** Restart delays of a dead worker: 0.2 s doubling to 10 s; back to 0.2 s after a minute up. */
const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 10_000;
const STABLE_MS = 60_000;
/**
 * Values messages the worker may have in hand before this side stops sending every change
 * and keeps only which points changed, their latest values sent once it has caught up: a
 * worker slower than the poller (its core taken by the subscribers, or 50 subscribers of
 * every value) falls behind by at most this, not by an ever longer queue.
 */
const MAX_BEHIND = 4;

/** The worker's module: the compiled worker.js beside this one, or worker.ts through tsx (as the ML worker). */
function workerEntry(): URL {
  const url = import.meta.resolve('./worker.js');
  if (!url.endsWith('.ts')) return new URL(url);
  // Sources run through tsx: a worker does not inherit the loader, so a two-line bootstrap registers it first.
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(url)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

export class RemoteBroker {
  readonly topics: Topics;
  url = '';
  tlsUrl: string | undefined;
  /** The bridge's figures (it runs in the worker), when gateway.mqtt.bridge is set. */
  readonly bridge: { stats(): BridgeStats } | undefined;
  /** The worker thread now running the broker (undefined while it is being restarted). For tests. */
  worker: Worker | undefined;
  /** Workers started again after one died. */
  restarts = 0;
  private readonly shared: Float64Array;
  private readonly points = new Map<string, MainSlot>();
  private readonly slots: MainSlot[] = [];
  private readonly batches = new Map<string, { num: number; order: (MainSlot | undefined)[]; all: MainSlot[] }>();
  private readonly devices: string[] = [];
  private readonly states = new Map<string, DeviceState>();
  private readonly credentials = new Map<string, { password: string; role: Role; acl?: Acl }>();
  private valuesPublished = 0;
  private valuesUnchanged = 0;
  // The turn's pending values message.
  private buf = new Float64Array(4096);
  private len = 0;
  private newPoints: [number, string, string][] = [];
  private newDevices: [number, string][] = [];
  private strings: string[] = [];
  private scheduled = false;
  /** Values messages posted to the current worker. */
  private posted = 0;
  /** Points changed while the worker was behind (conflated: their latest values go when it catches up). */
  private dirty: MainSlot[] = [];
  private dirtyTimer: NodeJS.Timeout | undefined;
  /** Changes not sent to a worker that was behind (the latest value of each point is sent later). */
  conflated = 0;
  private closing: Promise<void> | undefined;
  private readyAt = 0;
  private failuresInRow = 0;
  private nextId = 1;
  private readonly pings = new Map<number, () => void>();
  private ready: Promise<void> = Promise.resolve();
  private readonly ports: { port?: number; tlsPort?: number };

  private constructor(private readonly options: BrokerOptions) {
    this.topics = new Topics(options.site);
    this.shared = new Float64Array(new SharedArrayBuffer(SHARED_SLOTS.length * 8));
    this.ports = { ...(options.port === undefined ? {} : { port: options.port }), ...(options.tlsPort === undefined ? {} : { tlsPort: options.tlsPort }) };
    const at = (n: SharedSlot) => this.at(n);
    this.bridge =
      options.config.bridge === undefined
        ? undefined
        : {
            stats: () => ({
              connected: at('bridgeConnected') === 1,
              queuedEvents: at('bridgeQueuedEvents'),
              queuedValues: at('bridgeQueuedValues'),
              sentEvents: at('bridgeSentEvents'),
              sentValues: at('bridgeSentValues'),
              droppedEvents: at('bridgeDroppedEvents'),
              droppedValues: at('bridgeDroppedValues'),
              lastError: null,
            }),
          };
  }

  /** Starts the worker and waits until it listens; throws its GW_ERR_MQTT_LISTEN / GW_ERR_MQTT_TLS. */
  static async start(options: BrokerOptions): Promise<RemoteBroker> {
    const self = new RemoteBroker(options);
    await self.spawn();
    // A restarted worker listens where the first did (0 = any free port: the one it got).
    const port = Number(new URL(self.url).port);
    const tlsPort = self.tlsUrl === undefined ? undefined : Number(new URL(self.tlsUrl).port);
    Object.assign(self.ports, { port, ...(tlsPort === undefined ? {} : { tlsPort }) });
    options.log.info({ url: self.url, tls: self.tlsUrl ?? null, worker: true }, 'MQTT broker listening (worker thread)');
    return self;
  }

  /** Starts a worker; resolves once it listens, rejects with its error if it cannot. */
  private spawn(): Promise<void> {
    const o = this.options;
    const init: WorkerInit = {
      site: o.site,
      config: o.config,
      gatewayUsers: o.gatewayUsers,
      ...this.ports,
      ...(o.slowSubscriber === undefined ? {} : { slowSubscriber: o.slowSubscriber }),
      shared: this.shared.buffer as SharedArrayBuffer,
      logLevel: o.log.level,
    };
    const w = new Worker(workerEntry(), { workerData: init });
    let settle: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const started = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    w.on('message', (m: FromWorker) => {
      switch (m.t) {
        case 'ready':
          this.posted = 0;
          this.shared[SLOT.valuesMessagesHandled] = 0;
          this.url = m.url;
          this.tlsUrl = m.tlsUrl;
          this.worker = w;
          this.readyAt = Date.now();
          settle?.resolve();
          settle = undefined;
          return;
        case 'failed':
          settle?.reject(new GatewayError(m.code as GatewayErrorCode, m.message));
          settle = undefined;
          return;
        case 'verify':
          o.verifyPassword(m.secret, m.password).then(
            (ok) => this.post(w, { t: 'verified', id: m.id, ok }),
            () => this.post(w, { t: 'verified', id: m.id, ok: false }),
          );
          return;
        case 'lookup': {
          const c = this.credentials.get(m.username);
          this.post(w, { t: 'issued', id: m.id, ...(c === undefined ? {} : { credential: c }) });
          return;
        }
        case 'write':
          o.writePoint(m.device, m.point, m.value, m.actor).then(
            ({ previous }) => this.post(w, { t: 'written', id: m.id, previous }),
            (err: unknown) =>
              this.post(w, { t: 'written', id: m.id, code: err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL', message: err instanceof Error ? err.message : String(err) }),
          );
          return;
        case 'log': {
          const log = Object.keys(m.bindings).length === 0 ? o.log : o.log.child(m.bindings);
          log[m.level](m.obj, m.msg);
          return;
        }
        case 'pong':
          this.pings.get(m.id)?.();
          this.pings.delete(m.id);
          return;
        case 'closed':
          return;
      }
    });
    w.on('error', (err) => {
      o.log.error({ err, code: 'GW_ERR_MQTT_WORKER' }, 'MQTT broker worker failed');
      settle?.reject(err);
      settle = undefined;
    });
    w.on('exit', (code) => {
      settle?.reject(new GatewayError('GW_ERR_MQTT_LISTEN', `the MQTT broker worker ended (exit code ${code}) before it listened`));
      settle = undefined;
      if (this.worker === w) this.died(code);
    });
    this.ready = started;
    return started;
  }

  /** The worker died: log it, start another after a delay, re-seed it. */
  private died(code: number): void {
    this.worker = undefined;
    this.shared[SLOT.clients] = 0;
    for (const resolve of this.pings.values()) resolve();
    this.pings.clear();
    if (this.closing !== undefined) return;
    if (Date.now() - this.readyAt > STABLE_MS) this.failuresInRow = 0;
    const delay = this.restartDelay();
    this.options.log.error({ code: 'GW_ERR_MQTT_WORKER', exitCode: code, restartInMs: delay }, 'MQTT broker worker died; starting another (its clients reconnect)');
    let resolveReady!: () => void;
    this.ready = new Promise<void>((r) => (resolveReady = r));
    const again = (): void => {
      if (this.closing !== undefined) return resolveReady();
      this.spawn().then(
        () => {
          this.restarts++;
          this.seed();
          resolveReady();
        },
        (err: unknown) => {
          this.options.log.error({ err, code: 'GW_ERR_MQTT_WORKER' }, 'MQTT broker worker could not start again; retrying');
          setTimeout(again, this.restartDelay()).unref();
        },
      );
    };
    setTimeout(again, delay).unref();
  }

  /** The next restart's delay: RESTART_MIN_MS doubling with each failure in a row, at most RESTART_MAX_MS. */
  private restartDelay(): number {
    return Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** this.failuresInRow++);
  }

  /** A new worker gets everything the old one was told: every point's latest value, the states, the credentials. */
  private seed(): void {
    for (const p of this.dirty) p.dirty = false;
    this.dirty = [];
    this.buf = new Float64Array(Math.max(4096, (this.slots.length + this.batches.size) * RECORD));
    this.len = 0;
    this.strings = [];
    this.newDevices = this.devices.map((d, i) => [i, d]);
    this.newPoints = [];
    for (const [device, known] of this.batches) {
      for (const p of known.all) this.newPoints.push([p.num, device, p.id]);
      if (known.all.length === 0) continue;
      this.header(known.num, known.all.length);
      for (const p of known.all) this.record(p);
    }
    this.flush();
    for (const [device, state] of this.states) this.send({ t: 'state', device, state });
    for (const [username, c] of this.credentials) this.send({ t: 'credential', username, ...c });
  }

  private post(w: Worker, m: ToWorker, transfer?: ArrayBuffer[]): void {
    if (this.worker !== w) return;
    w.postMessage(m, transfer);
  }

  /** Posts after the values queued before it (those held back while the worker was behind too). */
  private send(m: ToWorker): void {
    if (this.worker === undefined) return;
    this.flush(true);
    this.worker.postMessage(m);
  }

  /** True while the worker has more than MAX_BEHIND values messages in hand. */
  private behind(): boolean {
    return this.posted - this.shared[SLOT.valuesMessagesHandled]! > MAX_BEHIND;
  }

  /** The latest values of the points that changed while the worker was behind, by device. */
  private undirty(): void {
    const byDevice = new Map<number, MainSlot[]>();
    for (const p of this.dirty) {
      p.dirty = false;
      let list = byDevice.get(p.device);
      if (list === undefined) byDevice.set(p.device, (list = []));
      list.push(p);
    }
    this.dirty = [];
    for (const [device, list] of byDevice) {
      this.header(device, list.length);
      for (const p of list) this.record(p);
    }
  }

  private reserve(): Float64Array {
    if (this.len + RECORD > this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf.subarray(0, this.len));
      this.buf = bigger;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return this.buf;
  }

  private header(device: number, changes: number): number {
    const b = this.reserve();
    const at = this.len;
    b[at] = -1;
    b[at + 1] = device;
    b[at + 2] = changes;
    b[at + 3] = 0;
    this.len += RECORD;
    return at;
  }

  private record(p: MainSlot): void {
    const b = this.reserve();
    const at = this.len;
    const v = p.v;
    const q = QUALITIES.indexOf(p.q) * 4;
    b[at] = p.num;
    b[at + 1] = p.ts;
    if (typeof v === 'number') {
      b[at + 2] = q + KIND.number;
      b[at + 3] = v;
    } else if (typeof v === 'boolean') {
      b[at + 2] = q + KIND.boolean;
      b[at + 3] = v ? 1 : 0;
    } else if (v === null) {
      b[at + 2] = q + KIND.null;
      b[at + 3] = 0;
    } else {
      b[at + 2] = q + KIND.string;
      b[at + 3] = this.strings.push(v) - 1;
    }
    this.len += RECORD;
  }

  /** Tries again in 5 ms to send what was held back while the worker was behind. */
  private flushSoon(): void {
    this.dirtyTimer ??= setTimeout(() => ((this.dirtyTimer = undefined), this.flush()), 5);
  }

  /** Hands this turn's changes to the worker: one message, its buffer transferred. `force`: the held-back ones too, behind or not. */
  private flush(force = false): void {
    this.scheduled = false;
    if (this.dirty.length > 0 && this.worker !== undefined) {
      if (force || !this.behind()) this.undirty();
      else this.flushSoon();
    }
    if (this.len === 0 && this.newPoints.length === 0) return;
    const w = this.worker;
    if (w !== undefined) {
      const buf = this.buf.buffer as ArrayBuffer;
      w.postMessage({ t: 'values', points: this.newPoints, devices: this.newDevices, strings: this.strings, buf, len: this.len } satisfies ToWorker, [buf]);
      this.posted++;
      this.buf = new Float64Array(Math.max(4096, this.len));
    }
    this.len = 0;
    this.newPoints = [];
    this.newDevices = [];
    this.strings = [];
  }

  /**
   * Publication by exception, here; the changes go to the worker at the end of this turn
   * of the event loop. Returns how many were published.
   */
  publishReadings(device: string, readings: readonly Reading[]): number {
    let known = this.batches.get(device);
    if (known === undefined) {
      known = { num: this.devices.length, order: [], all: [] };
      this.devices.push(device);
      this.newDevices.push([known.num, device]);
      this.batches.set(device, known);
    }
    const order = known.order;
    const points = this.points;
    const live = this.worker !== undefined;
    // A worker behind by more than MAX_BEHIND messages gets the latest values of what changed once it has caught up.
    const hold = live && this.behind();
    // Caught up: what was held back goes first, the changes of this call after it.
    if (live && !hold && this.dirty.length > 0) this.undirty();
    let n = 0;
    let header = -1;
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      let p = slotAt(order, points, i, r.point);
      if (p !== undefined) {
        if (!takeChange(p, r)) continue;
      } else {
        p = new MainSlot(r.point, this.slots.length, known.num, r.value, r.ts, r.quality);
        this.slots.push(p);
        points.set(r.point, p);
        known.all.push(p);
        order[i] = p;
        this.newPoints.push([p.num, device, r.point]);
      }
      n++;
      if (!live) continue;
      if (hold) {
        if (!p.dirty) {
          p.dirty = true;
          this.dirty.push(p);
        }
        this.conflated++;
        this.flushSoon();
        continue;
      }
      if (header < 0) header = this.header(known.num, 0);
      this.record(p);
    }
    if (header >= 0) this.buf[header + 2] = n;
    this.valuesUnchanged += readings.length - n;
    this.valuesPublished += n;
    return n;
  }

  publishEvent(event: GatewayEvent): void {
    this.send({ t: 'event', event });
    if (event.device !== undefined && (event.type === 'device.online' || event.type === 'device.offline')) {
      // The worker sets the state itself (as the in-thread broker does): keep this side's copy in step.
      this.states.set(event.device, event.type === 'device.online' ? 'online' : 'offline');
    }
  }

  setDeviceState(device: string, state: DeviceState): void {
    if (this.states.get(device) === state) return;
    this.states.set(device, state);
    this.send({ t: 'state', device, state });
  }

  issueCredential(username: string, role: Role, acl?: Acl): { username: string; password: string; url: string } {
    const password = randomBytes(24).toString('base64url');
    const c = { password, role, ...(acl === undefined ? {} : { acl }) };
    this.credentials.set(username, c);
    this.send({ t: 'credential', username, ...c });
    return { username, password, url: this.url };
  }

  /** Resolves once the worker has handled everything sent before (tests, benches): its counters are then up to date. */
  async settled(): Promise<void> {
    await this.ready;
    const w = this.worker;
    if (w === undefined) return;
    this.flush();
    const id = this.nextId++;
    await new Promise<void>((resolve) => {
      this.pings.set(id, resolve);
      w.postMessage({ t: 'ping', id } satisfies ToWorker);
    });
  }

  /** Resolves when a worker listens (after a restart: once the new one does and was re-seeded). For tests. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** A counter the worker keeps in shared memory. */
  private at(n: SharedSlot): number {
    return this.shared[SLOT[n]]!;
  }

  stats(): BrokerStats & { bridge?: BridgeStats } {
    const at = (n: SharedSlot) => this.at(n);
    return {
      clients: at('clients'),
      valuesPublished: this.valuesPublished,
      valuesUnchanged: this.valuesUnchanged,
      eventsPublished: at('eventsPublished'),
      writesAccepted: at('writesAccepted'),
      writesRefused: at('writesRefused'),
      publishRefused: at('publishRefused'),
      subscribeRefused: at('subscribeRefused'),
      loginsRefused: at('loginsRefused'),
      valuesDelivered: at('delivered'),
      valuesDropped: at('dropped'),
      valuesCaughtUp: at('caughtUp'),
      slowSubscribersDisconnected: at('disconnected'),
      retainedSent: at('retainedSent'),
      ...(this.bridge === undefined ? {} : { bridge: this.bridge.stats() }),
    };
  }

  metrics(): Record<string, number> {
    return { ...metricsOf(this.stats()), mqtt_worker_restarts_total: this.restarts, mqtt_worker_values_conflated_total: this.conflated };
  }

  /** Closes the worker's listeners and clients (the bridge says offline), then ends the worker. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await this.ready.catch(() => undefined);
      const w = this.worker;
      if (w === undefined) return;
      this.flush();
      const closed = new Promise<void>((resolve) => {
        w.on('message', (m: FromWorker) => (m.t === 'closed' ? resolve() : undefined));
        w.once('exit', () => resolve());
      });
      w.postMessage({ t: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void w.terminate(), 10_000);
      await closed;
      clearTimeout(timer);
      this.worker = undefined;
      await w.terminate();
    })());
  }
}

/** The figures of /metrics from a broker's stats, named as its counters are (`steward_mqtt_…`). */
export function metricsOf(s: BrokerStats & { bridge?: BridgeStats }): Record<string, number> {
  return {
    mqtt_clients: s.clients,
    mqtt_values_published_total: s.valuesPublished,
    mqtt_values_delivered_total: s.valuesDelivered,
    mqtt_values_dropped_total: s.valuesDropped,
    mqtt_values_caught_up_total: s.valuesCaughtUp,
    mqtt_slow_subscribers_disconnected_total: s.slowSubscribersDisconnected,
    mqtt_retained_sent_total: s.retainedSent,
    mqtt_events_published_total: s.eventsPublished,
    mqtt_writes_accepted_total: s.writesAccepted,
    mqtt_writes_refused_total: s.writesRefused,
    mqtt_publish_refused_total: s.publishRefused,
    mqtt_subscribe_refused_total: s.subscribeRefused,
    mqtt_logins_refused_total: s.loginsRefused,
    ...(s.bridge === undefined
      ? {}
      : {
          mqtt_bridge_connected: s.bridge.connected ? 1 : 0,
          mqtt_bridge_queued_events: s.bridge.queuedEvents,
          mqtt_bridge_queued_values: s.bridge.queuedValues,
          mqtt_bridge_dropped_events_total: s.bridge.droppedEvents,
          mqtt_bridge_dropped_values_total: s.bridge.droppedValues,
        }),
  };
}
