/**
 * The gateway's embedded MQTT broker (aedes 1, MQTT 3.1.1 only: aedes refuses a v5
 * CONNECT). It publishes what the gateway knows — latest values (retained), device
 * states (retained) and events — and takes `…/set` writes, which go through the same
 * guarded, audited `writePoint` as the API's writes. Policy is aedes' hooks:
 * `authenticate` (users from site.yaml), `authorizePublish` / `authorizeSubscribe`
 * (acl.ts), `authorizeForward` (write requests are the gateway's, never forwarded).
 *
 * A point's retained value is the last value the broker published for it, which it keeps
 * anyway (publication by exception): a SUBSCRIBE is answered from those (fanout.ts), so a
 * changed value nobody subscribes to costs a Map look-up and three assignments — no JSON,
 * no frame, no copy in aedes' persistence. They are re-published from the store's latest
 * values at start, so they survive a restart without a second database. Device states and
 * what clients publish retained stay in aedes' memory persistence.
 *
 * Values and device batches (QoS 0, most of the traffic) take the fast path of fanout.ts:
 * serialised once per message and only when someone's subscription matches, written to
 * every matching subscriber; events and states go through `aedes.publish`.
 *
 * Dependencies point one way: this module imports only core/; main.ts hands it the
 * password check, the write path and the store's latest values.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type PublishPacket } from 'aedes';
import type { MqttConfig } from '../core/config/mqtt.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { holdSlot, type DeviceState, type GatewayEvent, type Reading, type Value } from '../core/model.js';
import { Rights, type Role } from './acl.js';
import { MqttBridge, type BridgeStats } from './bridge.js';
import { slotAt, takeChange } from './by-position.js';
import { Fanout, RetainedSlot, Slot, type FanoutStats } from './fanout.js';
import { metricsOf, RemoteBroker, sharedCounters } from './remote.js';
import { Topics } from './topics.js';

/** A secret to check a password against: a scrypt hash, or a plain password from env/file. */
export interface PasswordSecret {
  readonly passwordHash?: string;
  readonly password?: string;
}

/** A login of the gateway (`users:` of site.yaml), usable on the bus when gateway.mqtt.gatewayUsers. */
export interface GatewayLogin extends PasswordSecret {
  readonly name: string;
  readonly role: Role;
}

export interface BrokerOptions {
  readonly site: string;
  readonly config: MqttConfig;
  readonly gatewayUsers: readonly GatewayLogin[];
  /** The gateway's password check (api/auth.ts verifyPassword: scrypt, constant time). */
  verifyPassword(secret: PasswordSecret, password: string): Promise<boolean>;
  /** The guarded, audited write of main.ts (the API's own). */
  writePoint(device: string, point: string, value: Value, actor: string): Promise<{ previous: Value | null }>;
  readonly log: Logger;
  /** Overrides config.port (0 = any free port; tests). */
  readonly port?: number;
  /** Overrides config.tls.port (0 = any free port; tests). */
  readonly tlsPort?: number;
  /** The fast path's bounds for a subscriber that does not read (tests): bytes waiting (1 MiB), and for how long (10 s). */
  readonly slowSubscriber?: { readonly maxBufferedBytes?: number; readonly drainTimeoutMs?: number };
  /** Overrides config.worker: run the broker in a worker thread (remote.ts, worker.ts). */
  readonly worker?: boolean;
  /** In the worker: the shared counters (remote.ts) the main thread's stats() reads. */
  readonly sharedCounters?: Float64Array;
  /**
   * In the worker: a credential the main thread issued (`issueCredential`), asked for a user
   * name this broker does not know yet — its message may not have arrived.
   */
  issuedCredential?(username: string): Promise<{ password: string; role: Role; acl?: MqttUserConfigAcl } | undefined>;
}

/** What the broker has done, for /metrics and benchmarks. */
export interface BrokerStats {
  clients: number;
  valuesPublished: number;
  valuesUnchanged: number;
  eventsPublished: number;
  writesAccepted: number;
  writesRefused: number;
  publishRefused: number;
  subscribeRefused: number;
  loginsRefused: number;
  /** Value and `$values` messages written to subscribers (one per subscriber). */
  valuesDelivered: number;
  /** Value messages not written to a subscriber whose socket was full (QoS 0: at most once). */
  valuesDropped: number;
  /** Latest values sent to such a subscriber once its socket drained, one per topic whose values it missed. */
  valuesCaughtUp: number;
  /** Subscribers disconnected because their socket did not drain within the drain timeout. */
  slowSubscribersDisconnected: number;
  /** Retained point values sent in answer to SUBSCRIBEs (RETAIN 1). */
  retainedSent: number;
}

/**
 * A point's topic and what was last published on it: publication by exception, and the
 * topic's retained value (its JSON built only when a SUBSCRIBE asks for it).
 */
class PointSlot extends RetainedSlot {
  constructor(
    /** The point's id (`<device>.<point>`), the key of `Broker.points`. */
    readonly id: string,
    topic: string,
    /** The point's name, the key of `$values`. */
    readonly name: string,
    public v: Value | null,
    public ts: number,
    public q: Reading['quality'],
  ) {
    super(topic);
  }

  /** A point named `set` would look like a write request: aedes' authorizeForward would not forward it either. */
  readonly forward = !this.topic.endsWith('/set');

  retainedPayload(): string {
    return valueJson(this);
  }
}

/** A valid scrypt hash of a random password: an unknown user costs what a known one costs. */
const DUMMY_HASH = 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
/** Failed logins per address and minute before a CONNECT is refused unchecked. */
const MAX_FAILURES_PER_MINUTE = 10;
/** A subscriber that stops reading must not stall delivery to the others (aedes' drainTimeout, and the fast path's). */
const DRAIN_TIMEOUT_MS = 10_000;
/**
 * Bytes waiting in a subscriber's socket past which its QoS 0 values are dropped, their
 * topics' latest values sent when it drains (fast path): ~15,000 values, what a slow
 * reader may lag behind by, and the memory each can hold up besides one message per topic.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;

function authError(message: string, returnCode: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

async function listen(server: Server, port: number, host: string, what: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new GatewayError('GW_ERR_MQTT_LISTEN', `MQTT ${what} cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : port;
}

function urlOf(scheme: string, host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The JSON payload of a reading: `{v, ts, q}`. */
function valueJson(r: { readonly v: Value | null; readonly ts: number; readonly q: string }): string {
  const v = r.v;
  return `{"v":${typeof v === 'number' && Number.isFinite(v) ? String(v) : JSON.stringify(v)},"ts":${r.ts},"q":"${r.q}"}`;
}

/** The value of a `…/set` payload: a JSON scalar, `{"v": value, "id": "…"}`, or plain text. */
export function parseWrite(payload: Buffer): { value: Value; id?: string } | { error: string; id?: string } {
  const text = payload.toString('utf8').trim();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return text.length === 0 ? { error: 'the payload is empty' } : { value: text };
  }
  const scalar = (v: unknown): v is Value => typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string';
  if (scalar(parsed)) return { value: parsed };
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const { v, id } = parsed as { v?: unknown; id?: unknown };
    const idPart = typeof id === 'string' && id.length <= 128 ? { id } : {};
    if (scalar(v)) return { value: v, ...idPart };
    return { error: 'expected {"v": a number, boolean or string}', ...idPart };
  }
  return { error: 'expected a JSON number, boolean or string, or {"v": value, "id": "…"}' };
}

/**
 * The broker: in the poller's thread (`LocalBroker`, the default) or in a worker thread
 * (`RemoteBroker`, `gateway.mqtt.worker: true`), with the same members.
 */
export type Broker = LocalBroker | RemoteBroker;
export const Broker = {
  /** Creates the broker and opens its listeners; throws GW_ERR_MQTT_LISTEN / GW_ERR_MQTT_TLS. */
  start(options: BrokerOptions): Promise<Broker> {
    return (options.worker ?? options.config.worker ?? false) ? RemoteBroker.start(options) : LocalBroker.start(options);
  },
};

/** The broker in the calling thread (and, in worker mode, the worker's). */
export class LocalBroker {
  readonly topics: Topics;
  /** mqtt://host:port of the plain listener. */
  readonly url: string;
  /** mqtts://host:port of the TLS listener, when configured. */
  readonly tlsUrl: string | undefined;
  private readonly rights = new WeakMap<Client, Rights>();
  /** Per point id: its topic and last published value and quality (publication by exception). */
  private readonly points = new Map<string, PointSlot>();
  /**
   * Per device: its `$values` topic, and its point slots in the order of its last batch of
   * readings — the poller reports a device's points in the same order every cycle, with the
   * same id strings, so a reading is matched to its slot by position (one comparison of
   * strings that are usually the same object) rather than by a Map look-up (a hash of the
   * id per reading: the most of publishReadings' cost for the unchanged readings).
   */
  private readonly batches = new Map<string, { slot: Slot; order: (PointSlot | undefined)[] }>();
  /** Each point's slot by its process-wide slot (core/model.ts `pointSlot`), when publishReadings is given them. */
  private readonly bySlot: (PointSlot | undefined)[] = [];
  private readonly fanout: Fanout;
  private readonly states = new Map<string, DeviceState>();
  private readonly internal = new Map<string, { password: Buffer; role: Role; acl?: MqttUserConfigAcl }>();
  private readonly failures = new Map<string, number[]>();
  private readonly counters: Omit<BrokerStats, 'clients' | 'valuesDelivered' | 'valuesDropped' | 'valuesCaughtUp' | 'slowSubscribersDisconnected' | 'retainedSent'>;
  private readonly key = randomBytes(32);
  private closing: Promise<void> | undefined;
  /** The link to an upstream broker, when gateway.mqtt.bridge is set. */
  readonly bridge: MqttBridge | undefined;

  private constructor(
    private readonly aedes: Aedes,
    private readonly servers: readonly Server[],
    private readonly options: BrokerOptions,
    topics: Topics,
    url: string,
    tlsUrl: string | undefined,
  ) {
    this.bridge = options.config.bridge === undefined ? undefined : new MqttBridge(options.config.bridge, topics.prefix, options.site, options.log.child({ part: 'mqtt-bridge' }));
    this.topics = topics;
    this.url = url;
    this.tlsUrl = tlsUrl;
    const names = ['valuesPublished', 'valuesUnchanged', 'eventsPublished', 'writesAccepted', 'writesRefused', 'publishRefused', 'subscribeRefused', 'loginsRefused'] as const;
    const shared = options.sharedCounters;
    this.counters = (shared === undefined ? Object.fromEntries(names.map((n) => [n, 0])) : sharedCounters(shared, names)) as LocalBroker['counters'];
    let fanoutStats: FanoutStats | undefined;
    if (shared !== undefined) {
      fanoutStats = sharedCounters(shared, ['delivered', 'dropped', 'caughtUp', 'disconnected', 'retainedSent']) as unknown as FanoutStats;
      const clients = sharedCounters(shared, ['clients']);
      const count = (): void => void (clients.clients = aedes.connectedClients);
      aedes.on('client', count);
      aedes.on('clientDisconnect', count);
    }
    this.fanout = new Fanout(aedes, options.slowSubscriber?.maxBufferedBytes ?? MAX_BUFFERED_BYTES, options.slowSubscriber?.drainTimeoutMs ?? DRAIN_TIMEOUT_MS, fanoutStats, shared !== undefined);
  }

  /** Creates the broker and opens its listeners; throws GW_ERR_MQTT_LISTEN / GW_ERR_MQTT_TLS. */
  static async start(options: BrokerOptions): Promise<LocalBroker> {
    const { config, log } = options;
    const topics = new Topics(options.site);
    // The hooks need the instance; aedes needs the hooks first.
    let self: LocalBroker | undefined;
    const aedes = await Aedes.createBroker({
      // A subscriber that stops reading must not stall delivery to the others.
      drainTimeout: DRAIN_TIMEOUT_MS,
      concurrency: 1000,
      authenticate: (client, username, password, done) => {
        if (self === undefined) return done(authError('starting', 5), false);
        self.authenticate(client, username, password).then(
          (rights) => {
            self!.rights.set(client, rights);
            done(null, true);
          },
          (err: AuthenticateError) => done(err, false),
        );
      },
      authorizePublish: (client, packet, done) => (self === undefined ? done(new Error('starting')) : self.authorizePublish(client, packet, done)),
      authorizeSubscribe: (client, sub, done) => {
        const rights = self?.rights.get(client);
        if (rights !== undefined && rights.canSubscribe(sub.topic)) return done(null, sub);
        if (self !== undefined) self.counters.subscribeRefused++;
        log.warn({ user: rights?.username, topic: sub.topic, code: 'GW_ERR_MQTT_FORBIDDEN' }, 'MQTT subscribe refused (SUBACK 0x80)');
        // MQTT-3.9.3: return code 0x80 for this filter; the other filters of the packet stand.
        return done(null, null);
      },
      // Write requests are the gateway's to act on; nobody else receives them.
      authorizeForward: (_client, packet) => (packet.topic.endsWith('/set') && topics.owns(packet.topic) ? null : packet),
    });
    aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'MQTT client error'));
    aedes.on('connectionError', (client, err) => log.debug({ client: client.id, err: err.message }, 'MQTT connection error'));

    const servers: Server[] = [];
    try {
      const plain = createServer(aedes.handle);
      servers.push(plain);
      const port = await listen(plain, options.port ?? config.port, config.host, 'listener');
      let tlsUrl: string | undefined;
      if (config.tls !== undefined) {
        const tls = config.tls;
        let server: Server;
        try {
          const ca = tls.caFile === undefined ? undefined : readFileSync(tls.caFile);
          server = createTlsServer(
            { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile), ...(ca === undefined ? {} : { ca, requestCert: true, rejectUnauthorized: true }) },
            aedes.handle,
          );
        } catch (err) {
          throw new GatewayError('GW_ERR_MQTT_TLS', `gateway.mqtt.tls: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        servers.push(server);
        const host = tls.host ?? config.host;
        tlsUrl = urlOf('mqtts', host, await listen(server, options.tlsPort ?? tls.port, host, 'TLS listener'));
      }
      self = new LocalBroker(aedes, servers, options, topics, urlOf('mqtt', config.host, port), tlsUrl);
      log.info({ url: self.url, tls: tlsUrl ?? null, users: config.users.length, gatewayUsers: config.gatewayUsers, anonymous: config.allowAnonymous }, 'MQTT broker listening');
      return self;
    } catch (err) {
      for (const s of servers) s.close();
      await new Promise<void>((r) => aedes.close(() => r()));
      throw err;
    }
  }

  /**
   * Publishes the readings of one device that changed in value or quality since the
   * last publication (the first one always), retained, as `{v, ts, q}` at QoS 0.
   * Returns how many were published. The hot path: ~one Map look-up per reading; a
   * value's JSON and frame are built only when a subscriber (or the bridge) takes it.
   */
  publishReadings(device: string, readings: readonly Reading[], slots?: readonly number[]): number {
    let n = 0;
    const bySlot = this.bySlot;
    const bridge = this.bridge;
    const fanout = this.fanout;
    const points = this.points;
    let known = this.batches.get(device);
    if (known === undefined) this.batches.set(device, (known = { slot: new Slot(this.topics.values(device)), order: [] }));
    const batchSlot = known.slot;
    const order = known.order;
    // `$values` is built only while someone subscribes to it.
    const batchWanted = fanout.wanted(batchSlot);
    const now = Date.now();
    let batch = '';
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      // By the point's slot when the poller gave them (stable), else by position in the cycle.
      const table = slots === undefined ? order : bySlot;
      const at = slots === undefined ? i : slots[i]!;
      holdSlot(table, at);
      let p = slotAt(table, points, at, r.point);
      if (p !== undefined) {
        if (!takeChange(p, r)) continue;
        p.changes++;
      } else {
        p = new PointSlot(r.point, this.topics.value(device, r.point.slice(r.point.indexOf('.') + 1)), r.point.slice(r.point.indexOf('.') + 1), r.value, r.ts, r.quality);
        points.set(r.point, p);
        table[at] = p;
        fanout.retain(p);
      }
      n++;
      const live = p.forward && fanout.wanted(p);
      if (!live && bridge === undefined && !batchWanted) continue;
      const json = valueJson(p);
      if (live || bridge !== undefined) {
        const { frame, payload } = fanout.frame(p, json);
        if (live) fanout.deliver(p, frame, now);
        bridge?.value(p.topic, payload);
      }
      if (batchWanted) batch += `${batch.length === 0 ? '' : ','}"${p.name}":${json}`;
    }
    this.counters.valuesUnchanged += readings.length - n;
    // One message per device and poll for bulk consumers: 1 delivery instead of n per subscriber.
    if (batch.length > 0) fanout.deliver(batchSlot, fanout.frame(batchSlot, `{"ts":${now},"values":{${batch}}}`).frame, now);
    this.counters.valuesPublished += n;
    return n;
  }

  /**
   * Publishes a recorded event on `…/events/<type>` at QoS 1, not retained; a
   * `device.online` / `device.offline` also updates the device's `$state`.
   */
  publishEvent(event: GatewayEvent): void {
    const topic = this.topics.event(event.type);
    const payload = Buffer.from(JSON.stringify(event));
    this.aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, noop);
    this.bridge?.event(topic, payload, event.type.startsWith('alarm.'));
    this.counters.eventsPublished++;
    if (event.device !== undefined && (event.type === 'device.online' || event.type === 'device.offline')) {
      this.setDeviceState(event.device, event.type === 'device.online' ? 'online' : 'offline');
    }
  }

  /** Publishes `…/<device>/$state` (retained) when it changed. */
  setDeviceState(device: string, state: DeviceState): void {
    if (this.states.get(device) === state) return;
    this.states.set(device, state);
    const topic = this.topics.state(device);
    const payload = Buffer.from(state);
    this.aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: true, dup: false }, noop);
    this.bridge?.value(topic, payload);
  }

  /**
   * A credential valid while this broker runs, for a part of the gateway (Node-RED's
   * child process, the panel): a random password, never written anywhere.
   */
  issueCredential(username: string, role: Role, acl?: MqttUserConfigAcl): { username: string; password: string; url: string } {
    const password = randomBytes(24).toString('base64url');
    this.addCredential(username, password, role, acl);
    return { username, password, url: this.url };
  }

  /** A credential made elsewhere (the main thread, in worker mode). */
  addCredential(username: string, password: string, role: Role, acl?: MqttUserConfigAcl): void {
    this.internal.set(username, { password: this.mac(password), role, ...(acl === undefined ? {} : { acl }) });
  }

  /** Everything asked before is done (the same for the worker mode's broker, where it waits for the worker). */
  settled(): Promise<void> {
    return Promise.resolve();
  }

  stats(): BrokerStats & { bridge?: BridgeStats } {
    const f = this.fanout.stats;
    return {
      clients: this.aedes.connectedClients,
      ...this.counters,
      valuesDelivered: f.delivered,
      valuesDropped: f.dropped,
      valuesCaughtUp: f.caughtUp,
      slowSubscribersDisconnected: f.disconnected,
      retainedSent: f.retainedSent,
      ...(this.bridge === undefined ? {} : { bridge: this.bridge.stats() }),
    };
  }

  /** The figures of /metrics, named as its counters are (`steward_mqtt_…`). */
  metrics(): Record<string, number> {
    return metricsOf(this.stats());
  }

  /** Closes the listeners and disconnects every client. Idempotent. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      const closed = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      await new Promise<void>((r) => this.aedes.close(() => r()));
      await Promise.all(closed);
      await this.bridge?.close();
    })());
  }

  private mac(password: string): Buffer {
    return createHmac('sha256', this.key).update(password).digest();
  }

  /** CONNECT: who is it, and what may it do (MQTT-3.1.3-8: a refused CONNECT gets CONNACK 4 or 5). */
  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<Rights> {
    const { config, log } = this.options;
    const address = (client.conn as { remoteAddress?: string }).remoteAddress ?? 'unknown';
    if (username === undefined || username === '') {
      if (config.allowAnonymous) return new Rights('anonymous', 'viewer', this.topics);
      this.counters.loginsRefused++;
      log.warn({ client: client.id, address }, 'MQTT anonymous connect refused (gateway.mqtt.allowAnonymous is false)');
      throw authError('anonymous access is off', 5);
    }
    const now = Date.now();
    const recent = (this.failures.get(address) ?? []).filter((t) => now - t < 60_000);
    if (recent.length >= MAX_FAILURES_PER_MINUTE) {
      this.counters.loginsRefused++;
      throw authError('too many failed logins', 5);
    }
    const given = password?.toString('utf8') ?? '';
    let internal = this.internal.get(username);
    if (internal === undefined && this.options.issuedCredential !== undefined) {
      // Worker mode: issued on the main thread, its message not handled here yet.
      const issued = await this.options.issuedCredential(username);
      if (issued !== undefined && !this.internal.has(username)) this.addCredential(username, issued.password, issued.role, issued.acl);
      internal = this.internal.get(username);
    }
    if (internal !== undefined) {
      if (timingSafeEqual(this.mac(given), internal.password)) return new Rights(username, internal.role, this.topics, internal.acl);
    } else {
      const own = config.users.find((u) => u.username === username);
      const login = own === undefined && config.gatewayUsers ? this.options.gatewayUsers.find((u) => u.name === username) : undefined;
      const secret: PasswordSecret = own ?? login ?? { passwordHash: DUMMY_HASH };
      const ok = await this.options.verifyPassword(secret, given);
      if (ok && own !== undefined) return new Rights(username, own.role, this.topics, own.acl);
      if (ok && login !== undefined) return new Rights(username, login.role, this.topics);
    }
    recent.push(now);
    this.failures.set(address, recent);
    if (this.failures.size > 10_000) this.failures.clear();
    this.counters.loginsRefused++;
    log.warn({ client: client.id, user: username, address }, 'MQTT login refused: wrong user name or password');
    throw authError('wrong user name or password', 4);
  }

  /**
   * PUBLISH from a client. Outside its rights: the connection is closed — MQTT 3.1.1 has
   * no negative PUBACK; the server must either acknowledge or close (MQTT-3.3.5-2), and
   * closing tells the client something is wrong. A permitted `…/set` is acknowledged
   * at once (never retained: MQTT-3.3.1-5 would keep it for later subscribers), then
   * written through the guards, and its result published on `…/set/result`.
   */
  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const rights = client === null ? undefined : this.rights.get(client);
    const { log, config } = this.options;
    const topic = packet.topic;
    const tooBig = packet.payload.length > config.maxPayloadBytes;
    if (rights === undefined || tooBig || !rights.canPublish(topic)) {
      this.counters.publishRefused++;
      log.warn({ client: client?.id, user: rights?.username, topic, bytes: packet.payload.length, code: 'GW_ERR_MQTT_FORBIDDEN' }, tooBig ? 'MQTT publish refused: payload too big; connection closed' : 'MQTT publish refused: not allowed; connection closed');
      done(new GatewayError('GW_ERR_MQTT_FORBIDDEN', `${rights?.username ?? 'this client'} may not publish on ${topic}`));
      return;
    }
    const target = this.topics.parseSet(topic);
    if (target === undefined) {
      done(null);
      return;
    }
    packet.retain = false;
    done(null);
    void this.write(target.device, target.point, Buffer.from(packet.payload), rights.username);
  }

  private async write(device: string, point: string, payload: Buffer, username: string): Promise<void> {
    const parsed = parseWrite(payload);
    const id = parsed.id === undefined ? {} : { id: parsed.id };
    let result: Record<string, unknown>;
    if ('error' in parsed) {
      this.counters.writesRefused++;
      result = { ok: false, code: 'GW_ERR_MQTT_BAD_PAYLOAD', message: parsed.error, by: username, ts: Date.now(), ...id };
    } else {
      try {
        const { previous } = await this.options.writePoint(device, point, parsed.value, `mqtt:${username}`);
        this.counters.writesAccepted++;
        result = { ok: true, v: parsed.value, previous, by: username, ts: Date.now(), ...id };
      } catch (err) {
        this.counters.writesRefused++;
        result = {
          ok: false,
          v: parsed.value,
          code: err instanceof GatewayError ? err.code : 'GW_ERR_INTERNAL',
          message: err instanceof Error ? err.message : String(err),
          by: username,
          ts: Date.now(),
          ...id,
        };
      }
    }
    if (this.closing !== undefined) return;
    this.aedes.publish({ cmd: 'publish', topic: this.topics.setResult(device, point), payload: Buffer.from(JSON.stringify(result)), qos: 1, retain: false, dup: false }, noop);
  }
}

type MqttUserConfigAcl = { readonly subscribe: readonly string[]; readonly publish: readonly string[] };

function noop(): void {}
