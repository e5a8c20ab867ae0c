/**
 * `npm run bench -- poll [--quick] [--devices N] [--seconds S] [--warmup S] [--interval MS] [--saturation-interval MS] [--saturation-points N] [--only RUN[,RUN…]] [--mqtt-subscribers N] [--mqtt-client lean|mqttjs] [--mqtt-worker]`
 *
 * The device layer alone, no cloud: N simulated Modbus TCP devices (default 50) of 200
 * mixed points each — 10,000 points — served by the simulator in a child process, polled
 * by Steward's real path in this process (`startGateway`: Poller, Modbus driver, decode
 * and scale, deadband, the write buffer, SQLite). Three runs, each on a fresh database,
 * and two of the baseline beside them:
 *
 * 1. nominal — every device every `--interval` ms (default 1000): CPU per point, RSS
 *    with 10,000 points, poll-cycle lateness p50/p99; measured over `--seconds` (default
 *    60: a whole minute, so exactly one of the store's once-a-minute packing rounds)
 *    after `--warmup` (default 10 s);
 * 2. dead20 — the same with every fifth device black-holed (the simulator's `comms-loss`:
 *    requests are read and never answered) as the window opens: lateness of the others
 *    (at most 30 s, after at most 4 s);
 * 3. saturation — every device every `--saturation-interval` ms (default 50, the
 *    shortest the site schema allows), each with `--saturation-points` points (default
 *    600: the 200-point map three times on registers 0–599, five reads of ≤ 120), so
 *    600,000 points/s are offered: the most points/s this process reaches. 50 devices of
 *    200 points at 50 ms offer only 200,000 points/s, less than the goal, so the
 *    goal could not be measured with them. `saturation_points_per_cpu_s` is what it read
 *    per CPU-second it got: on a shared machine the process may get far less than a core. Node runs the gateway on one thread, so this is one core's worth (SQLite
 *    included, which better-sqlite3 runs on the same thread). The event loop's delay is
 *    sampled in this run only (`saturation_loop_delay_p99_ms`, `_max_ms`): how long an
 *    answer or a due cycle waited behind synchronous work — what skips cycles while the
 *    loop is not yet 100 % busy.
 *
 * The baseline (`bare` before nominal, `bare-saturation` before saturation; lib/bare-client.ts):
 * the bare `modbus-serial` client in a child process reading the same registers of the same
 * simulated devices at the same interval, with the same start groups, and nothing behind
 * it. The goal for CPU per point is "within 3× of the bare client":
 * `cpu_per_point_ratio_bare` (nominal) and `cpu_per_point_ratio_bare_saturation` are
 * Steward's CPU per point ÷ the client's, measured in the same run.
 *
 * `--only bare,nominal,dead20,bare-saturation,saturation` (any of them, comma-separated) runs
 * those alone (e.g. `--only bare,nominal` for CPU per point beside its baseline; one with `--in-process` under
 * `node --cpu-prof`, to profile one phase); the figures of the runs left out are absent from the JSON line, never
 * made up.
 *
 * `--mqtt-subscribers N` attaches N MQTT subscribers of the site's whole tree (every point's
 * value, the `$values` batches; in a child process, lib/mqtt-subscribers.ts: the lean raw-socket
 * client by default, mqtt.js with `--mqtt-client mqttjs`) to
 * every run: the fan-out's cost shows in the gateway's CPU per point and points/s; the
 * extra columns say what the broker wrote and dropped (QoS 0, a subscriber's socket past
 * 1 MiB; the latest values of the topics it missed follow when it drains), what the
 * subscribers read, and their process's cores.
 *
 * `--mqtt-worker` runs the gateway's broker in its worker thread (`gateway.mqtt.worker: true`,
 * docs/mqtt.md): its CPU is in the process's figure; the event loop's is the main thread's.
 *
 * **Each gateway run starts in a child process of its own** (`bench poll --child-run …`, the
 * same compiled or tsx code as the bench), so that every run starts equal — a fresh V8 heap
 * and JIT, no earlier gateway's garbage or database in the process — and the nominal RSS is
 * that of a process that has run one gateway only. (They ran in the bench's process before,
 * one after the other: docs/benchmarks.md "poll", "every run in a process of its own".)
 * `--in-process` runs them in the bench's process as before (one process to profile with
 * `node --cpu-prof`).
 *
 * CPU is the gateway's process only (the simulator is elsewhere) and includes the bench's own
 * lateness sampler (every 25–250 ms), which is small. Of it, the time inside the store (writes and
 * maintenance, timed on this thread) is also given apart: the device layer's own cost
 * is the rest. The machine's load average is reported beside
 * the figures: the benchmark shares its cores with whatever else runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { BenchOptions, BenchResult } from './run.js';
import { readsOf, runBareClient, type BareRun } from './lib/bare-client.js';
import { mqttClientOption, SubscribersBeside, type BusWindow, type MqttClientKind } from './lib/mqtt-subscribers.js';
import { cpuPer1k, deviceId, MAX_REGISTERS_PER_READ, percentile, POINTS_PER_DEVICE, root, simHandle, startSimOnFreePorts, writeSite, runSteward, type StewardRun } from './lib/poll-rig.js';

/** a ÷ b, 3 significant digits. */
const ratio = (a: number, b: number): number => Number((a / b).toPrecision(3));

/** A gateway run as the parent asks a child process for it (`--child-run JSON`). */
export interface ChildRunRequest {
  readonly file: string;
  readonly simPid: number;
  readonly controlUrl: string;
  readonly name: string;
  readonly mqttSubscribers: number;
  readonly mqttClient?: MqttClientKind;
  readonly warmupMs: number;
  readonly seconds: number;
  readonly dead?: readonly string[];
  readonly loopDelay?: boolean;
}

/** The child's side: one gateway run against the parent's simulator; the run and its MQTT window as the JSON line's `child_run`. */
async function childRun(request: ChildRunRequest): Promise<BenchResult> {
  const { file, simPid, controlUrl, name, mqttSubscribers, mqttClient, ...runOptions } = request;
  const bus = new SubscribersBeside(mqttSubscribers, mqttClient);
  const result = await runSteward(file, simHandle(simPid, controlUrl), { ...runOptions, ...bus.options(name) });
  return { table: [['child run'], [name]], figures: { child_run: JSON.stringify({ run: result, bus: bus.window(name) }) } };
}

/** Runs `request` in a fresh process (`bin/steward.js bench poll --child-run …`, as this one was started). */
export function runInChild(request: ChildRunRequest): Promise<{ run: StewardRun; bus?: BusWindow }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [path.join(root, 'bin/steward.js'), 'bench', 'poll', '--child-run', JSON.stringify(request)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`bench poll: the ${request.name} run's process exited ${code}: ${err.trim() || out.trim()}`));
      resolve(JSON.parse((JSON.parse(last) as { child_run: string }).child_run) as { run: StewardRun; bus?: BusWindow });
    });
  });
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  if (options.args['child-run'] !== undefined) return childRun(JSON.parse(options.args['child-run']) as ChildRunRequest);
  const devices = Number(options.args.devices ?? 50);
  // The nominal run (and its baseline) measures a whole minute by default: the store packs
  // each complete minute once (maintenance.ts), so a 30 s window held that spike or not and
  // its CPU figure swung by ~0.7 ms / 1,000 points between runs; dead20 needs only its lateness.
  const seconds = Number(options.args.seconds ?? (options.quick ? 8 : 60));
  const dead20Seconds = Math.min(seconds, 30);
  const intervalMs = Number(options.args.interval ?? 1000);
  const satIntervalMs = Number(options.args['saturation-interval'] ?? 50);
  const satPoints = Number(options.args['saturation-points'] ?? 600);
  // Past the start's own work (JIT compilation, the first writes of every latest value, a first
  // major GC): 10 s by default (--warmup S), for the baseline too; a 4 s warm-up put some of it in the window.
  const warmupMs = options.args.warmup !== undefined ? Number(options.args.warmup) * 1000 : options.quick ? 2500 : 10_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-poll-'));
  const dead = Array.from({ length: devices }, (_, i) => deviceId(i)).filter((_, i) => i % 5 === 4);
  const runs = ['bare', 'nominal', 'dead20', 'bare-saturation', 'saturation'] as const;
  const only = options.args.only?.split(',');
  const unknown = only?.filter((r) => !(runs as readonly string[]).includes(r)) ?? [];
  if (unknown.length > 0) throw new Error(`poll bench: --only takes runs among ${runs.join(', ')} (comma-separated), got "${unknown.join(', ')}"`);
  const wanted = (name: (typeof runs)[number]) => only === undefined || only.includes(name);
  const bus = new SubscribersBeside(Number(options.args['mqtt-subscribers'] ?? 0), mqttClientOption(options.args));
  const load0 = loadavg();

  // The simulator serves the saturation map (registers 0…satPoints-1 per device): the
  // nominal and dead20 runs read its first 200 registers, the same map as `poll-mixed.yaml`.
  let nominalFile = '';
  let dead20File = '';
  let satFile = '';
  // --mqtt-worker: the broker in its worker thread (gateway.mqtt.worker).
  const mqttWorker = options.args['mqtt-worker'] !== undefined;
  const { sim, ports } = await startSimOnFreePorts(devices, (ports) => {
    nominalFile = writeSite(dir, 'nominal', ports, intervalMs, POINTS_PER_DEVICE, mqttWorker);
    dead20File = writeSite(dir, 'dead20', ports, intervalMs, POINTS_PER_DEVICE, mqttWorker);
    return (satFile = writeSite(dir, 'saturation', ports, satIntervalMs, satPoints, mqttWorker));
  });
  let nominal: StewardRun | undefined;
  let dead20: StewardRun | undefined;
  let sat: StewardRun | undefined;
  let bare: BareRun | undefined;
  let bareSat: BareRun | undefined;
  const satSeconds = options.quick ? 5 : Math.min(seconds, 20);
  // Each gateway run in a process of its own (see the top), unless --in-process.
  const inProcess = options.args['in-process'] !== undefined;
  const gateway = async (name: string, file: string, o: { warmupMs: number; seconds: number; dead?: readonly string[]; loopDelay?: boolean }): Promise<StewardRun> => {
    if (inProcess) return runSteward(file, sim, { ...o, ...bus.options(name) });
    const done = await runInChild({ file, simPid: sim.pid, controlUrl: sim.controlUrl, name, mqttSubscribers: bus.n, mqttClient: bus.client, ...o });
    bus.record(name, done.bus);
    return done.run;
  };
  try {
    // The baseline (a child process of its own) just before the run it is compared with, on the same simulator.
    if (wanted('bare')) bare = await runBareClient(ports, intervalMs, readsOf(POINTS_PER_DEVICE, MAX_REGISTERS_PER_READ), { warmupMs, seconds });
    if (wanted('nominal')) nominal = await gateway('nominal', nominalFile, { warmupMs, seconds });
    if (wanted('dead20')) dead20 = await gateway('dead20', dead20File, { warmupMs: Math.min(warmupMs, 4000), seconds: dead20Seconds, dead });
    if (wanted('bare-saturation')) bareSat = await runBareClient(ports, satIntervalMs, readsOf(satPoints, MAX_REGISTERS_PER_READ), { warmupMs: Math.min(warmupMs, 2000), seconds: satSeconds });
    if (wanted('saturation')) sat = await gateway('saturation', satFile, { warmupMs: Math.min(warmupMs, 2000), seconds: satSeconds, loopDelay: true });
  } finally {
    await sim.stop();
  }
  const load1 = loadavg();
  rmSync(dir, { recursive: true, force: true });

  const pps = (r: StewardRun) => Math.round(r.pointsRead / r.seconds);
  const row = (name: string, r: StewardRun, interval: number, key: string) => [
    name,
    interval,
    pps(r),
    Math.round(r.samplesStored / r.seconds),
    Math.round(r.requests / r.seconds),
    Number((cpuPer1k(r.cpuS, r.pointsRead) * 1000).toFixed(2)),
    Number((cpuPer1k(r.storeS, r.pointsRead) * 1000).toFixed(2)),
    Number((r.cpuS / r.seconds).toFixed(3)),
    Number((r.simCpuS / r.seconds).toFixed(3)),
    Number(r.elu.toFixed(2)),
    percentile(r.lateness, 50),
    percentile(r.lateness, 99),
    r.skippedCycles,
    Math.round(r.rssMb),
    Math.round(r.heapUsedMb),
    Math.round(r.arrayBuffersMb),
    ...bus.columns(key),
  ];
  const points = devices * POINTS_PER_DEVICE;
  const load = `load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after`;
  const table: (string | number)[][] = [
    ['run', 'interval ms', 'points read/s', 'stored/s', 'requests/s', 'CPU ms / 1k points', 'of it store', 'cores', 'sim cores', 'event loop busy', 'lateness p50 ms', 'lateness p99 ms', 'skipped cycles', 'RSS MB', 'heap used MB', 'ArrayBuffers MB', ...bus.header()],
  ];
  const bareRow = (name: string, r: BareRun, interval: number) => [
    name,
    interval,
    Math.round(r.pointsRead / r.seconds),
    '',
    '',
    Number((cpuPer1k(r.cpuS, r.pointsRead) * 1000).toFixed(2)),
    '',
    Number((r.cpuS / r.seconds).toFixed(3)),
    '',
    '',
    '',
    '',
    r.failedReads === 0 ? '' : `${r.failedReads} failed reads`,
    Math.round(r.rssMb),
    '',
    '',
    ...bus.header().map(() => ''),
  ];
  if (bare !== undefined) table.push(bareRow(`baseline: bare modbus-serial client, same reads (${points} points)`, bare, intervalMs));
  if (nominal !== undefined) table.push(row(`nominal (${points} points)`, nominal, intervalMs, 'nominal'));
  if (dead20 !== undefined) table.push(row(`dead20 (${dead.length} of ${devices} devices silent; lateness of the rest)`, dead20, intervalMs, 'dead20'));
  if (bareSat !== undefined) table.push(bareRow(`baseline: bare modbus-serial client at saturation (${devices} × ${satPoints} points)`, bareSat, satIntervalMs));
  if (sat !== undefined) table.push(row(`saturation (${devices} × ${satPoints} points)`, sat, satIntervalMs, 'saturation'));
  table.push([`${devices} devices × ${POINTS_PER_DEVICE} points; nominal ${seconds} s after ${warmupMs / 1000} s, dead20 ${dead20Seconds} s, saturation ${satSeconds} s; ${load}`, '', '', '', '', '', '', '', '', '', '', '', '', '', '', '', ...bus.header().map(() => '')]);
  return {
    table,
    figures: {
      devices,
      points,
      interval_ms: intervalMs,
      seconds,
      warmup_s: warmupMs / 1000,
      ...(options.args['mqtt-worker'] === undefined ? {} : { mqtt_worker: 1 }),
      ...(bus.n > 0 ? { mqtt_client: bus.client } : {}),
      ...(sat === undefined
        ? {}
        : {
            // The most the gateway reaches (saturation run); the nominal run reads what is asked.
            points_per_s: pps(sat),
            saturation_interval_ms: satIntervalMs,
            saturation_points: devices * satPoints,
            saturation_cores: Number((sat.cpuS / sat.seconds).toFixed(3)),
            saturation_sim_cores: Number((sat.simCpuS / sat.seconds).toFixed(3)),
            saturation_points_per_cpu_s: sat.cpuS === 0 ? 0 : Math.round(sat.pointsRead / sat.cpuS),
            saturation_event_loop_utilisation: Number(sat.elu.toFixed(3)),
            // How long the loop was held by synchronous work (a timer, an answer waiting behind it), p99 and max, ms.
            saturation_loop_delay_p99_ms: Number((sat.loopDelayP99Ms ?? 0).toFixed(1)),
            saturation_loop_delay_max_ms: Number((sat.loopDelayMaxMs ?? 0).toFixed(1)),
            cpu_s_per_1k_points_saturation: cpuPer1k(sat.cpuS, sat.pointsRead),
            cpu_s_per_1k_points_saturation_store: cpuPer1k(sat.storeS, sat.pointsRead),
            ...bus.figures('saturation', 'saturation_'),
          }),
      ...(nominal === undefined
        ? {}
        : {
            points_per_s_nominal: pps(nominal),
            cpu_s_per_1k_points: cpuPer1k(nominal.cpuS, nominal.pointsRead),
            // Of those, the store's share (writes + maintenance), and the rest: the device layer, broker, alarms, ML feed.
            cpu_s_per_1k_points_store: cpuPer1k(nominal.storeS, nominal.pointsRead),
            stored_per_s_nominal: Math.round(nominal.samplesStored / nominal.seconds),
            rss_mb_10k_points: Math.round(nominal.rssMb),
            heap_used_mb_10k_points: Math.round(nominal.heapUsedMb),
            array_buffers_mb_10k_points: Math.round(nominal.arrayBuffersMb),
            lateness_p50_ms: percentile(nominal.lateness, 50),
            lateness_p99_ms: percentile(nominal.lateness, 99),
            ...bus.figures('nominal', 'nominal_'),
          }),
      ...(dead20 === undefined
        ? {}
        : {
            lateness_p99_ms_dead20: percentile(dead20.lateness, 99),
            lateness_p50_ms_dead20: percentile(dead20.lateness, 50),
          }),
      // The baseline, same reads on the same simulator in this run (lib/bare-client.ts), and
      // Steward's CPU per point over it (Steward ÷ bare: the goal is ≤ 3).
      ...(bare === undefined
        ? {}
        : {
            cpu_s_per_1k_points_bare: cpuPer1k(bare.cpuS, bare.pointsRead),
            ...(nominal === undefined || bare.cpuS === 0 ? {} : { cpu_per_point_ratio_bare: ratio(nominal.cpuS / nominal.pointsRead, bare.cpuS / bare.pointsRead) }),
          }),
      ...(bareSat === undefined
        ? {}
        : {
            points_per_s_bare_saturation: Math.round(bareSat.pointsRead / bareSat.seconds),
            cpu_s_per_1k_points_bare_saturation: cpuPer1k(bareSat.cpuS, bareSat.pointsRead),
            ...(sat === undefined || bareSat.cpuS === 0 ? {} : { cpu_per_point_ratio_bare_saturation: ratio(sat.cpuS / sat.pointsRead, bareSat.cpuS / bareSat.pointsRead) }),
          }),
      ...(inProcess ? { in_process: 1 } : {}),
      load_avg_1m: Number(load1[0]!.toFixed(2)),
    },
  };
}
