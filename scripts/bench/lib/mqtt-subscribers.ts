/**
 * MQTT subscribers for the benches (`mqtt`, `alarms`, `poll --mqtt-subscribers N`): N
 * clients (MQTT 3.1.1, QoS 0) in one child process, so that the broker's process is
 * measured alone. They count the messages they get and sample delivery latency from the
 * payload's `ts` (every 97th value or batch), and report every 500 ms on stdout.
 *
 * Two clients (`--mqtt-client lean|mqttjs`, default lean): `lean` is lib/lean-mqtt.ts, a
 * raw-socket MQTT 3.1.1 client that walks the frames and counts PUBLISHes without building
 * a packet object per message; `mqttjs` is mqtt.js (streams, a parsed packet and a topic
 * string per message). The subscribers are the load generator, not the system under test:
 * on this 2-core machine 50 mqtt.js clients took 0.76–0.91 of a core beside the gateway,
 * and every cycle they take is one the gateway's threads do not get (docs/mqtt.md).
 *
 * Lives under `lib/` because `npm run bench` takes every `.ts` directly in
 * scripts/bench for a benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Gateway } from '../../../gateway/src/main.js';
import { procCpuSeconds, stopChild, type Attachment } from './poll-rig.js';

/** The subscribers' implementation (`--mqtt-client`). */
export type MqttClientKind = 'lean' | 'mqttjs';

/** `--mqtt-client` from a bench's arguments: lean unless mqttjs is asked; anything else is an error. */
export function mqttClientOption(args: Record<string, string | undefined>): MqttClientKind {
  const v = args['mqtt-client'] ?? 'lean';
  if (v !== 'lean' && v !== 'mqttjs') throw new Error(`--mqtt-client takes lean or mqttjs, got "${v}"`);
  return v;
}

/** The child's code for the lean client: lean-mqtt.js beside this module (compiled), or lean-mqtt.ts through tsx. */
function leanScript(): { script: string; nodeArgs: string[] } {
  const url = import.meta.resolve('./lean-mqtt.js');
  const script = `import { runSubscribers } from ${JSON.stringify(url)}; const a = process.argv; await runSubscribers(a[1], Number(a[2]), a[3], a[4], a[5]);`;
  return { script, nodeArgs: url.endsWith('.ts') ? ['--import', 'tsx'] : [] };
}

/** mqtt.js' subscribers (`--mqtt-client mqttjs`). */
const MQTTJS_SCRIPT = `
import mqtt from 'mqtt';
const [url, n, filter, username, password] = [process.argv[1], Number(process.argv[2]), process.argv[3], process.argv[4], process.argv[5]];
let count = 0; let closed = 0; const lat = [];
// All connected first, then all subscribed at once: subscribed one by one, the later ones
// would wait behind the flood the earlier ones already get.
const clients = await Promise.all(Array.from({ length: n }, (_, i) => mqtt.connectAsync(url, { protocolVersion: 4, username, password, clientId: 'bench-sub-' + process.pid + '-' + i, reconnectPeriod: 0, connectTimeout: 60000 })));
for (const c of clients) {
  c.on('message', (topic, payload) => {
    if (++count % 97 === 0 && !topic.endsWith('$state')) {
      const ts = JSON.parse(payload.toString()).ts;
      if (typeof ts === 'number') lat.push(Date.now() - ts);
    }
  });
  c.on('close', () => closed++);
}
await Promise.all(clients.map((c) => c.subscribeAsync(filter, { qos: 0 })));
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
setInterval(() => { process.stdout.write(JSON.stringify({ count, closed, lat: lat.splice(0) }) + '\\n'); }, 500);
`;

export interface SubscriberSample {
  /** Messages received so far, all clients together. */
  readonly count: number;
  /** Clients whose connection closed (the broker disconnects a reader too slow past its drain timeout). */
  readonly closed: number;
  /** Latencies sampled since the last report, ms. */
  readonly lat: number[];
}

export interface Subscribers {
  readonly child: ChildProcess;
  /** The reports so far (every 500 ms); the caller may empty it. */
  readonly samples: SubscriberSample[];
  /** Messages received so far (the last report's count). */
  count(): number;
  /**
   * Waits until `atLeast` messages have arrived (the retained values the broker says it
   * sent on subscription) and the count has stood still for a second, at most 60 s: the
   * retained values will not weigh on what follows.
   */
  settle(atLeast?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `n` subscribers of `filter` on `url` (lean clients unless `client` says mqttjs); resolves once every one has its SUBACK. */
export function startSubscribers(url: string, n: number, filter: string, login: { username: string; password: string }, client: MqttClientKind = 'lean'): Promise<Subscribers> {
  const { script, nodeArgs } = client === 'lean' ? leanScript() : { script: MQTTJS_SCRIPT, nodeArgs: [] };
  // cwd: the repository (mqtt and tsx resolve from it).
  const cwd = fileURLToPath(new URL('../../..', import.meta.url));
  const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', script, url, String(n), filter, login.username, login.password], { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
  const samples: SubscriberSample[] = [];
  const subs: Subscribers = {
    child,
    samples,
    count: () => samples.at(-1)?.count ?? 0,
    async settle(atLeast = 0) {
      for (let last = -1, still = 0, waited = 0; (still < 2 || last < atLeast) && waited < 120; waited++) {
        await new Promise((res) => setTimeout(res, 500));
        const c = subs.count();
        still = c === last ? still + 1 : 0;
        last = c;
      }
    },
    stop: () => stopChild(child),
  };
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const msg = JSON.parse(buf.slice(0, i)) as { ready?: boolean } & SubscriberSample;
        buf = buf.slice(i + 1);
        if (msg.ready === true) resolve(subs);
        else {
          // Keep the latest count; the latencies accumulate in the reports kept.
          samples.push(msg);
        }
      }
    });
    child.on('exit', (code, signal) => reject(new Error(`MQTT subscribers exited (${code ?? signal}) before all were subscribed`)));
  });
}

/** What the bus did over one measured window of a gateway run with subscribers beside it. */
export interface BusWindow {
  /** Messages the broker wrote to the subscribers' sockets, and dropped for a full one (QoS 0), per second. */
  readonly writtenPerS: number;
  readonly droppedPerS: number;
  /** Latest values sent to subscribers catching up after a drain (one per topic they missed), per second. */
  readonly caughtUpPerS: number;
  /** Messages the subscribers read, per second (their own count, sampled every 500 ms). */
  readonly readPerS: number;
  /** Cores the subscribers' process used. */
  readonly subscriberCores: number;
  /** Subscribers the broker disconnected for not reading (drain timeout). */
  readonly disconnected: number;
  /** Delivery latency p99 over the window, ms (sampled every 97th message). */
  readonly latencyP99Ms: number;
}

/**
 * `poll --mqtt-subscribers N`: N subscribers of the gateway's whole tree (`steward/v1/<site>/#`:
 * every point's value, the `$values` batches, states and events), logged in with a viewer
 * credential the broker issues, attached to each gateway run by name.
 */
export class SubscribersBeside {
  private readonly windows = new Map<string, BusWindow>();

  constructor(
    readonly n: number,
    readonly client: MqttClientKind = 'lean',
  ) {}

  /** runSteward's options for the run `name` (none when n is 0). */
  options(name: string): { attach?: (gw: Gateway) => Promise<Attachment> } {
    if (this.n <= 0) return {};
    return {
      attach: async (gw) => {
        const broker = gw.broker;
        if (broker === undefined) throw new Error('--mqtt-subscribers: the gateway has no MQTT broker (gateway.mqtt.enabled is false)');
        const login = broker.issueCredential('bench-subscriber', 'viewer');
        const subs = await startSubscribers(login.url, this.n, `${broker.topics.prefix}/#`, login, this.client);
        const pid = subs.child.pid!;
        let s0 = broker.stats();
        let read0 = 0;
        let cpu0 = 0;
        let t0 = 0;
        return {
          begin: () => {
            s0 = broker.stats();
            read0 = subs.count();
            subs.samples.length = 0;
            cpu0 = procCpuSeconds(pid);
            t0 = performance.now();
          },
          end: () => {
            const seconds = (performance.now() - t0) / 1000;
            const s1 = broker.stats();
            const lat = subs.samples.flatMap((x) => x.lat).sort((a, b) => a - b);
            this.windows.set(name, {
              writtenPerS: Math.round((s1.valuesDelivered - s0.valuesDelivered) / seconds),
              droppedPerS: Math.round((s1.valuesDropped - s0.valuesDropped) / seconds),
              caughtUpPerS: Math.round((s1.valuesCaughtUp - s0.valuesCaughtUp) / seconds),
              readPerS: Math.round((subs.count() - read0) / seconds),
              subscriberCores: Number(((procCpuSeconds(pid) - cpu0) / seconds).toFixed(3)),
              disconnected: s1.slowSubscribersDisconnected - s0.slowSubscribersDisconnected,
              latencyP99Ms: lat.length === 0 ? 0 : lat[Math.min(lat.length - 1, Math.floor(0.99 * lat.length))]!,
            });
          },
          stop: () => subs.stop(),
        };
      },
    };
  }

  /** The figures of run `name`'s window, for a run measured in another process (`poll`'s child processes). */
  window(name: string): BusWindow | undefined {
    return this.windows.get(name);
  }

  /** Takes run `name`'s window as measured in another process. */
  record(name: string, w: BusWindow | undefined): void {
    if (w !== undefined) this.windows.set(name, w);
  }

  /** The table's extra columns (none when n is 0). */
  header(): string[] {
    return this.n <= 0 ? [] : [`MQTT written msg/s (${this.n} ${this.client} subs)`, 'MQTT dropped msg/s', 'MQTT caught up msg/s', 'MQTT read msg/s', 'subscribers cores', 'MQTT latency p99 ms', 'subscribers disconnected'];
  }

  columns(name: string): (string | number)[] {
    if (this.n <= 0) return [];
    const w = this.windows.get(name);
    return w === undefined ? ['', '', '', '', '', '', ''] : [w.writtenPerS, w.droppedPerS, w.caughtUpPerS, w.readPerS, w.subscriberCores, w.latencyP99Ms, w.disconnected];
  }

  /** JSON figures of run `name`, prefixed (`saturation_mqtt_written_msgs_per_s`, …). */
  figures(name: string, prefix: string): Record<string, number> {
    const w = this.windows.get(name);
    if (w === undefined) return {};
    return {
      [`${prefix}mqtt_subscribers`]: this.n,
      [`${prefix}mqtt_written_msgs_per_s`]: w.writtenPerS,
      [`${prefix}mqtt_dropped_msgs_per_s`]: w.droppedPerS,
      [`${prefix}mqtt_caught_up_msgs_per_s`]: w.caughtUpPerS,
      [`${prefix}mqtt_read_msgs_per_s`]: w.readPerS,
      [`${prefix}mqtt_subscriber_cores`]: w.subscriberCores,
      [`${prefix}mqtt_latency_p99_ms`]: w.latencyP99Ms,
      [`${prefix}mqtt_subscribers_disconnected`]: w.disconnected,
    };
  }
}
