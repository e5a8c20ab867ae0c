/**
 * `npm run bench -- ml [--quick]`
 *
 * Inference cost of the committed pump anomaly model (models/pump-anomaly: a dense
 * autoencoder over 12 readings × 6 points), in this process, on the wasm backend and on
 * the plain JavaScript cpu backend in one run:
 * - windows/s and per-batch latency (p50/p99 of wall time, and p99 of the batch's CPU time,
 *   which leaves out the time spent waiting for a core on a loaded machine) for batches of
 *   1, 64 and 334 windows;
 * - the share of one core to score 2,000 points every second: 334 pump windows (6 points
 *   each) advanced by one reading a second, scored as one batch each second — measured as
 *   process CPU time over the run's wall time, then the same load through the streaming
 *   univariate detector (2,000 points, one update each a second, with full histories: NAB's
 *   3,000 patterns and the gateway's 1,000). The 1-minute load average is in the JSON line.
 * The runtime runs the same work in its worker thread; here it is measured without the
 * message passing, which adds a copy of the batch each way.
 */
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendName } from '../../gateway/src/ml/backend.js';
import { UnivariateDetector, type UnivariateDetectorOptions } from '../../gateway/src/ml/detectors/univariate-detector.js';
import { POINT_DETECTOR_DEFAULTS } from '../../gateway/src/ml/point-detectors.js';
import { loadModel } from '../../gateway/src/ml/registry.js';
import { percentile } from './lib/poll-rig.js';
import type { BenchOptions, BenchResult } from './run.js';

const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../models');
const POINTS = 2000;

interface Measured {
  windowsPerS: number;
  p50: number;
  p99: number;
  /** p99 of the batch's CPU time (process.cpuUsage): its cost while it has a core, without the waits for one. */
  p99Cpu: number;
  coreFraction: number;
}

async function measure(backend: BackendName, batch: number, seconds: number): Promise<Measured> {
  await selectBackend(undefined, backend);
  const { model, manifest } = await loadModel(modelsDir, 'pump-anomaly');
  const dim = manifest.window * manifest.inputs.length;
  const x = tf.randomNormal([batch, dim], 0, 1, 'float32', 1);
  const score = () =>
    tf.tidy(() => {
      const y = model.predict(x) as tf.Tensor;
      return tf.mean(tf.square(tf.sub(y, x)), 1).dataSync();
    });
  for (let i = 0; i < 5; i++) score(); // warm-up: kernels compiled, memory grown
  const lat: number[] = [];
  const cpuLat: number[] = [];
  const end = performance.now() + seconds * 1000;
  let windows = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    const c = process.cpuUsage();
    const s = performance.now();
    score();
    lat.push(performance.now() - s);
    const dc = process.cpuUsage(c);
    cpuLat.push((dc.user + dc.system) / 1000);
    windows += batch;
  }
  const wall = (performance.now() - t0) / 1000;
  // 2,000 points a second: one batch of ⌈2000 / 6⌉ windows each second, CPU over wall time.
  const perSecond = Math.ceil(POINTS / manifest.inputs.length);
  let coreFraction = 0;
  if (batch === perSecond) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const ticks = Math.max(2, Math.round(seconds));
    for (let i = 0; i < ticks; i++) {
      const s = performance.now();
      score();
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (performance.now() - s))));
    }
    const cpu = process.cpuUsage(c0);
    coreFraction = (cpu.user + cpu.system) / 1000 / (performance.now() - w0);
  }
  x.dispose();
  model.dispose();
  return { windowsPerS: windows / wall, p50: percentile(lat, 50), p99: percentile(lat, 99), p99Cpu: percentile(cpuLat, 99), coreFraction };
}

/**
 * The univariate detector's share of a core for 2,000 points a second, at its costly steady
 * state (a full 3,000-pattern history to search): `sample` detectors are fed 3,300 values,
 * then timed over `measured` more each; the CPU per update × 2,000.
 */
function univariateCoreFraction(sample: number, measured: number, options: Partial<UnivariateDetectorOptions> = {}): number {
  const detectors = Array.from({ length: sample }, () => new UnivariateDetector(options));
  let t = 0;
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.1;
  const feed = () => {
    for (const d of detectors) d.update(Math.sin(t / 30) + noise());
    t++;
  };
  for (let i = 0; i < (options.historyLength ?? 3000) + 300; i++) feed();
  const c0 = process.cpuUsage();
  for (let i = 0; i < measured; i++) feed();
  const cpu = process.cpuUsage(c0);
  const msPerUpdate = (cpu.user + cpu.system) / 1000 / (sample * measured);
  return (msPerUpdate * POINTS) / 1000;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const seconds = options.quick ? 2 : 8;
  const perSecond = Math.ceil(POINTS / 6);
  const rows: (string | number)[][] = [['backend', 'batch', 'windows/s', 'p50 ms', 'p99 ms', 'p99 CPU ms', 'core share, 2000 points/s']];
  const results: Record<string, Measured> = {};
  for (const backend of ['wasm', 'cpu'] as const) {
    for (const batch of [1, 64, perSecond]) {
      const m = await measure(backend, batch, seconds);
      results[`${backend}-${batch}`] = m;
      rows.push([backend, batch, Math.round(m.windowsPerS), m.p50, m.p99, m.p99Cpu, batch === perSecond ? `${(m.coreFraction * 100).toFixed(2)} %` : '']);
    }
  }
  const uni = univariateCoreFraction(options.quick ? 5 : 20, options.quick ? 50 : 200);
  rows.push(['univariate (JS), NAB history 3,000', POINTS, '', '', '', '', `${(uni * 100).toFixed(1)} %`]);
  const uniGw = univariateCoreFraction(options.quick ? 5 : 20, options.quick ? 50 : 200, POINT_DETECTOR_DEFAULTS.detector);
  rows.push(['univariate (JS), gateway history 1,000', POINTS, '', '', '', '', `${(uniGw * 100).toFixed(1)} %`]);
  const big = `-${perSecond}`;
  return {
    table: rows,
    figures: {
      windows_per_s_wasm: Math.round(results[`wasm${big}`]!.windowsPerS),
      windows_per_s_cpu: Math.round(results[`cpu${big}`]!.windowsPerS),
      p99_ms_wasm: Math.round(results[`wasm${big}`]!.p99 * 100) / 100,
      p99_ms_cpu: Math.round(results[`cpu${big}`]!.p99 * 100) / 100,
      p50_ms_wasm: Math.round(results[`wasm${big}`]!.p50 * 100) / 100,
      p99_cpu_ms_wasm: Math.round(results[`wasm${big}`]!.p99Cpu * 100) / 100,
      load_1min: Math.round(loadavg()[0]! * 10) / 10,
      batch: perSecond,
      core_fraction_2000_points: Math.round(results[`wasm${big}`]!.coreFraction * 10_000) / 10_000,
      core_fraction_2000_points_cpu: Math.round(results[`cpu${big}`]!.coreFraction * 10_000) / 10_000,
      core_fraction_2000_points_univariate: Math.round(uni * 10_000) / 10_000,
      core_fraction_2000_points_univariate_gateway: Math.round(uniGw * 10_000) / 10_000,
      model: 'pump-anomaly',
    },
  };
}
