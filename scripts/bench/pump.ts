/**
 * `npm run bench -- pump [--quick] [--devices N] [--interval MS] [--seconds S]`
 *
 * The thin path end to end: N simulated VFD pumps (Modbus TCP, 14 points each, in a
 * child process) polled every interval, through the whole gateway — read, decode,
 * scale, SQLite (latest + samples), telemetry snapshots in the outbox, gzip uplink — to
 * a cloud (another child process) that stores them. Side by side, in the same run and
 * against the same simulator: a baseline of bare modbus-serial clients sending the same
 * requests on the same schedule and doing nothing with the answers. The difference is
 * what the gateway costs per point.
 *
 * Figures: points/s, CPU ms per 1,000 points (this process only: the simulator and the
 * cloud run elsewhere), poll lateness p50/p99, the cloud's lag behind the gateway, RSS.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ModbusSerial from 'modbus-serial';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { createDriver, loadDrivers } from '../../gateway/src/drivers/registry.js';
import { startGateway } from '../../gateway/src/main.js';
import { planReads } from '../../gateway/src/poller/coalesce.js';
import { freePorts, percentile } from './lib/poll-rig.js';
import type { BenchOptions, BenchResult } from './run.js';

await loadDrivers(['modbus']); // drivers are loaded on demand (drivers/registry.ts)

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/steward.js');


function child(args: string[], readyLines: number): Promise<{ proc: ChildProcess; out: string[] }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: string[] = [];
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      out.push(...lines.filter((l) => l.trim() !== ''));
      if (out.length >= readyLines) resolve({ proc, out });
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => {
      if (out.length < readyLines) reject(new Error(`steward ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/** Runs a steward command to its end; resolves with its last line of output. */
async function run1(args: string[]): Promise<string> {
  const { proc, out } = await child(args, 1);
  if (proc.exitCode === null) await new Promise((r) => proc.once('exit', r));
  return out[out.length - 1]!.trim();
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGTERM');
  });
}


function siteYaml(ports: number[], intervalMs: number, cloudUrl: string | undefined): string {
  const cloud = cloudUrl === undefined ? '' : `cloud: { url: "${cloudUrl}", gatewayId: bench-gw, enrolmentTokenEnv: BENCH_TOKEN, snapshotIntervalMs: 1000 }\n`;
  const devices = ports
    .map((port, i) => `  - { id: pump-${i + 1}, profile: water/vfd-pump, system: water, pollIntervalMs: ${intervalMs}, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 1000 } }`)
    .join('\n');
  return `site: { id: bench-site, name: Bench }\ngateway: { dataDir: ./gw-data, logLevel: silent }\n${cloud}devices:\n${devices}\n`;
}

interface PhaseResult {
  points: number;
  seconds: number;
  cpuMs: number;
  lateness: number[];
  rssMb: number;
}

/** Bare modbus-serial clients: the same blocks on the same schedule, answers dropped. */
async function baseline(file: string, seconds: number): Promise<PhaseResult> {
  const site = loadSiteConfig(file, { BENCH_TOKEN: 'x' });
  const log = createLogger({ level: 'silent' });
  const Client = ModbusSerial as unknown as typeof ModbusRTU;
  const clients = await Promise.all(
    site.devices.map(async (d) => {
      const c = new Client();
      await c.connectTCP(String(d.connection.host), { port: Number(d.connection.port) });
      c.setTimeout(1000);
      c.setID(1);
      const blocks = planReads(d.profile.points, createDriver(d, log));
      return { c, blocks, interval: d.pollIntervalMs };
    }),
  );
  let points = 0;
  const lateness: number[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    clients.map(async ({ c, blocks, interval }) => {
      let due = Date.now();
      while (Date.now() < end) {
        lateness.push(Date.now() - due);
        for (const b of blocks) {
          const table = b.space.split('/')[1];
          if (table === 'holding') await c.readHoldingRegisters(b.start, b.count);
          else if (table === 'input') await c.readInputRegisters(b.start, b.count);
          else if (table === 'coil') await c.readCoils(b.start, b.count);
          else await c.readDiscreteInputs(b.start, b.count);
          points += b.points.length;
        }
        due += interval;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        else due = Date.now();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const secondsRun = (Date.now() - t0) / 1000;
  await Promise.all(clients.map(({ c }) => new Promise<void>((r) => c.close(() => r()))));
  return { points, seconds: secondsRun, cpuMs: (cpu.user + cpu.system) / 1000, lateness, rssMb: process.memoryUsage().rss / 2 ** 20 };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const devices = Number(options.args.devices ?? (options.quick ? 10 : 50));
  const intervalMs = Number(options.args.interval ?? 100);
  const seconds = Number(options.args.seconds ?? (options.quick ? 8 : 30));
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-pump-'));
  const [cloudPort, ...simPorts] = await freePorts(devices + 1);
  const cloudUrl = `http://127.0.0.1:${cloudPort!}`;
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, siteYaml(simPorts, intervalMs, cloudUrl));

  const db = path.join(dir, 'cloud.db');
  const token = await run1(['cloud', 'gateway', 'add', '--site', 'bench-site', '--gateway', 'bench-gw', '--database', db]);
  const cloud = await child(['cloud', '--port', String(cloudPort), '--database', db, '--log-level', 'warn'], 1);
  const sim = await child(['sim', '--config', file], devices);
  try {
    const base = await baseline(file, seconds);

    const site = loadSiteConfig(file, { BENCH_TOKEN: token });
    const gw = await startGateway(site, { httpPort: 0, log: createLogger({ level: 'silent' }), uplink: { idleMs: 100 } });
    // Warm up (modules loaded, links open, enrolled) before measuring.
    await new Promise((r) => setTimeout(r, 1500));
    const cpu0 = process.cpuUsage();
    const lateness: number[] = [];
    const lag: number[] = [];
    const t0 = Date.now();
    const stored0 = gw.store.sampleCount();
    const sampler = setInterval(() => {
      for (const s of gw.poller.statuses()) lateness.push(s.stats.lastLatenessMs);
      lag.push(gw.store.laneStatus(2).oldestMs);
    }, intervalMs);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    clearInterval(sampler);
    const secondsRun = (Date.now() - t0) / 1000;
    const points = gw.store.sampleCount() - stored0;
    const sync = gw.uplink!.status();
    const rssMb = process.memoryUsage().rss / 2 ** 20;
    const cpu = process.cpuUsage(cpu0);
    await gw.close();
    const full: PhaseResult = { points, seconds: secondsRun, cpuMs: (cpu.user + cpu.system) / 1000, lateness, rssMb };

    const row = (name: string, r: PhaseResult) => [
      name,
      Math.round(r.points / r.seconds),
      Number(((r.cpuMs / r.points) * 1000).toFixed(2)),
      percentile(r.lateness, 50),
      percentile(r.lateness, 99),
      Math.round(r.rssMb),
    ];
    return {
      table: [
        ['path', 'points/s', 'CPU ms / 1k points', 'lateness p50 ms', 'lateness p99 ms', 'RSS MB'],
        row('bare modbus-serial (baseline)', base),
        row('steward gateway (read→SQLite→cloud)', full),
        [`${devices} pumps × 14 points every ${intervalMs} ms, ${seconds} s each; outbox age p99 ${percentile(lag, 99)} ms; items acked ${sync.counters.itemsSent}`, '', '', '', '', ''],
      ],
      figures: {
        devices,
        interval_ms: intervalMs,
        seconds,
        points_per_s: Math.round(full.points / full.seconds),
        cpu_ms_per_1k_points: Number(((full.cpuMs / full.points) * 1000).toFixed(3)),
        lateness_p50_ms: percentile(full.lateness, 50),
        lateness_p99_ms: percentile(full.lateness, 99),
        outbox_age_p99_ms: percentile(lag, 99),
        rss_mb: Math.round(full.rssMb),
        baseline_points_per_s: Math.round(base.points / base.seconds),
        baseline_cpu_ms_per_1k_points: Number(((base.cpuMs / base.points) * 1000).toFixed(3)),
        baseline_lateness_p99_ms: percentile(base.lateness, 99),
        sync_failures: sync.counters.failures,
      },
    };
  } finally {
    await stop(sim.proc);
    await stop(cloud.proc);
  }
}
