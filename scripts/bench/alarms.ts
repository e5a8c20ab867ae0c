/**
 * `npm run bench -- alarms [--quick] [--points N] [--seconds S] [--subscribers K]`
 *
 * 1. The alarm engine's hot path: N points (10,000: 715 VFD pumps of 14 points, each
 *    with the profile's 4 point rules and a comm rule) fed in per-device batches as the
 *    poller hands them to main.ts, as fast as it goes, one simulated second per round
 *    with a tick. About 1 % of the pumps cross their low-pressure limit and back every
 *    simulated minute, so transitions (each a SQLite transaction with its lane-0 event)
 *    are part of the cost. Figure: points/s at one core.
 * 2. MQTT fan-out through the gateway's embedded broker (gateway/src/broker/, aedes):
 *    K subscribers (50) on `steward/v1/bench/#` in a worker thread (the mqtt package),
 *    the broker publishing changed values of the N points; figure: messages delivered
 *    per second, over all subscribers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AlarmEngine } from '../../gateway/src/alarms/engine.js';
import { verifyPassword } from '../../gateway/src/api/auth.js';
import { Broker } from '../../gateway/src/broker/broker.js';
import { loadProfileFile } from '../../gateway/src/config.js';
import type { AlarmSettingsDoc } from '../../gateway/src/core/config/alarms.js';
import type { DeviceConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import type { Quality, Reading, Value } from '../../gateway/src/core/model.js';
import { AlarmStore } from '../../gateway/src/store/alarms.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import type { BenchOptions, BenchResult } from './run.js';

type MutableReading = { point: string; ts: number; value: Value | null; quality: Quality };

const SETTINGS: AlarmSettingsDoc = { floodWindowMs: 60_000, floodLookbackMs: 10_000, maxShelveMs: 8 * 3600_000, tickMs: 1000, deviceOffline: { enabled: true, severity: 'major', delayMs: 10_000 } };

/** Normal values of the pump profile's points (a healthy pump). */
const NORMAL: Readonly<Record<string, Value>> = {
  outlet_pressure: 4.2,
  flow: 30,
  motor_current: 20,
  frequency: 45,
  bearing_temperature: 55,
  vibration: 2.1,
  run_hours: 1000,
  running: true,
  fault: false,
  remote_mode: true,
  fault_code: 0,
  pressure_setpoint: 4.5,
  energy: 5000,
  start_stop: true,
};

function pumps(n: number): DeviceConfig[] {
  const profile = loadProfileFile(path.join(path.dirname(new URL(import.meta.url).pathname), '../../device-profiles/water/vfd-pump.yaml'));
  return Array.from({ length: n }, (_, i) => ({ id: `pump-${i}`, profileRef: 'water/vfd-pump', profile, system: 'water', pollIntervalMs: 1000, enabled: true, connection: { protocol: 'modbus-tcp' } }) as unknown as DeviceConfig);
}

async function engineRun(points: number, seconds: number): Promise<{ pointsPerS: number; pointsPerCpuS: number; transitions: number; rules: number; rounds: number; nsPerPoint: number }> {
  const devices = pumps(Math.ceil(points / 14));
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-alarms-'));
  const store = new GatewayStore({ dataDir: dir, site: 'bench' });
  let now = Date.now();
  const engine = new AlarmEngine({ store: new AlarmStore(store), devices, settings: SETTINGS, now: () => now });
  // One reusable batch per device, as the poller hands them over; values changed in place.
  const batches = devices.map((d) => d.profile.points.map((p): MutableReading => ({ point: `${d.id}.${p.name}`, ts: now, value: NORMAL[p.name] ?? 0, quality: 'good' })));
  const bases = devices.map((d) => d.profile.points.map((p) => NORMAL[p.name] ?? 0));
  const pressure = batches.map((b) => b.find((r) => r.point.endsWith('.outlet_pressure'))!);
  let fed = 0;
  let rounds = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let k = 0; k < 10; k++, rounds++) {
      now += 1000;
      const minute = Math.floor(rounds / 60);
      for (let i = 0; i < devices.length; i++) {
        const batch = batches[i]!;
        for (let j = 0; j < batch.length; j++) {
          const r = batch[j]!;
          r.ts = now;
          const base = bases[i]![j]!;
          if (typeof base === 'number') r.value = base + ((rounds + j) % 7) * 0.01;
        }
        // 1 % of the pumps lose pressure for half of every other minute.
        pressure[i]!.value = i % 100 === minute % 100 && rounds % 60 < 30 ? 0.8 : 4.2 + (rounds % 5) * 0.01;
        engine.readings(devices[i]!.id, batch as Reading[]);
        fed += batch.length;
      }
      engine.tick(now);
    }
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const stats = engine.stats();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { pointsPerS: Math.round(fed / (elapsedNs / 1e9)), pointsPerCpuS: Math.round(fed / cpuS), transitions: stats.transitions, rules: stats.rules, rounds, nsPerPoint: elapsedNs / fed };
}

/** The subscribers, in a worker thread so that their parsing does not share the broker's thread. */
const SUBSCRIBERS = `
const { parentPort, workerData } = require('node:worker_threads');
const mqtt = require(workerData.mqtt);
let received = 0;
const clients = [];
(async () => {
  for (const c of workerData.credentials) {
    const client = await mqtt.connectAsync(c.url, { username: c.username, password: c.password, protocolVersion: 4, reconnectPeriod: 0 });
    await client.subscribeAsync(workerData.topic, { qos: 0 });
    client.on('message', () => { received++; });
    clients.push(client);
  }
  parentPort.postMessage({ ready: true });
})().catch((err) => parentPort.postMessage({ error: String(err) }));
parentPort.on('message', async (m) => {
  if (m === 'count') parentPort.postMessage({ received });
  if (m === 'close') { await Promise.all(clients.map((c) => c.endAsync())); parentPort.postMessage({ closed: true }); }
});
`;

async function fanoutRun(points: number, subscribers: number, rounds: number): Promise<{ msgsPerS: number; msgsPerCpuS: number; delivered: number; published: number; seconds: number }> {
  const log = createLogger({ level: 'silent' });
  const broker = await Broker.start({
    site: 'bench',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: false, maxPayloadBytes: 65536, users: [] } as unknown as Parameters<typeof Broker.start>[0]['config'],
    gatewayUsers: [],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: () => Promise.reject(new Error('read-only bench')),
    log,
    port: 0,
    tlsPort: 0,
  });
  const credentials = Array.from({ length: subscribers }, (_, i) => broker.issueCredential(`bench-sub-${i}`, 'viewer'));
  const worker = new Worker(SUBSCRIBERS, { eval: true, workerData: { credentials, topic: 'steward/v1/bench/#', mqtt: createRequire(import.meta.url).resolve('mqtt') } });
  const ask = (m: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      worker.once('message', resolve as (v: unknown) => void);
      worker.postMessage(m);
    });
  const ready = await new Promise<Record<string, unknown>>((resolve) => worker.once('message', resolve as (v: unknown) => void));
  if (ready.error !== undefined) throw new Error(`subscribers: ${String(ready.error)}`);

  const devices = Math.ceil(points / 14);
  const batches = Array.from({ length: devices }, (_, d) => Array.from({ length: 14 }, (_, p): MutableReading => ({ point: `pump-${d}.p${p}`, ts: 0, value: 0, quality: 'good' })));
  let published = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let r = 1; r <= rounds; r++) {
    for (let d = 0; d < devices; d++) {
      const batch = batches[d]!;
      for (const x of batch) {
        x.ts = Date.now();
        x.value = r; // a new value each round: published (publication by exception)
      }
      published += broker.publishReadings(`pump-${d}`, batch as Reading[]);
      if (d % 50 === 49) await new Promise((res) => setImmediate(res)); // let the sockets drain
    }
    // Wait for this round to reach every subscriber (bounded).
    const want = published * subscribers;
    const deadline = Date.now() + 60_000;
    while (((await ask('count')).received as number) < want && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // CPU of the whole process: the broker's thread and the subscribers' worker (a conservative figure).
  const cpu = process.cpuUsage(cpu0);
  const delivered = (await ask('count')).received as number;
  await ask('close');
  await worker.terminate();
  await broker.close();
  return { msgsPerS: Math.round(delivered / seconds), msgsPerCpuS: Math.round(delivered / ((cpu.user + cpu.system) / 1e6)), delivered, published, seconds };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 10_000);
  const seconds = Number(options.args.seconds ?? (options.quick ? 5 : 20));
  const subscribers = Number(options.args.subscribers ?? 50);
  const e = await engineRun(points, seconds);
  let fan: Awaited<ReturnType<typeof fanoutRun>> | undefined;
  let fanError: string | undefined;
  try {
    fan = await fanoutRun(options.quick ? Math.min(points, 2000) : points, subscribers, options.quick ? 2 : 3);
  } catch (err) {
    fanError = err instanceof Error ? err.message : String(err);
  }
  const table: (string | number)[][] = [
    ['measure', 'value'],
    ['points in the engine', points],
    ['rules (point + comm)', e.rules],
    ['simulated seconds fed', e.rounds],
    ['points/s through the engine (one core)', e.pointsPerS],
    ['points per CPU-second (load-independent)', e.pointsPerCpuS],
    ['ns per point (wall)', Math.round(e.nsPerPoint)],
    ['alarm transitions (each a SQLite transaction)', e.transitions],
    [`one core's share at ${points} points/s`, `${((points / e.pointsPerS) * 100).toFixed(2)} %`],
    ['MQTT subscribers', subscribers],
    ['MQTT values published', fan?.published ?? 'n/a'],
    ['MQTT messages delivered', fan?.delivered ?? 'n/a'],
    ['MQTT fan-out msgs/s (all subscribers)', fan?.msgsPerS ?? `failed: ${fanError ?? ''}`],
    ['MQTT msgs per CPU-second (broker + subscribers)', fan?.msgsPerCpuS ?? 'n/a'],
  ];
  return {
    table,
    figures: {
      points,
      points_per_s: e.pointsPerS,
      points_per_cpu_s: e.pointsPerCpuS,
      ns_per_point: Math.round(e.nsPerPoint),
      transitions: e.transitions,
      mqtt_subscribers: subscribers,
      // null (printed as such) when the broker could not be measured; the table says why.
      ...(fan === undefined ? { mqtt_fanout_msgs_per_s: null as unknown as number } : { mqtt_fanout_msgs_per_s: fan.msgsPerS, mqtt_fanout_msgs_per_cpu_s: fan.msgsPerCpuS, mqtt_delivered: fan.delivered }),
    },
  };
}
