/**
 * `steward ml train pump`: the two models of device type `water/vfd-pump`, from simulated
 * telemetry (scripts/ml/pump/simulate.ts), seeded, on the wasm backend.
 *
 * - `pump-anomaly`: a dense autoencoder over windows of the six analogue points, trained on
 *   normal operation only (several pumps, several simulated days); the anomaly score is the
 *   mean squared reconstruction error in normalised units, the threshold the largest score
 *   seen on held-out normal days × 1.5 (a margin, not a quantile: one false alarm a day is
 *   too many for a control room).
 * - `pump-rul`: a dense regressor from the same windows to the bearing's wear (the
 *   health index, 0 new … 1 failed), trained on runs with bearing wear at several rates.
 *   The runtime extrapolates the predicted wear to 1 for the horizon.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../../gateway/src/ml/backend.js';
import { fileSaveHandler, sha256File, WEIGHTS_FILE } from '../../../gateway/src/ml/file-io.js';
import type { ModelManifest } from '../../../gateway/src/ml/manifest.js';
import { withSeed } from '../seeded.js';
import { PUMP_INPUTS, simulatePump, type PumpRun } from './simulate.js';

export const PUMP_WINDOW = 12;
export const PUMP_STEP_S = 10;
const DAY_MS = 86_400_000;
const T0 = Date.UTC(2024, 0, 1);
export const MODELS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

/** Flattened windows [n × window × inputs], z-scored; every `stride`-th window. */
export function windowsOf(run: PumpRun, mean: readonly number[], std: readonly number[], stride: number, from = 0, to = run.rows.length): { x: Float32Array; ends: number[] } {
  const n = PUMP_INPUTS.length;
  const ends: number[] = [];
  for (let end = from + PUMP_WINDOW; end <= to; end += stride) ends.push(end);
  const x = new Float32Array(ends.length * PUMP_WINDOW * n);
  ends.forEach((end, w) => {
    for (let k = 0; k < PUMP_WINDOW; k++) {
      const row = run.rows[end - PUMP_WINDOW + k]!;
      for (let i = 0; i < n; i++) x[(w * PUMP_WINDOW + k) * n + i] = (row[i]! - mean[i]!) / (std[i]! || 1);
    }
  });
  return { x, ends: ends.map((e) => e - 1) };
}

function stats(runs: readonly PumpRun[]): { mean: number[]; std: number[] } {
  const n = PUMP_INPUTS.length;
  const mean = new Array<number>(n).fill(0);
  const sq = new Array<number>(n).fill(0);
  let count = 0;
  for (const r of runs) for (const row of r.rows) {
    count++;
    row.forEach((v, i) => ((mean[i]! += v), (sq[i]! += v * v)));
  }
  const m = mean.map((s) => s / count);
  return { mean: m, std: sq.map((s, i) => Math.sqrt(Math.max(s / count - m[i]! ** 2, 1e-12))) };
}

export function normalRuns(seed: number, pumps: number, days: number, firstDay = 0): PumpRun[] {
  return Array.from({ length: pumps }, (_, p) => simulatePump({ seed: seed + p, device: `pump-${p + 1}`, startMs: T0 + firstDay * DAY_MS, hours: days * 24, stepSeconds: PUMP_STEP_S }));
}

export function wearRuns(seed: number, rates: readonly number[], onsetHours: number): PumpRun[] {
  return rates.map((rate, i) => simulatePump({ seed: seed + 100 + i, device: `wear-${i}`, startMs: T0 + (i % 7) * DAY_MS + i * 3_600_000, hours: onsetHours + 1.2 / rate, stepSeconds: PUMP_STEP_S, fault: { name: 'bearing-wear', value: rate, afterHours: onsetHours } }));
}

/** Mean squared reconstruction error per window, and per input (for contributing points). */
export function reconstructionErrors(model: tfl.LayersModel, x: Float32Array): { score: number[]; perInput: number[][] } {
  const n = PUMP_INPUTS.length;
  const count = x.length / (PUMP_WINDOW * n);
  return tf.tidy(() => {
    const input = tf.tensor2d(x, [count, PUMP_WINDOW * n]);
    const out = model.predict(input) as tf.Tensor;
    const err = tf.reshape(tf.square(tf.sub(out, input)), [count, PUMP_WINDOW, n]);
    const perInput = tf.mean(err, 1).arraySync() as number[][];
    return { score: perInput.map((r) => r.reduce((a, b) => a + b, 0) / n), perInput };
  });
}

async function save(model: tfl.LayersModel, name: string, manifest: Omit<ModelManifest, 'files'>): Promise<void> {
  const dir = path.join(MODELS_DIR, name);
  mkdirSync(dir, { recursive: true });
  await model.save(fileSaveHandler(dir));
  const full: ModelManifest = { ...manifest, files: { 'model.json': sha256File(path.join(dir, 'model.json')), [WEIGHTS_FILE]: sha256File(path.join(dir, WEIGHTS_FILE)) } };
  writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(full, null, 2)}\n`);
}

export async function trainPump(log: (l: string) => void, seed = 7): Promise<void> {
  const backend = await selectBackend(undefined, 'wasm');
  log(`backend: ${backend.name}`);
  const n = PUMP_INPUTS.length;
  const dim = PUMP_WINDOW * n;
  const t0 = performance.now();
  const train = normalRuns(seed, 4, 3);
  const held = normalRuns(seed + 50, 2, 2, 10);
  const { mean, std } = stats(train);
  log(`simulated ${train.length} pumps × 3 days (training) and 2 × 2 days (held out) at ${PUMP_STEP_S} s in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  await withSeed(seed, async () => {
    // Autoencoder on normal windows.
    const xs = train.map((r) => windowsOf(r, mean, std, 2).x);
    const x = tf.tensor2d(Float32Array.from(xs.flatMap((a) => Array.from(a))), [xs.reduce((s, a) => s + a.length / dim, 0), dim]);
    let s = seed;
    const init = () => tfl.initializers.glorotUniform({ seed: s++ });
    const ae = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [dim], units: 32, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.dense({ units: 6, activation: 'linear', kernelInitializer: init() }),
        tfl.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.dense({ units: dim, kernelInitializer: init() }),
      ],
    });
    ae.compile({ optimizer: tf.train.adam(0.002), loss: 'meanSquaredError' });
    const ta = performance.now();
    for (let e = 1; e <= 12; e++) {
      const h = await ae.fit(x, x, { epochs: 1, batchSize: 256, shuffle: true, verbose: 0 });
      log(`pump-anomaly epoch ${e}/12  loss ${(h.history.loss![0] as number).toFixed(4)}`);
    }
    const aeSeconds = (performance.now() - ta) / 1000;
    x.dispose();
    const heldScores = held.flatMap((r) => reconstructionErrors(ae, windowsOf(r, mean, std, 1).x).score);
    const maxHeld = Math.max(...heldScores);
    const threshold = maxHeld * 1.5;
    log(`pump-anomaly: held-out normal max score ${maxHeld.toFixed(4)} → threshold ${threshold.toFixed(4)}`);
    await save(ae, 'pump-anomaly', {
      name: 'pump-anomaly',
      version: '1.0.0',
      task: 'anomaly',
      deviceType: 'water/vfd-pump',
      inputs: [...PUMP_INPUTS],
      window: PUMP_WINDOW,
      stepSeconds: PUMP_STEP_S,
      normalisation: { kind: 'zscore', mean, std },
      thresholds: { anomaly: threshold, consecutive: 3 },
      trainingStats: { mean, std },
      training: { data: `simulator water/vfd-pump, normal operation, 4 pumps × 3 days, ${PUMP_STEP_S} s steps, trips off`, seed, backend: backend.name, seconds: Math.round(aeSeconds), command: 'npx steward ml train pump' },
      metrics: { heldOutNormalMaxScore: maxHeld, heldOutWindows: heldScores.length, evaluation: 'npx steward ml eval pump' },
    });

    // Wear regressor.
    const rates = [0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0];
    const runs = [...wearRuns(seed, rates, 6), ...train.slice(0, 2)];
    const parts = runs.map((r) => {
      const w = windowsOf(r, mean, std, 3);
      return { x: w.x, y: w.ends.map((e) => r.wear[e]!) };
    });
    const count = parts.reduce((c, p) => c + p.y.length, 0);
    const wx = tf.tensor2d(Float32Array.from(parts.flatMap((p) => Array.from(p.x))), [count, dim]);
    const wy = tf.tensor2d(Float32Array.from(parts.flatMap((p) => p.y)), [count, 1]);
    const reg = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [dim], units: 32, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: init() }),
        tfl.layers.dense({ units: 1, activation: 'sigmoid', kernelInitializer: init() }),
      ],
    });
    reg.compile({ optimizer: tf.train.adam(0.002), loss: 'meanSquaredError' });
    const tr = performance.now();
    for (let e = 1; e <= 15; e++) {
      const h = await reg.fit(wx, wy, { epochs: 1, batchSize: 256, shuffle: true, verbose: 0 });
      log(`pump-rul epoch ${e}/15  wear RMSE ${Math.sqrt(h.history.loss![0] as number).toFixed(4)}`);
    }
    const regSeconds = (performance.now() - tr) / 1000;
    wx.dispose();
    wy.dispose();
    await save(reg, 'pump-rul', {
      name: 'pump-rul',
      version: '1.0.0',
      task: 'failure',
      deviceType: 'water/vfd-pump',
      inputs: [...PUMP_INPUTS],
      window: PUMP_WINDOW,
      stepSeconds: PUMP_STEP_S,
      normalisation: { kind: 'zscore', mean, std },
      output: { unit: 'wear (0 new, 1 failed)', scale: 1 },
      // wear ≥ 0.3 predicted for `consecutive` windows → failure.predicted; horizon from the slope.
      thresholds: { wear: 0.3, consecutive: 6, horizonHours: 48 },
      trainingStats: { mean, std },
      training: { data: `simulator water/vfd-pump: bearing wear at ${rates.join(', ')} /h after 6 h normal, plus 2 normal pumps × 3 days`, seed, backend: backend.name, seconds: Math.round(regSeconds), command: 'npx steward ml train pump' },
      metrics: { evaluation: 'npx steward ml eval pump' },
    });
  });
  log(`wrote ${path.join(MODELS_DIR, 'pump-anomaly')} and ${path.join(MODELS_DIR, 'pump-rul')}`);
}
