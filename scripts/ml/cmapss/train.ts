/**
 * `steward ml train cmapss`: trains the FD001 RUL model on the training set only, seeded,
 * on the wasm backend, and writes `models/cmapss-rul/` (model.json, weights.bin,
 * manifest.json with the scaling, window, cap, checksums and the measured test metrics).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendName } from '../../../gateway/src/ml/backend.js';
import { fileSaveHandler, sha256File, WEIGHTS_FILE } from '../../../gateway/src/ml/file-io.js';
import { withSeed } from '../seeded.js';
import { DEFAULT_CMAPSS_DIR, SENSORS, fitScaling, lastWindows, readEngines, readRul, rmse, saxenaScore, smoothEngines, trainingWindows, type Scaling } from './data.js';
import { buildRulModel } from './model.js';

export interface CmapssTrainOptions {
  readonly dataDir: string;
  readonly outDir: string;
  readonly window: number;
  readonly cap: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly kind: 'lstm' | 'mlp';
  readonly backend: BackendName;
  /** Exponential smoothing factor of the sensors (1 = none). */
  readonly smoothAlpha: number;
  readonly log: (line: string) => void;
}

export const CMAPSS_DEFAULTS = { window: 30, cap: 125, epochs: 20, batchSize: 128, learningRate: 0.001, seed: 42, kind: 'mlp', backend: 'wasm', smoothAlpha: 0.3 } as const;

export interface CmapssMetrics {
  readonly rmse: number;
  readonly rmseCappedTruth: number;
  readonly saxenaScore: number;
  readonly engines: number;
}

/** Predicts the RUL (cycles) of each test engine at its last cycle. */
export function predictLast(model: tf.InferenceModel | { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] }, windows: Float32Array, engines: number, window: number, cap: number): number[] {
  return tf.tidy(() => {
    const out = model.predict(tf.tensor3d(windows, [engines, window, SENSORS.length]), {}) as tf.Tensor;
    return Array.from(out.dataSync()).map((v) => Math.max(0, v * cap));
  });
}

export async function trainCmapss(o: CmapssTrainOptions): Promise<{ metrics: CmapssMetrics; trainSeconds: number; scaling: Scaling }> {
  const backend = await selectBackend(undefined, o.backend);
  o.log(`backend: ${backend.name}`);
  const rawTrain = readEngines(path.join(o.dataDir, 'train_FD001.txt'));
  const train = Object.assign(smoothEngines(rawTrain, o.smoothAlpha), { repaired: rawTrain.repaired });
  const test = smoothEngines(readEngines(path.join(o.dataDir, 'test_FD001.txt')), o.smoothAlpha);
  const truth = readRul(path.join(o.dataDir, 'RUL_FD001.txt'));
  const scaling = fitScaling(train);
  const d = trainingWindows(train, scaling, o.window, o.cap);
  const testX = lastWindows(test, scaling, o.window);
  o.log(`${train.repaired ?? 0} missing sensor cells in the training file filled from the previous cycle`);
  o.log(`${train.length} training engines, ${d.n} windows of ${o.window} cycles × ${SENSORS.length} sensors; target RUL capped at ${o.cap}`);
  const evaluate = (m: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] }): CmapssMetrics => {
    const p = predictLast(m, testX, test.length, o.window, o.cap);
    return { rmse: rmse(p, truth), rmseCappedTruth: rmse(p, truth.map((t) => Math.min(t, o.cap))), saxenaScore: saxenaScore(p, truth), engines: test.length };
  };
  return withSeed(o.seed, async () => {
    const model = buildRulModel({ window: o.window, features: SENSORS.length, seed: o.seed, kind: o.kind });
    model.compile({ optimizer: tf.train.adam(o.learningRate), loss: 'meanSquaredError' });
    const x = tf.tensor3d(d.x, [d.n, o.window, SENSORS.length]);
    const y = tf.tensor2d(Float32Array.from(d.y, (v) => v / o.cap), [d.n, 1]);
    const t0 = performance.now();
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const h = await model.fit(x, y, { epochs: 1, batchSize: o.batchSize, shuffle: true, verbose: 0 });
      const loss = h.history.loss?.[0] as number;
      // Progress only: the test set never steers training (no early stopping on it).
      o.log(`epoch ${epoch}/${o.epochs}  ${((performance.now() - t0) / 1000).toFixed(0)} s  train RMSE ${(Math.sqrt(loss) * o.cap).toFixed(2)} cycles`);
    }
    const trainSeconds = (performance.now() - t0) / 1000;
    x.dispose();
    y.dispose();
    const metrics = evaluate(model);
    o.log(`test: RMSE ${metrics.rmse.toFixed(2)} (truth capped at ${o.cap}: ${metrics.rmseCappedTruth.toFixed(2)}), Saxena score ${metrics.saxenaScore.toFixed(1)}, ${trainSeconds.toFixed(0)} s training`);
    mkdirSync(o.outDir, { recursive: true });
    await model.save(fileSaveHandler(o.outDir));
    const manifest = {
      name: 'cmapss-rul',
      version: `1.0.0`,
      task: 'rul',
      description: 'Remaining useful life (cycles) of a turbofan engine from its last 30 cycles (NASA C-MAPSS FD001).',
      inputs: [...SENSORS],
      window: o.window,
      output: { unit: 'cycles', scale: o.cap, cap: o.cap },
      normalisation: { kind: 'minmax-11', min: scaling.min, max: scaling.max },
      preprocessing: { ewmaAlpha: o.smoothAlpha },
      thresholds: {},
      training: {
        data: 'NASA C-MAPSS FD001 train_FD001.txt (100 engines, run to failure)',
        architecture: o.kind,
        missingCellsFilled: train.repaired ?? 0,
        epochs: o.epochs,
        batchSize: o.batchSize,
        learningRate: o.learningRate,
        seed: o.seed,
        backend: backend.name,
        seconds: Math.round(trainSeconds),
        command: `npx steward ml train cmapss --kind ${o.kind} --epochs ${o.epochs} --batch ${o.batchSize} --lr ${o.learningRate} --seed ${o.seed} --smooth ${o.smoothAlpha}`,
      },
      metrics: { test: 'test_FD001.txt + RUL_FD001.txt, last cycle of each of the 100 engines', ...roundAll(metrics) },
      files: { 'model.json': sha256File(path.join(o.outDir, 'model.json')), [WEIGHTS_FILE]: sha256File(path.join(o.outDir, WEIGHTS_FILE)) },
    };
    writeFileSync(path.join(o.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return { metrics, trainSeconds, scaling };
  });
}

function roundAll(m: CmapssMetrics): Record<string, number> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Math.round(v * 100) / 100]));
}

export function defaultOptions(argv: readonly string[], log: (l: string) => void): CmapssTrainOptions {
  const f = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, d: number) => (f(name) === undefined ? d : Number(f(name)));
  return {
    dataDir: f('data') ?? DEFAULT_CMAPSS_DIR,
    outDir: f('out') ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../models/cmapss-rul'),
    window: num('window', CMAPSS_DEFAULTS.window),
    cap: num('cap', CMAPSS_DEFAULTS.cap),
    epochs: num('epochs', CMAPSS_DEFAULTS.epochs),
    batchSize: num('batch', CMAPSS_DEFAULTS.batchSize),
    learningRate: num('lr', CMAPSS_DEFAULTS.learningRate),
    seed: num('seed', CMAPSS_DEFAULTS.seed),
    kind: (f('kind') ?? CMAPSS_DEFAULTS.kind) as 'lstm' | 'mlp',
    backend: (f('backend') ?? CMAPSS_DEFAULTS.backend) as BackendName,
    smoothAlpha: num('smooth', CMAPSS_DEFAULTS.smoothAlpha),
    log,
  };
}
