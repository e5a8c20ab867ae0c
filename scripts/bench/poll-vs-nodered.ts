/**
 * `npm run bench -- poll-vs-nodered [--quick] [--devices N] [--warmup S] [--seconds S] [--fast-interval-ms MS] [--nodered-dir DIR]`
 *
 * The same simulated devices (the `poll` bench's: N Modbus TCP devices × 200 mixed points
 * on holding registers 0–199, simulator in a child process) read every second, in one
 * run, one after the other so that they never compete for the cores:
 *
 * - Steward: the gateway's polling path (`startGateway`, no cloud) in a process of its own
 *   (`bench poll --child-run`, as the poll bench runs it: a fresh heap for each run, no
 *   earlier run's garbage), coalesced reads (two per device: 0–119, 120–199), decode,
 *   scale, deadband, SQLite;
 * - Node-RED 4.1 + node-red-contrib-modbus 5.60, child process, "typical" flow: one
 *   `modbus-read` node per 10-register block per device (20 per device), as users build
 *   them, client settings at their defaults;
 * - the same, "tuned" flow: reads of up to 120 registers (the same two per device as
 *   Steward's), and the client's `parallelUnitIdsAllowed` off (measured to cut its CPU);
 * - the baseline: the bare `modbus-serial` client (the library under node-red-contrib-modbus)
 *   making the same two reads per device every second with nothing behind it, in a child
 *   process (lib/bare-client.ts) — what neither side can go below with that library.
 *
 * Then a second, fast round (`--fast-interval-ms`, default 100; 0 skips it): Steward, the
 * tuned flow and the bare client again, each device read every 100 ms (100,000 points/s
 * with 50 devices). At the 1 s poll a side's cost per point is mostly its wake-ups (100
 * requests a second, ~0.2 ms of CPU each even for the bare client), so it says little of
 * what a point costs to process; issue 3's figure for the tuned flow (0.005 CPU-s per
 * 1,000 points, "tops out near 180,000 points/s at one core") is such a high-rate figure.
 * The typical flow is not run fast: at 0.04–0.05 CPU-s per 1,000 points, 100,000 points/s
 * would need four to five cores.
 *
 * Every Node-RED reading goes into one function node that counts messages and registers
 * — no decoding and no storage. Steward also decodes every point and stores it (by
 * exception) in SQLite: the comparison is to Steward's disadvantage. A point is one
 * register on both sides (the map is laid out so: see lib/poll-rig.ts).
 *
 * CPU: Steward's from `process.cpuUsage()` (its process, every thread); Node-RED's from
 * `/proc/<pid>/stat` (utime + stime, every thread) between two of its own count reports,
 * so that counts and CPU cover the same window. Requests: counted by the simulator's
 * servers, read through its control API.
 *
 * Node-RED is never a dependency of Steward: it is installed at bench time into a
 * scratch folder (default `<os tmpdir>/steward-bench-nodered`) with
 * `npm install --no-save --prefix DIR node-red@4.1 node-red-contrib-modbus@5.60` and an
 * override of `@openp4nr/modbus-serial` (a fork hosted outside the npm registry) by
 * `modbus-serial@8.0.25` (../shared/DEPENDENCIES.md); an existing install is reused. When
 * it cannot be installed or started the bench fails and says why — no figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchOptions, BenchResult } from './run.js';
import { runInChild } from './poll.js';
import { readsOf, runBareClient } from './lib/bare-client.js';
import {
  cpuPer1k,
  deviceId,
  freePorts,
  MAX_REGISTERS_PER_READ,
  POINTS_PER_DEVICE,
  procCpuSeconds,
  sleep,
  startSimOnFreePorts,
  stopChild,
  sumRequests,
  writeSite,
  type SimChild,
} from './lib/poll-rig.js';

const NODE_RED = 'node-red@4.1';
const CONTRIB_MODBUS = 'node-red-contrib-modbus@5.60';
const OVERRIDES = { '@openp4nr/modbus-serial': 'npm:modbus-serial@8.0.25' };

/** One side's measured window. */
interface SideResult {
  readonly name: string;
  readonly seconds: number;
  readonly points: number;
  readonly requests: number;
  readonly cpuS: number;
  readonly rssMb: number;
  /** Errors the flow caught (Node-RED) or failed cycles (Steward). */
  readonly errors: number;
}

function installedVersion(dir: string, pkg: string): string | undefined {
  const file = path.join(dir, 'node_modules', pkg, 'package.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
}

/**
 * Node-RED and the Modbus nodes in `dir`, installed there unless already present.
 * Throws with npm's reason when the install fails (offline, registry refused…).
 */
function ensureNodeRed(dir: string): { nodeRed: string; contrib: string } {
  const have = () => ({ nodeRed: installedVersion(dir, 'node-red'), contrib: installedVersion(dir, 'node-red-contrib-modbus') });
  let v = have();
  if (v.nodeRed?.startsWith('4.1.') !== true || v.contrib?.startsWith('5.60.') !== true) {
    // The overrides live in the folder's package.json: npm reads them from there only.
    writeFileSync(
      path.join(dir, 'package.json'),
      `${JSON.stringify({ name: 'steward-bench-nodered', private: true, description: "Scratch install for Steward's poll-vs-nodered benchmark; never a dependency of Steward.", overrides: OVERRIDES }, null, 2)}\n`,
    );
    process.stderr.write(`poll-vs-nodered: installing ${NODE_RED} and ${CONTRIB_MODBUS} into ${dir} …\n`);
    const npm = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir, NODE_RED, CONTRIB_MODBUS], { stdio: ['ignore', 2, 2], encoding: 'utf8' });
    v = have();
    if (npm.status !== 0 || v.nodeRed === undefined || v.contrib === undefined) {
      throw new Error(
        `poll-vs-nodered: cannot install ${NODE_RED} and ${CONTRIB_MODBUS} into ${dir} (npm exit ${npm.status ?? npm.signal ?? npm.error?.message}); ` +
          'the bench needs them and reports nothing without them. Install them by hand there, or pass --nodered-dir DIR of an existing install.',
      );
    }
  }
  return { nodeRed: v.nodeRed!, contrib: v.contrib! };
}

type FlowNode = Record<string, unknown> & { id: string; type: string };

/** The counting node: messages and registers of every reading, caught errors; reports every second. */
const COUNT_FUNC = `const c = context.get('c') || { msgs: 0, points: 0, errors: 0 };
if (msg.topic === 'bench-report') {
  node.warn('BENCH ' + JSON.stringify(c));
  return null;
}
if (msg.error !== undefined) c.errors++;
else { c.msgs++; c.points += Array.isArray(msg.payload) ? msg.payload.length : 0; }
context.set('c', c);
return null;`;

/**
 * The flows.json of a run: a `modbus-client` per device, `modbus-read` nodes of at most
 * `blockSize` registers over the device's 200, every first output into the counter, a
 * catch node into it too, and an inject that makes it report.
 */
export function flows(ports: readonly number[], blockSize: number, tuned: boolean, intervalMs = 1000): FlowNode[] {
  // modbus-read's rate: whole seconds as before, else milliseconds (its 'ms' unit).
  const [rate, rateUnit] = intervalMs % 1000 === 0 ? [String(intervalMs / 1000), 's'] : [String(intervalMs), 'ms'];
  const out: FlowNode[] = [{ id: 'bench-tab', type: 'tab', label: 'bench', disabled: false, info: '' }];
  ports.forEach((port, i) => {
    const client = `client-${i + 1}`;
    out.push({
      id: client,
      type: 'modbus-client',
      name: deviceId(i),
      clienttype: 'tcp',
      bufferCommands: true,
      stateLogEnabled: false,
      queueLogEnabled: false,
      failureLogEnabled: false,
      tcpHost: '127.0.0.1',
      tcpPort: String(port),
      tcpType: 'DEFAULT',
      serialPort: '/dev/ttyUSB',
      serialType: 'RTU-BUFFERD',
      serialBaudrate: '9600',
      serialDatabits: '8',
      serialStopbits: '1',
      serialParity: 'none',
      serialConnectionDelay: '100',
      serialAsciiResponseStartDelimiter: '0x3A',
      unit_id: '1',
      commandDelay: '1',
      clientTimeout: '1000',
      reconnectOnTimeout: true,
      reconnectTimeout: '2000',
      parallelUnitIdsAllowed: !tuned,
      showErrors: false,
      showWarnings: true,
      showLogs: false,
    });
    for (let start = 0; start < POINTS_PER_DEVICE; start += blockSize) {
      out.push({
        id: `read-${i + 1}-${start}`,
        type: 'modbus-read',
        z: 'bench-tab',
        name: '',
        topic: '',
        showStatusActivities: false,
        logIOActivities: false,
        showErrors: false,
        showWarnings: true,
        unitid: '',
        dataType: 'HoldingRegister',
        adr: String(start),
        quantity: String(Math.min(blockSize, POINTS_PER_DEVICE - start)),
        rate,
        rateUnit,
        delayOnStart: false,
        enableDeformedMessages: false,
        startDelayTime: '',
        server: client,
        useIOFile: false,
        ioFile: '',
        useIOForPayload: false,
        emptyMsgOnFail: false,
        x: 200,
        y: 40 + out.length * 10,
        wires: [['bench-count'], []],
      });
    }
  });
  out.push(
    { id: 'bench-count', type: 'function', z: 'bench-tab', name: 'count', func: COUNT_FUNC, outputs: 0, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 500, y: 40, wires: [] },
    { id: 'bench-catch', type: 'catch', z: 'bench-tab', name: '', scope: null, uncaught: false, x: 300, y: 20, wires: [['bench-count']] },
    {
      id: 'bench-report',
      type: 'inject',
      z: 'bench-tab',
      name: '',
      props: [{ p: 'topic', vt: 'str' }],
      repeat: '1',
      crontab: '',
      once: true,
      onceDelay: '0.1',
      topic: 'bench-report',
      x: 300,
      y: 60,
      wires: [['bench-count']],
    },
  );
  return out;
}

interface Report {
  readonly at: number;
  readonly cpuS: number;
  readonly msgs: number;
  readonly points: number;
  readonly errors: number;
}

/**
 * Runs Node-RED on `flowFile` as a child process, waits for its flows to start, warms
 * up, then measures between two of the counter's reports about `seconds` apart.
 */
async function runNodeRed(name: string, dir: string, flowFile: string, sim: SimChild, ids: readonly string[], warmupMs: number, seconds: number): Promise<SideResult> {
  const [uiPort] = await freePorts(1);
  const settings = path.join(path.dirname(flowFile), `${name}-settings.cjs`);
  // The user dir is the install folder: Node-RED finds node-red-contrib-modbus in its node_modules.
  writeFileSync(
    settings,
    `module.exports = ${JSON.stringify(
      {
        uiHost: '127.0.0.1',
        uiPort,
        userDir: dir,
        flowFile,
        credentialSecret: false,
        disableEditor: true,
        httpAdminRoot: false,
        httpNodeRoot: false,
        // info: the level of "Started flows", which the bench waits for.
        logging: { console: { level: 'info', metrics: false, audit: false } },
        functionExternalModules: false,
        externalModules: { autoInstall: false, palette: { allowInstall: false } },
        telemetry: { enabled: false },
        diagnostics: { enabled: false },
        runtimeState: { enabled: false },
      },
      null,
      2,
    )};\n`,
  );
  const red = path.join(dir, 'node_modules/node-red/red.js');
  const proc: ChildProcess = spawn(process.execPath, [red, '--settings', settings, '--userDir', dir], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  const reports: Report[] = [];
  let log = '';
  let started = false;
  let buf = '';
  const onLine = (line: string) => {
    log = `${log}${line}\n`.slice(-4000);
    if (/Started flows/.test(line)) started = true;
    const m = /BENCH (\{.*\})/.exec(line);
    if (m === null || proc.pid === undefined) return;
    const c = JSON.parse(m[1]!) as { msgs: number; points: number; errors: number };
    reports.push({ at: performance.now(), cpuS: procCpuSeconds(proc.pid), ...c });
  };
  const onData = (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    lines.forEach(onLine);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exited: number | string | null = null;
  proc.on('exit', (code, signal) => (exited = code ?? signal));
  try {
    const deadline = Date.now() + 60_000;
    while (!started) {
      if (exited !== null) throw new Error(`Node-RED exited (${exited}) before its flows started:\n${log}`);
      if (Date.now() > deadline) throw new Error(`Node-RED did not start its flows within 60 s:\n${log}`);
      await sleep(100);
    }
    await sleep(warmupMs);
    const req0At = performance.now();
    const req0 = await sim.requests();
    const first = reports.length;
    while (reports.length < first + 1) await sleep(20);
    const a = reports[reports.length - 1]!;
    await sleep(seconds * 1000 - 500);
    const n = reports.length;
    while (reports.length < n + 1) {
      if (exited !== null) throw new Error(`Node-RED exited (${exited}) while measured:\n${log}`);
      await sleep(20);
    }
    const b = reports[reports.length - 1]!;
    const req1 = await sim.requests();
    const req1At = performance.now();
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0);
    if (b.points === a.points) throw new Error(`Node-RED read nothing in ${seconds} s (errors caught: ${b.errors}):\n${log}`);
    // Requests are read outside the report window (HTTP round trips): scale them to it.
    const winS = (b.at - a.at) / 1000;
    return {
      name,
      seconds: winS,
      points: b.points - a.points,
      requests: ((sumRequests(req1, ids) - sumRequests(req0, ids)) * (b.at - a.at)) / (req1At - req0At),
      cpuS: b.cpuS - a.cpuS,
      rssMb: rssKb / 1024,
      errors: b.errors - a.errors,
    };
  } finally {
    await stopChild(proc);
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const devices = Number(options.args.devices ?? 50);
  // The poll bench's nominal window (10 s warm-up, 60 s measured) for every side: with 5 s and
  // 30 s (before the eighth session) a 1 s poll's window held the start-up's JIT — functions
  // called once a second are optimised over tens of seconds — and no whole store-packing minute.
  const seconds = Number(options.args.seconds ?? (options.quick ? 8 : 60));
  const fastMs = Number(options.args['fast-interval-ms'] ?? 100);
  if (!Number.isInteger(fastMs) || fastMs < 0 || (fastMs > 0 && fastMs < 10)) throw new Error(`poll-vs-nodered: --fast-interval-ms must be 0 (no fast round) or a whole number of ms ≥ 10, not ${options.args['fast-interval-ms']}`);
  const warmupMs = options.args.warmup !== undefined ? Number(options.args.warmup) * 1000 : options.quick ? 3000 : 10_000;
  if (!(warmupMs >= 0)) throw new Error(`poll-vs-nodered: --warmup must be a number of seconds ≥ 0, not ${options.args.warmup}`);
  const nodeRedDir = path.resolve(options.args['nodered-dir'] ?? path.join(tmpdir(), 'steward-bench-nodered'));
  mkdirSync(nodeRedDir, { recursive: true });
  const versions = ensureNodeRed(nodeRedDir);

  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-pvn-'));
  const typicalFlows = path.join(dir, 'flows-typical.json');
  const tunedFlows = path.join(dir, 'flows-tuned.json');
  const tunedFastFlows = path.join(dir, 'flows-tuned-fast.json');
  const load0 = loadavg();
  let siteFile = '';
  let fastSiteFile = '';
  const { sim, ports } = await startSimOnFreePorts(devices, (p) => {
    writeFileSync(typicalFlows, JSON.stringify(flows(p, 10, false)));
    writeFileSync(tunedFlows, JSON.stringify(flows(p, MAX_REGISTERS_PER_READ, true)));
    if (fastMs > 0) {
      writeFileSync(tunedFastFlows, JSON.stringify(flows(p, MAX_REGISTERS_PER_READ, true, fastMs)));
      fastSiteFile = writeSite(dir, 'steward-fast', p, fastMs);
    }
    return (siteFile = writeSite(dir, 'steward', p, 1000));
  });
  const ids = ports.map((_, i) => deviceId(i));
  const reads = readsOf(POINTS_PER_DEVICE, MAX_REGISTERS_PER_READ);
  const bareSide = async (name: string, intervalMs: number): Promise<SideResult> => {
    const b = await runBareClient(ports, intervalMs, reads, { warmupMs, seconds });
    return { name, seconds: b.seconds, points: b.pointsRead, requests: (b.pointsRead / POINTS_PER_DEVICE) * reads.length, cpuS: b.cpuS, rssMb: b.rssMb, errors: b.failedReads };
  };
  const stewardSide = async (name: string, file: string): Promise<SideResult> => {
    const { run: s } = await runInChild({ file, simPid: sim.pid, controlUrl: sim.controlUrl, name, mqttSubscribers: 0, warmupMs, seconds });
    return { name, seconds: s.seconds, points: s.pointsRead, requests: s.requests, cpuS: s.cpuS, rssMb: s.rssMb, errors: s.failedCycles };
  };
  let steward: SideResult;
  let typical: SideResult;
  let tuned: SideResult;
  let bare: SideResult;
  let fast: { steward: SideResult; tuned: SideResult; bare: SideResult } | undefined;
  try {
    bare = await bareSide('bare', 1000);
    steward = await stewardSide('Steward', siteFile);
    typical = await runNodeRed('typical', nodeRedDir, typicalFlows, sim, ids, warmupMs, seconds);
    tuned = await runNodeRed('tuned', nodeRedDir, tunedFlows, sim, ids, warmupMs, seconds);
    if (fastMs > 0) {
      fast = {
        bare: await bareSide('bare fast', fastMs),
        steward: await stewardSide('Steward fast', fastSiteFile),
        tuned: await runNodeRed('tuned-fast', nodeRedDir, tunedFastFlows, sim, ids, warmupMs, seconds),
      };
    }
  } finally {
    await sim.stop();
  }
  const load1 = loadavg();
  rmSync(dir, { recursive: true, force: true });

  const perK = (r: SideResult) => cpuPer1k(r.cpuS, r.points);
  const reqPerK = (r: SideResult) => (r.requests / r.points) * 1000;
  const ratio = (x: number, y: number) => Number((x / y).toFixed(2));
  const row = (label: string, r: SideResult) => [
    label,
    Math.round(r.points / r.seconds),
    Math.round(r.requests / r.seconds),
    Number((perK(r) * 1000).toFixed(2)),
    Number((r.cpuS / r.seconds).toFixed(3)),
    Math.round(r.rssMb),
    r.errors,
  ];
  const load = `load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after`;
  const fastRows =
    fast === undefined
      ? []
      : [
          row(`Steward, every ${fastMs} ms`, fast.steward),
          row(`Node-RED ${versions.nodeRed} tuned, every ${fastMs} ms`, fast.tuned),
          row(`baseline: bare modbus-serial client, every ${fastMs} ms`, fast.bare),
        ];
  return {
    table: [
      ['side', 'points/s', 'requests/s', 'CPU ms / 1k points', 'cores', 'RSS MB', 'errors'],
      row('Steward (read, decode, deadband, SQLite)', steward),
      row(`Node-RED ${versions.nodeRed} typical (10-register reads, count only)`, typical),
      row(`Node-RED ${versions.nodeRed} tuned (120-register reads, count only)`, tuned),
      row('baseline: bare modbus-serial client (the same two reads a device, nothing behind)', bare),
      ...fastRows,
      [`${devices} devices × ${POINTS_PER_DEVICE} points every 1 s${fast === undefined ? '' : ` (then every ${fastMs} ms)`}, ${seconds} s each after ${warmupMs / 1000} s; node-red-contrib-modbus ${versions.contrib}; ${load}`, '', '', '', '', '', ''],
    ],
    figures: {
      devices,
      points: devices * POINTS_PER_DEVICE,
      seconds,
      warmup_s: warmupMs / 1000,
      node_red: versions.nodeRed,
      node_red_contrib_modbus: versions.contrib,
      requests_ratio_typical: ratio(reqPerK(typical), reqPerK(steward)),
      requests_ratio_tuned: ratio(reqPerK(tuned), reqPerK(steward)),
      cpu_per_point_ratio_typical: ratio(perK(typical), perK(steward)),
      cpu_per_point_ratio_tuned: ratio(perK(tuned), perK(steward)),
      steward_points_per_s: Math.round(steward.points / steward.seconds),
      steward_cpu_s_per_1k_points: perK(steward),
      nodered_typical_points_per_s: Math.round(typical.points / typical.seconds),
      nodered_typical_cpu_s_per_1k_points: perK(typical),
      nodered_tuned_points_per_s: Math.round(tuned.points / tuned.seconds),
      nodered_tuned_cpu_s_per_1k_points: perK(tuned),
      bare_cpu_s_per_1k_points: perK(bare),
      // Steward ÷ the bare client (the poll bench's goal: ≤ 3), and Node-RED tuned ÷ the bare client.
      cpu_per_point_ratio_bare: ratio(perK(steward), perK(bare)),
      nodered_tuned_over_bare: ratio(perK(tuned), perK(bare)),
      ...(fast === undefined
        ? {}
        : {
            fast_interval_ms: fastMs,
            // The tuned flow ÷ Steward with every device read every `fastMs` (the cost of a point, not of a wake-up).
            cpu_per_point_ratio_tuned_fast: ratio(perK(fast.tuned), perK(fast.steward)),
            requests_ratio_tuned_fast: ratio(reqPerK(fast.tuned), reqPerK(fast.steward)),
            steward_points_per_s_fast: Math.round(fast.steward.points / fast.steward.seconds),
            steward_cpu_s_per_1k_points_fast: perK(fast.steward),
            nodered_tuned_points_per_s_fast: Math.round(fast.tuned.points / fast.tuned.seconds),
            nodered_tuned_cpu_s_per_1k_points_fast: perK(fast.tuned),
            bare_points_per_s_fast: Math.round(fast.bare.points / fast.bare.seconds),
            bare_cpu_s_per_1k_points_fast: perK(fast.bare),
            cpu_per_point_ratio_bare_fast: ratio(perK(fast.steward), perK(fast.bare)),
          }),
      load_avg_1m: Number(load1[0]!.toFixed(2)),
    },
  };
}
