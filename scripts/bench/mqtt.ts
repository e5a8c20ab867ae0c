/**
 * `npm run bench -- mqtt [--quick] [--points N] [--rate R] [--subscribers S] [--seconds T] [--mqtt-client lean|mqttjs]`
 *
 * The gateway's MQTT bus alone (gateway/src/broker/, docs/mqtt.md): the real Broker in
 * this process, `publishReadings` called as main.ts calls it (one batch per device, every
 * value changed so each one is published: the worst case of publication by exception),
 * and S subscribers (MQTT 3.1.1, QoS 0, each on the site's whole tree) in one child
 * process, so that the broker's thread is measured alone: the lean raw-socket client of
 * lib/lean-mqtt.ts by default, mqtt.js with `--mqtt-client mqttjs` (the subscribers are the
 * load generator: the cheaper they are, the less they take from the broker's core). Runs:
 *
 * 0. publish-only, as fast as it goes — every point changed once per round, nobody
 *    subscribed: the most changed values/s the hand-off from the poller takes, and its CPU
 *    per value (the paced run below carries the bench's own timers and batch building);
 * 0b. publish-only, saturation shape — 50 devices × 600 points per batch, every point
 *    reported and ~4.5 % changed, as fast as it goes: the cost of publication by exception
 *    per point *read* (`publish_saturation_cpu_ms_per_1k_readings`), what the poller's thread
 *    pays at the device layer's saturation with nobody subscribed;
 * 1. publish-only — `--rate` values/s (default 10,000) with no subscriber: the cost of
 *    the hot path per value (dedupe and keeping the last value, which is what a SUBSCRIBE
 *    is answered from: no JSON or frame is built for a topic nobody subscribes to);
 * 2. per-point 1 — the same rate to one subscriber of every point topic;
 * 3. device-batches S — the same rate to S (default 50) subscribers of `+/$values`, one
 *    message per device and poll (the form for bulk consumers);
 * 4. per-point S — `--fanout-rate` values/s (default 1,000) to S subscribers of every point
 *    topic: each value delivered S times;
 * 5. per-point S full — the same at `--rate` (the device layer's 10,000 points/s): S × rate
 *    messages/s asked (500,000 with the defaults).
 *
 * Each run reports values/s published, messages delivered/s (counted by the subscribers
 * while publishing and one second after), messages the broker wrote to their sockets and
 * dropped for a full socket (its own counters: QoS 0 values beyond 4 MiB waiting), broker
 * CPU per 1,000 values (the process's, the bench's own driving included), per 1,000
 * deliveries and per message written, the share of time
 * the event loop was busy, and delivery latency p50/p99 (every 97th message). The
 * retained values sent on subscription are waited out before each run and not counted.
 *
 * Figures are one core's worth at most (Node runs the broker on one thread) and the
 * subscribers' process shares the machine's cores: read them with the load average.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { verifyPassword } from '../../gateway/src/api/auth.js';
import { Broker } from '../../gateway/src/broker/broker.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import type { Reading } from '../../gateway/src/core/model.js';
import { mqttClientOption, startSubscribers } from './lib/mqtt-subscribers.js';
import type { BenchOptions, BenchResult } from './run.js';

const PASSWORD = 'bench-pass';

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Publishes `rate` changed values/s for `seconds`, in 10 ms ticks, one batch per device of 100 points. */
async function drive(broker: Broker, points: number, rate: number, seconds: number): Promise<{ published: number; cpuMs: number; elu: number }> {
  let seq = 0;
  let published = 0;
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const start = Date.now();
  let sent = 0;
  while (Date.now() - start < seconds * 1000) {
    const now = Date.now();
    // What the rate owes by now, so that late timers (a loaded machine) do not lower it.
    let owed = Math.floor(((now - start) / 1000) * rate) - sent;
    sent += Math.max(0, owed);
    const byDevice = new Map<number, Reading[]>();
    for (; owed >= 1; owed--) {
      const p = seq++ % points;
      const d = Math.floor(p / 100);
      let list = byDevice.get(d);
      if (list === undefined) byDevice.set(d, (list = []));
      list.push({ point: `dev-${d}.p${p % 100}`, ts: now, value: seq, quality: 'good' });
    }
    for (const [d, list] of byDevice) published += broker.publishReadings(`dev-${d}`, list);
    await new Promise((r) => setTimeout(r, 10));
  }
  const cpu = process.cpuUsage(cpu0);
  return { published, cpuMs: (cpu.user + cpu.system) / 1000, elu: performance.eventLoopUtilization(elu0).utilization };
}

/**
 * Publication as fast as it goes, nobody subscribed: every point of `points` changed once
 * per round, one reused batch of 100 readings per device (the poller reuses its point ids
 * and reading objects), a turn of the event loop after each round. The cost of the hand-off
 * from the poller to the bus, per changed value, with CPU and wall over the whole run.
 */
async function saturate(broker: Broker, points: number, seconds: number): Promise<{ published: number; cpuMs: number; wallMs: number }> {
  const batches: { device: string; readings: { point: string; ts: number; value: number; quality: 'good' }[] }[] = [];
  for (let p = 0; p < points; p += 100) {
    const d = p / 100;
    batches.push({ device: `dev-${d}`, readings: Array.from({ length: Math.min(100, points - p) }, (_, i) => ({ point: `dev-${d}.p${i}`, ts: 0, value: 0, quality: 'good' as const })) });
  }
  let seq = 0;
  let published = 0;
  const timed = await roundsFor(seconds, (now) => {
    seq++;
    for (const b of batches) {
      for (const r of b.readings) {
        r.ts = now;
        r.value = seq;
      }
      published += broker.publishReadings(b.device, b.readings);
    }
  });
  return { published, ...timed };
}

/** Runs `round(now)` over and over for `seconds`, a turn of the event loop after each; the process's CPU and the wall time it took, ms. */
async function roundsFor(seconds: number, round: (now: number) => void): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    round(Date.now());
    await new Promise((r) => setImmediate(r));
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000, wallMs: performance.now() - t0 };
}

/**
 * The hand-off at the device layer's saturation shape, nobody subscribed: 50 devices of 600
 * points, each batch with every point of the device (as the poller reports them: the same
 * reading objects and point ids, in the same order) and ~4.5 % of them changed (what the
 * simulator's values do), batches as fast as they go, a turn of the event loop after each
 * round. Most readings are unchanged: this is the cost of publication by exception per
 * point read, which the poller's thread pays for every reading.
 */
async function saturateMostlyUnchanged(broker: Broker, seconds: number): Promise<{ readings: number; published: number; cpuMs: number; wallMs: number }> {
  const devices = 50;
  const size = 600;
  const changed = Math.round(0.045 * size);
  const batches = Array.from({ length: devices }, (_, d) => ({
    device: `sat-${d}`,
    readings: Array.from({ length: size }, (_, i) => ({ point: `sat-${d}.p${i}`, ts: 0, value: 0, quality: 'good' as const })),
  }));
  let readings = 0;
  let published = 0;
  let k = 0;
  const timed = await roundsFor(seconds, (now) => {
    for (const b of batches) {
      for (const r of b.readings) r.ts = now;
      // A fixed stride, not Math.random(): the same changes in every run.
      for (let c = 0; c < changed; c++) b.readings[(k = (k + 7919) % size)]!.value++;
      published += broker.publishReadings(b.device, b.readings);
      readings += size;
    }
  });
  return { readings, published, ...timed };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 10_000);
  const rate = Number(options.args.rate ?? 10_000);
  const subscribers = Number(options.args.subscribers ?? 50);
  /** Values/s of the per-point fan-out to all subscribers (every value to each of them). */
  const fanoutRate = Number(options.args['fanout-rate'] ?? 1000);
  const seconds = Number(options.args.seconds ?? (options.quick ? 4 : 15));
  const client = mqttClientOption(options.args);
  const load0 = loadavg()[0]!;
  const broker = await Broker.start({
    site: 'bench',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: false, maxPayloadBytes: 65536, users: [{ username: 'bench', role: 'viewer', password: PASSWORD }] },
    gatewayUsers: [],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: () => Promise.reject(new Error('read-only bench')),
    log: createLogger({ level: 'silent' }),
  });
  const rows: (string | number)[][] = [['run', 'subscribers', 'values/s', 'delivered msg/s', 'written msg/s', 'dropped msg/s', 'broker CPU ms/1k values', 'broker CPU ms/1k deliveries', 'broker CPU µs/written', 'event loop busy', 'latency p50 ms', 'latency p99 ms', 'subscribers dropped']];
  const figures: Record<string, number | string | boolean> = { points, rate, fanout_rate: fanoutRate, subscribers, seconds, mqtt_client: client };
  try {
    // Warm-up (the points' slots made, the code compiled), then the measured run.
    await saturate(broker, points, 1);
    const sat = await saturate(broker, points, seconds);
    rows.push(['publish-only, as fast as it goes', 0, Math.round(sat.published / (sat.wallMs / 1000)), 0, 0, 0, (sat.cpuMs / sat.published) * 1000, 0, 0, 1, 0, 0, 0]);
    figures.publish_max_values_per_s = Math.round(sat.published / (sat.wallMs / 1000));
    figures.publish_max_values_per_cpu_s = Math.round(sat.published / (sat.cpuMs / 1000));
    figures.publish_max_cpu_us_per_value = Number(((sat.cpuMs / sat.published) * 1000).toFixed(3));
    // Nobody subscribed either: the poller's hand-off at saturation, mostly unchanged readings.
    await saturateMostlyUnchanged(broker, 1);
    const shape = await saturateMostlyUnchanged(broker, seconds);
    rows.push(['publish-only, saturation shape (4.5 % changed)', 0, Math.round(shape.published / (shape.wallMs / 1000)), 0, 0, 0, (shape.cpuMs / shape.published) * 1000, 0, 0, 1, 0, 0, 0]);
    figures.publish_saturation_readings_per_s = Math.round(shape.readings / (shape.wallMs / 1000));
    figures.publish_saturation_readings_per_cpu_s = Math.round(shape.readings / (shape.cpuMs / 1000));
    figures.publish_saturation_cpu_ms_per_1k_readings = Number(((shape.cpuMs / shape.readings) * 1000).toFixed(4));
    const alone = await drive(broker, points, rate, seconds);
    rows.push(['publish-only', 0, Math.round(alone.published / seconds), 0, 0, 0, (alone.cpuMs / alone.published) * 1000, 0, 0, alone.elu, 0, 0, 0]);
    figures.publish_values_per_s = Math.round(alone.published / seconds);
    figures.publish_cpu_ms_per_1k = Number(((alone.cpuMs / alone.published) * 1000).toFixed(3));
    const runs = [
      { name: 'per-point', n: 1, rate, filter: 'steward/v1/bench/+/+' },
      { name: 'device-batches', n: subscribers, rate, filter: 'steward/v1/bench/+/$values' },
      // Last: when they cannot keep up, a backlog is left that would weigh on a next run.
      { name: 'per-point', n: subscribers, rate: fanoutRate, filter: 'steward/v1/bench/+/+' },
      { name: 'per-point-full', n: subscribers, rate, filter: 'steward/v1/bench/+/+' },
    ];
    for (const run of runs) {
      const retained0 = broker.stats().retainedSent;
      const subs = await startSubscribers(broker.url, run.n, run.filter, { username: 'bench', password: PASSWORD }, client);
      const samples = subs.samples;
      try {
        // The retained values delivered on subscription (up to every point to every subscriber)
        // are not counted: wait until as many as the broker sent have arrived and the count
        // stands still for a second — at most 60 s — so that a backlog does not weigh on the run.
        await subs.settle(broker.stats().retainedSent - retained0);
        const before = subs.count();
        samples.length = 0;
        const s0 = broker.stats();
        const r = await drive(broker, points, run.rate, seconds);
        // What the broker wrote to the subscribers' sockets (and dropped for a full one) while publishing.
        const s1 = broker.stats();
        const written = s1.valuesDelivered - s0.valuesDelivered;
        const dropped = s1.valuesDropped - s0.valuesDropped;
        // Let the last messages arrive (bounded), then read the count.
        await new Promise((res) => setTimeout(res, 1000));
        const delivered = (samples.at(-1)?.count ?? before) - before;
        const lat = samples.flatMap((s) => s.lat);
        const perS = Math.round(delivered / seconds);
        const key = `${run.name === 'device-batches' ? 'batches' : 'fanout'}_${run.n}${run.name === 'per-point-full' ? '_full' : ''}`;
        rows.push([
          `${run.name} ${run.n}`,
          run.n,
          Math.round(r.published / seconds),
          perS,
          Math.round(written / seconds),
          Math.round(dropped / seconds),
          (r.cpuMs / r.published) * 1000,
          delivered === 0 ? 0 : (r.cpuMs / delivered) * 1000,
          written === 0 ? 0 : (r.cpuMs / written) * 1000,
          r.elu,
          percentile(lat, 50),
          percentile(lat, 99),
          samples.at(-1)?.closed ?? 0,
        ]);
        figures[`${key}_written_msgs_per_s`] = Math.round(written / seconds);
        figures[`${key}_dropped_msgs_per_s`] = Math.round(dropped / seconds);
        figures[`${key}_cpu_us_per_written`] = written === 0 ? 0 : Number(((r.cpuMs / written) * 1000).toFixed(3));
        figures[`${key}_subscribers_dropped`] = samples.at(-1)?.closed ?? 0;
        figures[`${key}_values_per_s`] = Math.round(r.published / seconds);
        figures[`${key}_msgs_per_s`] = perS;
        figures[`${key}_latency_p99_ms`] = percentile(lat, 99);
        figures[`${key}_cpu_ms_per_1k_deliveries`] = delivered === 0 ? 0 : Number(((r.cpuMs / delivered) * 1000).toFixed(4));
      } finally {
        await subs.stop();
      }
    }
  } finally {
    await broker.close();
  }
  figures.mqtt_fanout_msgs_per_s = figures[`fanout_${subscribers}_msgs_per_s`] ?? 0;
  figures.mqtt_fanout_full_msgs_per_s = figures[`fanout_${subscribers}_full_msgs_per_s`] ?? 0;
  figures.mqtt_fanout_full_written_msgs_per_s = figures[`fanout_${subscribers}_full_written_msgs_per_s`] ?? 0;
  figures.mqtt_fanout_full_cpu_us_per_written = figures[`fanout_${subscribers}_full_cpu_us_per_written`] ?? 0;
  figures.mqtt_batch_points_per_s_to_all = Math.round(Number(figures[`batches_${subscribers}_values_per_s`] ?? 0));
  figures.loadavg_1m = Number(load0.toFixed(2));
  return { table: rows, figures };
}
