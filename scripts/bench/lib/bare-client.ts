/**
 * The baseline of the `poll` bench: the bare `modbus-serial` client (the library Steward's
 * Modbus RTU-on-a-serial-port path and Node-RED's Modbus nodes use) polling the same
 * simulated devices, the same registers, at the same interval, with nothing behind it —
 * no decoding, no deadband, no store, no broker. What the issue's goal for CPU per point
 * ("within 3× of the bare client") compares with, measured in the same run and on the
 * same simulator instead of being taken from a figure measured once elsewhere.
 *
 * It runs in a child process of its own (only modbus-serial loaded), so its CPU is its
 * own, measured by the child over the window the parent opens and closes on its stdin.
 * Its schedule has the same shape as Steward's (Poller.start): each device polled at a
 * fixed rate, its reads one after the other on its connection, the devices' start spread
 * over the cycle in the same START_GROUPS groups — so that the comparison is of the work
 * done per poll, not of how often the process wakes up (which on this machine costs more
 * than the reads: see docs/benchmarks.md "poll").
 *
 * Lives under `lib/` because `npm run bench` takes every `.ts` directly in
 * scripts/bench for a benchmark.
 */
import { spawn } from 'node:child_process';
import { START_GROUPS, startPhases } from '../../../gateway/src/poller/poller.js';
import { root, stopChild } from './poll-rig.js';

const SCRIPT = `
import ModbusRTU from 'modbus-serial';
const { ports, intervalMs, reads, phases } = JSON.parse(process.argv[1]);
let points = 0; let failed = 0;
const clients = await Promise.all(ports.map(async (port) => {
  const c = new ModbusRTU();
  await c.connectTCP('127.0.0.1', { port });
  c.setID(1);
  c.setTimeout(1000);
  return c;
}));
const t0 = Date.now();
clients.forEach((c, i) => {
  let due = t0 + phases[i] * intervalMs;
  const cycle = async () => {
    try {
      for (const [start, count] of reads) {
        // Not 'points += await …': that reads 'points' before awaiting, and loses the other devices' reads meanwhile.
        const { data } = await c.readHoldingRegisters(start, count);
        points += data.length;
      }
    } catch { failed++; }
    due += intervalMs;
    const now = Date.now();
    if (due < now) due += Math.ceil((now - due) / intervalMs) * intervalMs;
    setTimeout(cycle, due - now);
  };
  setTimeout(cycle, due - t0);
});
let window;
process.stdin.setEncoding('utf8');
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const cmd = buf.slice(0, i); buf = buf.slice(i + 1);
    if (cmd === 'begin') window = { cpu: process.cpuUsage(), points, failed, at: performance.now() };
    else if (cmd === 'end') {
      const cpu = process.cpuUsage(window.cpu);
      process.stdout.write(JSON.stringify({ points: points - window.points, failed: failed - window.failed, seconds: (performance.now() - window.at) / 1000, cpuS: (cpu.user + cpu.system) / 1e6, rssMb: process.memoryUsage().rss / 2 ** 20 }) + '\\n');
    }
  }
});
process.stdout.write(JSON.stringify({ ready: true }) + '\\n');
`;

export interface BareRun {
  /** Registers read over the window (one register is one point in the bench's map). */
  readonly pointsRead: number;
  /** Reads that failed over the window (timeouts, exceptions): none against a healthy simulator. */
  readonly failedReads: number;
  readonly seconds: number;
  /** CPU seconds of the client's process over the window (user + system, all threads). */
  readonly cpuS: number;
  readonly rssMb: number;
}

/** The reads of a device of `points` registers, at most `maxPerRead` each: [start, count][]. */
export function readsOf(points: number, maxPerRead: number): [number, number][] {
  const reads: [number, number][] = [];
  for (let start = 0; start < points; start += maxPerRead) reads.push([start, Math.min(maxPerRead, points - start)]);
  return reads;
}

/**
 * One measured run of the bare client: `ports` (one device each, on its own connection)
 * polled every `intervalMs` for the registers of `reads`, warmed up, measured for `seconds`.
 */
export async function runBareClient(ports: readonly number[], intervalMs: number, reads: readonly (readonly [number, number])[], options: { warmupMs: number; seconds: number }): Promise<BareRun> {
  const config = JSON.stringify({ ports, intervalMs, reads, phases: startPhases(ports.map((p) => `tcp:${p}`), START_GROUPS) });
  const child = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, config], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        w(line);
      } else lines.push(line);
    }
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code, signal) => reject(new Error(`bare modbus-serial client exited (${code ?? signal}): ${err.trim()}`))));
  exited.catch(() => undefined);
  const next = (): Promise<string> => Promise.race([lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise<string>((r) => (waiting = r)), exited]);
  try {
    if (!(JSON.parse(await next()) as { ready?: boolean }).ready) throw new Error('bare modbus-serial client: no ready line');
    await new Promise((r) => setTimeout(r, options.warmupMs));
    child.stdin!.write('begin\n');
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    child.stdin!.write('end\n');
    const m = JSON.parse(await next()) as { points: number; failed: number; seconds: number; cpuS: number; rssMb: number };
    return { pointsRead: m.points, failedReads: m.failed, seconds: m.seconds, cpuS: m.cpuS, rssMb: m.rssMb };
  } finally {
    await stopChild(child);
  }
}
