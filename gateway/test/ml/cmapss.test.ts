/**
 * The committed C-MAPSS FD001 model, loaded through the registry (checksums verified),
 * scores the 100 test engines with the RMSE and Saxena score its manifest records: the
 * figures in docs/ml.md come from the artifacts in the repository, not from a lost run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients
import { selectBackend } from '../../src/ml/backend.js';
import { loadModel } from '../../src/ml/registry.js';
import { DEFAULT_CMAPSS_DIR, MIN_HISTORY, SENSORS, fitScaling, lastWindows, prepareEngines, readEngines, readRul, rmse, saxenaScore, trainingWindows } from '../../../scripts/ml/cmapss/data.js';
import { predictLast } from '../../../scripts/ml/cmapss/train.js';
import { registerWasmConv2DBackpropFilter } from '../../../scripts/ml/cmapss/wasm-conv.js';

const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

t.test('models/cmapss-rul reproduces its recorded test metrics', { skip: existsSync(DEFAULT_CMAPSS_DIR) ? false : 'no C-MAPSS data' }, async (t) => {
  await selectBackend(undefined, 'wasm');
  const { model, manifest } = await loadModel(modelsDir, 'cmapss-rul');
  if (manifest.normalisation.kind !== 'minmax-11') throw new Error('min-max scaled');
  const test = prepareEngines(readEngines(path.join(DEFAULT_CMAPSS_DIR, 'test_FD001.txt')), { ewmaAlpha: 1, ...manifest.preprocessing });
  const truth = readRul(path.join(DEFAULT_CMAPSS_DIR, 'RUL_FD001.txt'));
  const p = predictLast(model, lastWindows(test, { min: [...manifest.normalisation.min], max: [...manifest.normalisation.max] }, manifest.window), test.length, manifest.window, manifest.output!.scale);
  const recorded = manifest.metrics as { rmse: number; saxenaScore: number };
  t.equal(p.length, 100);
  t.ok(Math.abs(rmse(p, truth) - recorded.rmse) < 0.01, `RMSE ${rmse(p, truth).toFixed(2)} = manifest ${recorded.rmse}`);
  t.ok(Math.abs(saxenaScore(p, truth) - recorded.saxenaScore) < 0.5, `Saxena ${saxenaScore(p, truth).toFixed(1)} = manifest ${recorded.saxenaScore}`);
});

t.test('Conv2DBackpropFilter registered for wasm gives the cpu backend\'s gradients (Conv1D training)', async (t) => {
  await selectBackend(undefined, 'wasm');
  await import('@tensorflow/tfjs-backend-cpu');
  registerWasmConv2DBackpropFilter();
  const x = Float32Array.from({ length: 3 * 30 * 14 }, (_, i) => Math.sin(i * 0.37) + 0.1 * (i % 7));
  const f = Float32Array.from({ length: 10 * 14 * 6 }, (_, i) => Math.cos(i * 0.11) * 0.3);
  const grads = async (backend: string, pad: 'same' | 'valid', stride: number): Promise<Float32Array> => {
    await tf.setBackend(backend);
    return tf.tidy(() => {
      const g = tf.grad((w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(tf.tensor4d(x, [3, 1, 30, 14]), w as tf.Tensor4D, [1, stride], pad))));
      return g(tf.tensor4d(f, [1, 10, 14, 6])).dataSync() as Float32Array;
    });
  };
  for (const [pad, stride] of [['same', 1], ['valid', 1]] as const) {
    const want = await grads('cpu', pad, stride);
    const got = await grads('wasm', pad, stride);
    t.equal(got.length, 10 * 14 * 6);
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i]!) / (1 + Math.abs(want[i]!))));
    t.ok(worst < 1e-4, `${pad}, stride ${stride}: largest relative difference ${worst.toExponential(1)}`);
  }
  await t.rejects(grads('wasm', 'same', 2), /only stride 1/, 'stride 2 is refused, not answered wrongly');
  await tf.setBackend('wasm');
});

t.test('training windows longer than 30 cycles include short histories padded with the first cycle', async (t) => {
  const rows = Array.from({ length: 40 }, (_, i) => SENSORS.map((_, k) => i + k));
  const scaling = { min: SENSORS.map(() => 0), max: SENSORS.map(() => 100) };
  const w30 = trainingWindows([{ unit: 1, rows }], scaling, 30, 125);
  t.equal(w30.n, 11, 'window 30: ends at cycles 30…40');
  const w35 = trainingWindows([{ unit: 1, rows }], scaling, 35, 125);
  t.equal(w35.n, 40 - MIN_HISTORY + 1, 'window 35: ends at cycles 30…40 too');
  t.same(Array.from(w35.y.slice(0, 2)), [10, 9]);
  const first = Array.from(w35.x.slice(0, 35 * SENSORS.length));
  const padded = first.slice(0, 6 * SENSORS.length);
  t.ok(padded.every((v, i) => v === first[i % SENSORS.length]), 'the 5 cycles before the engine\'s first are its first cycle');
  t.same(Array.from(w35.x.slice(0, 35 * SENSORS.length)), Array.from(lastWindows([{ unit: 1, rows: rows.slice(0, 30) }], scaling, 35)), 'the same window lastWindows makes of a 30-cycle engine');
});

t.test('--cycle-feature: the cycle number is a last input, not smoothed, scaled with the training extremes', async (t) => {
  const rows = Array.from({ length: 40 }, (_, i) => SENSORS.map((_, k) => (i % 2) * 10 + k));
  const [plain] = prepareEngines([{ unit: 1, rows }], { ewmaAlpha: 0.5 });
  const [timed] = prepareEngines([{ unit: 1, rows }], { ewmaAlpha: 0.5, cycleFeature: true });
  t.equal(timed!.rows[0]!.length, SENSORS.length + 1);
  t.same(timed!.rows.map((r) => r.slice(0, SENSORS.length)), plain!.rows, 'the sensors are smoothed as without it');
  t.same(timed!.rows.map((r) => r[SENSORS.length]), Array.from({ length: 40 }, (_, i) => i + 1), 'cycles 1…40');
  const scaling = fitScaling([timed!]);
  t.equal(scaling.min.length, SENSORS.length + 1);
  t.same([scaling.min[SENSORS.length], scaling.max[SENSORS.length]], [1, 40]);
  const last = Array.from(lastWindows([timed!], scaling, 30));
  t.equal(last.length, 30 * (SENSORS.length + 1));
  t.equal(last[last.length - 1], 1, 'the last cycle scales to 1');
});
