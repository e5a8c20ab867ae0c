/**
 * `npm run bench -- memory [--quick] [--devices N] [--seconds S]`
 *
 * Where a gateway's memory goes (issue 3: RSS ≤ 150 MB with 10,000 points). Each figure
 * comes from a fresh child process (`node --expose-gc bin/steward.js bench memory --child
 * …`), after two full garbage collections, so that garbage and the order of earlier
 * measurements do not count:
 *
 * 1. `node` — a bare Node process, the floor;
 * 2. `cli` — bin/steward.js with nothing imported yet: the compiled copy (bin/build.js) or
 *    the tsx loader (its hooks run in a thread with a V8 isolate of its own on Node 20);
 * 3. `modules` — then the gateway's module graph, one module at a time, as main.ts takes
 *    it (each line: the RSS and V8 heap it added), and the modules it no longer loads
 *    unless configured (other protocols' drivers, mqtt.js, TF.js): what they would cost;
 * 4. `running` — the `poll` bench's nominal gateway (N simulated Modbus TCP devices × 200
 *    points, 1 s; the simulator in another process) after `--seconds` of polling: RSS,
 *    heap used and allocated (new space apart: the young generation grows under a high
 *    allocation rate), ArrayBuffers, threads.
 *
 * Every child runs with the node flags of bin/steward.js's shebang line (the young
 * generation's size), as `steward` and the npm scripts start.
 *
 * Stages 2–4 run twice: as `bin/steward.js` runs when its build is up to date (compiled)
 * and with STEWARD_FROM_SOURCES=1 (tsx). The `poll` bench's `rss_mb_10k_points` is the
 * same gateway measured without forced collections (so with whatever garbage it holds).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import type { BenchOptions, BenchResult } from './run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/steward.js');
/** Node's flags on bin/steward.js's shebang line (`env -S node --max-semi-space-size=8`): the children run with them, as `steward` does. */
const NODE_FLAGS = (readFileSync(bin, 'utf8').split('\n', 1)[0]!.match(/\snode\s+(.*)$/)?.[1] ?? '').split(/\s+/).filter((f) => f.startsWith('--'));
const MB = 2 ** 20;

/** The gateway's modules in the order main.ts takes them (the heavy npm packages first, as they load). */
const GATEWAY_MODULES: readonly (readonly [string, () => Promise<unknown>])[] = [
  ['typebox (config schemas)', () => import('typebox')],
  ['yaml', () => import('yaml')],
  ['pino (logger)', () => import('pino')],
  ['gateway/src/config.ts (loader, driver schemas)', () => import('../../gateway/src/config.js')],
  ['better-sqlite3 + store', () => import('../../gateway/src/store/store.js')],
  ['fastify + @fastify/static (api/server.ts)', () => import('../../gateway/src/api/server.js')],
  ['aedes (broker/broker.ts)', () => import('../../gateway/src/broker/broker.js')],
  ['poller', () => import('../../gateway/src/poller/poller.js')],
  ['ml runtime + point detectors', () => Promise.all([import('../../gateway/src/ml/runtime.js'), import('../../gateway/src/ml/point-detectors.js')])],
  ['the rest of main.ts', () => import('../../gateway/src/main.js')],
  ['modbus driver (a Modbus site)', () => import('../../gateway/src/drivers/modbus/driver.js')],
];
/** Loaded only when configured (drivers/registry.ts, broker/bridge.ts, ml/registry.ts): what each would add. */
const ON_DEMAND: readonly (readonly [string, () => Promise<unknown>])[] = [
  ['bacnet driver + @bacnet-js/client (a BACnet device)', () => import('../../gateway/src/drivers/bacnet/driver.js')],
  ['onvif driver + fast-xml-parser (a camera)', () => import('../../gateway/src/drivers/onvif/driver.js')],
  ['mqtt.js (gateway.mqtt.bridge)', () => import('mqtt')],
  ['TF.js core + layers (a deployed model; in its worker)', () => Promise.all([import('@tensorflow/tfjs-core'), import('@tensorflow/tfjs-layers')])],
];

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  newSpace: number;
  external: number;
  arrayBuffers: number;
  threads: number;
}

function measure(): Mem {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('bench memory --child needs node --expose-gc');
  gc();
  gc();
  const m = process.memoryUsage();
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  return { rss: m.rss / MB, heapUsed: m.heapUsed / MB, heapTotal: m.heapTotal / MB, newSpace: newSpace / MB, external: m.external / MB, arrayBuffers: m.arrayBuffers / MB, threads: readdirSync('/proc/self/task').length };
}

/** Whether this process runs the compiled copy (bin/build.js) or the sources through tsx. */
const mode = (): 'compiled' | 'tsx' => (import.meta.resolve('./run.js').endsWith('.ts') ? 'tsx' : 'compiled');

/** The child's side: one stage, its figures as the JSON line. */
async function child(stage: string, options: BenchOptions): Promise<BenchResult> {
  const figures: Record<string, number | string> = { mode: mode() };
  const put = (key: string, m: Mem): void => {
    for (const [k, v] of Object.entries(m)) figures[`${key}.${k}`] = Number(v.toFixed(1));
  };
  put('start', measure());
  if (stage === 'modules') {
    for (const [name, load] of GATEWAY_MODULES) {
      await load();
      put(name, measure());
    }
    for (const [name, load] of ON_DEMAND) {
      await load();
      put(name, measure());
    }
  } else if (stage === 'running') {
    const rig = await import('./lib/poll-rig.js');
    const { loadSiteConfig } = await import('../../gateway/src/config.js');
    const { startGateway } = await import('../../gateway/src/main.js');
    const { createLogger } = await import('../../gateway/src/core/logger.js');
    const devices = Number(options.args.devices ?? 50);
    const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-memory-'));
    const file = rig.writeSite(dir, 'nominal', await rig.freePorts(devices), 1000);
    const sim = await rig.startSimChild(file);
    try {
      put('imported', measure());
      const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }) });
      put('started', measure());
      await rig.sleep(Number(options.args.seconds ?? (options.quick ? 10 : 40)) * 1000);
      put('polling', measure());
      figures.points = gw.poller.statuses().reduce((n, s) => n + s.stats.pointsRead, 0);
      await gw.close();
    } finally {
      await sim.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  } else throw new Error(`bench memory: unknown --child stage "${stage}" (modules, running)`);
  return { table: [['figure', 'value'], ...Object.entries(figures).map(([k, v]) => [k, v])], figures };
}

/** Runs one stage in a fresh process; `fromSources`: through tsx even when the build is up to date. */
function runChild(args: readonly string[], fromSources: boolean): Promise<Record<string, number | string>> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    if (fromSources) env.STEWARD_FROM_SOURCES = '1';
    else delete env.STEWARD_FROM_SOURCES;
    const proc = spawn(process.execPath, ['--expose-gc', ...NODE_FLAGS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`bench memory: ${args.join(' ')} exited ${code}: ${err.trim() || out.trim()}`));
      resolve(JSON.parse(last) as Record<string, number | string>);
    });
  });
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  if (options.args.child !== undefined) return child(options.args.child, options);
  const load0 = loadavg();
  const pass = (options.quick ? ['--quick'] : []).concat(...['devices', 'seconds'].filter((k) => options.args[k] !== undefined).map((k) => [`--${k}`, options.args[k]!]));
  const bare = await runChild(['-e', `globalThis.gc(); globalThis.gc(); const m = process.memoryUsage(); console.log(JSON.stringify({ 'start.rss': m.rss / ${MB}, 'start.heapUsed': m.heapUsed / ${MB}, 'start.threads': require('node:fs').readdirSync('/proc/self/task').length }))`], false);
  const stage = (name: string, fromSources: boolean) => runChild([bin, 'bench', 'memory', '--child', name, ...pass], fromSources);
  const compiledModules = await stage('modules', false);
  const tsxModules = await stage('modules', true);
  const compiledRunning = await stage('running', false);
  const tsxRunning = await stage('running', true);
  const load1 = loadavg();

  const n = (v: number | string | undefined): number => (typeof v === 'number' ? v : NaN);
  const rows: (string | number)[][] = [['stage', 'RSS MB', 'Δ RSS', 'heap used MB', 'Δ heap', 'heap total MB', 'new space MB', 'ArrayBuffers MB', 'threads', '(tsx) RSS MB', '(tsx) Δ RSS', '(tsx) heap used MB']];
  const row = (label: string, c: Record<string, number | string>, t: Record<string, number | string> | undefined, key: string, prev: string | undefined) => {
    const d = (f: Record<string, number | string>, k: string) => (prev === undefined ? '' : Number((n(f[`${key}.${k}`]) - n(f[`${prev}.${k}`])).toFixed(1)));
    rows.push([
      label,
      n(c[`${key}.rss`]),
      d(c, 'rss'),
      n(c[`${key}.heapUsed`]),
      d(c, 'heapUsed'),
      n(c[`${key}.heapTotal`]),
      n(c[`${key}.newSpace`]),
      n(c[`${key}.arrayBuffers`]),
      n(c[`${key}.threads`]),
      t === undefined ? '' : n(t[`${key}.rss`]),
      t === undefined ? '' : d(t, 'rss'),
      t === undefined ? '' : n(t[`${key}.heapUsed`]),
    ]);
  };
  rows.push(['node (bare process)', n(bare['start.rss']), '', n(bare['start.heapUsed']), '', '', '', '', n(bare['start.threads']), '', '', '']);
  row(`bin/steward.js, nothing imported (${compiledModules.mode} | tsx)`, compiledModules, tsxModules, 'start', undefined);
  let prev = 'start';
  for (const [name] of [...GATEWAY_MODULES, ...ON_DEMAND]) {
    row(`+ ${name}${ON_DEMAND.some(([m]) => m === name) ? ' [on demand]' : ''}`, compiledModules, tsxModules, name, prev);
    prev = name;
  }
  for (const [key, label] of [['imported', 'running: imported, simulator up'], ['started', 'running: gateway started'], ['polling', `running: after polling (${n(compiledRunning.points)} points read)`]] as const) {
    row(label, compiledRunning, tsxRunning, key, key === 'imported' ? undefined : key === 'started' ? 'imported' : 'started');
  }
  const load = `load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after; node flags (bin/steward.js's shebang): ${NODE_FLAGS.join(' ') || 'none'}; compiled = ${compiledModules.mode === 'compiled' ? 'the build of bin/build.js' : 'NOT AVAILABLE (no up-to-date build: both columns ran through tsx)'}`;
  rows.push([load, ...Array.from({ length: rows[0]!.length - 1 }, () => '')]);
  const modulesEnd = GATEWAY_MODULES[GATEWAY_MODULES.length - 1]![0];
  return {
    table: rows,
    figures: {
      compiled: compiledModules.mode === 'compiled',
      node_flags: NODE_FLAGS.join(' '),
      node_rss_mb: Math.round(n(bare['start.rss'])),
      cli_rss_mb: Math.round(n(compiledModules['start.rss'])),
      cli_rss_mb_tsx: Math.round(n(tsxModules['start.rss'])),
      gateway_modules_rss_mb: Math.round(n(compiledModules[`${modulesEnd}.rss`])),
      gateway_modules_rss_mb_tsx: Math.round(n(tsxModules[`${modulesEnd}.rss`])),
      gateway_modules_heap_mb: Math.round(n(compiledModules[`${modulesEnd}.heapUsed`])),
      running_rss_mb: Math.round(n(compiledRunning['polling.rss'])),
      running_rss_mb_tsx: Math.round(n(tsxRunning['polling.rss'])),
      running_heap_used_mb: Math.round(n(compiledRunning['polling.heapUsed'])),
      running_heap_total_mb: Math.round(n(compiledRunning['polling.heapTotal'])),
      running_array_buffers_mb: Math.round(n(compiledRunning['polling.arrayBuffers'])),
      running_threads: n(compiledRunning['polling.threads']),
      running_threads_tsx: n(tsxRunning['polling.threads']),
      load_avg_1m: Number(load1[0]!.toFixed(2)),
    },
  };
}
