/**
 * `steward ml train cmapss`: trains the FD001 RUL model on the training set only, seeded,
 * on the wasm backend, and writes `models/cmapss-rul/` (model.json, weights.bin,
 * manifest.json with the scaling, window, cap, checksums, the validation figures the
 * hyper-parameters were chosen by, and the test metrics). `--validate-only` trains and
 * prints the out-of-fold validation figures without reading the test set.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend, type BackendName } from '../../../gateway/src/ml/backend.js';
import { fileSaveHandler, sha256File, WEIGHTS_FILE } from '../../../gateway/src/ml/file-io.js';
import { withSeed } from '../seeded.js';
import { createRng } from '../../sim/models/prng.js';
import { DEFAULT_CMAPSS_DIR, SENSORS, fitScaling, lastWindows, prepareEngines, readEngines, readRul, rmse, saxenaScore, trainingWindows, type Engine, type Preprocessing, type Scaling } from './data.js';
import { buildRulModel, ensembleOf, type RulKind } from './model.js';
import { registerWasmConv2DBackpropFilter } from './wasm-conv.js';

export interface CmapssTrainOptions {
  readonly dataDir: string;
  readonly outDir: string;
  readonly window: number;
  readonly cap: number;
  /** Most epochs per member; the epoch kept is the one with the lowest validation RMSE. */
  readonly epochs: number;
  /** Epochs without a better validation RMSE before a member stops. */
  readonly patience: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly kind: RulKind;
  readonly width: number | undefined;
  readonly dropout: number;
  /** The training engines are split into this many folds; member k is validated on fold k and trained on the rest. */
  readonly folds: number;
  /** Folds that get members (≤ folds); the shipped model averages members × repeats networks. */
  readonly members: number;
  /** Networks per fold, each with its own seed; the out-of-fold figures average them (an ensemble validated as such). */
  readonly repeats: number;
  readonly backend: BackendName;
  /** Exponential smoothing factor of the sensors (1 = none). */
  readonly smoothAlpha: number;
  /** The cycle number (time since the engine started) as one more input (`--cycle-feature`). */
  readonly cycleFeature: boolean;
  /** Halve the learning rate after this many epochs without a better validation RMSE (0 = never; `--lr-plateau N`). */
  readonly lrPlateau: number;
  /** Only train and validate (print the validation figures); do not touch the test set or write the model. */
  readonly validateOnly: boolean;
  /** Train and write the model and manifest, but do not read the test set (the candidates of a comparison; `ml eval cmapss --record` scores the chosen one once). */
  readonly noTest: boolean;
  readonly log: (line: string) => void;
}

/** The version written to the manifest (bumped when the architecture or preprocessing changes). */
export const CMAPSS_VERSION = '3.0.0';

export const CMAPSS_DEFAULTS = { window: 30, cap: 125, epochs: 40, patience: 8, batchSize: 128, learningRate: 0.001, seed: 42, kind: 'tdense', dropout: 0.2, folds: 5, members: 5, repeats: 2, backend: 'wasm', smoothAlpha: 0.05, cycleFeature: true, lrPlateau: 0 } as const;

export interface CmapssMetrics {
  readonly rmse: number;
  readonly rmseCappedTruth: number;
  readonly saxenaScore: number;
  readonly engines: number;
}

/** Predicts the RUL (cycles) of each test engine at its last cycle. */
export function predictLast(model: tf.InferenceModel | { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] }, windows: Float32Array, engines: number, window: number, cap: number): number[] {
  return tf.tidy(() => {
    const out = model.predict(tf.tensor3d(windows, [engines, window, windows.length / (engines * window)]), {}) as tf.Tensor;
    return Array.from(out.dataSync()).map((v) => Math.max(0, v * cap));
  });
}

/** The training engines' indices in `folds` folds, after a seeded shuffle (engines, never windows, are split). */
export function engineFolds(count: number, folds: number, seed: number): number[][] {
  const rng = createRng(seed);
  const idx = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return Array.from({ length: folds }, (_, k) => idx.filter((_, i) => i % folds === k).sort((a, b) => a - b));
}

interface MemberResult {
  readonly model: tfl.LayersModel;
  readonly bestEpoch: number;
  /** Validation RMSE (all windows of the held-out engines, target capped) at the best epoch. */
  readonly valRmse: number;
  /** Validation RMSE on the last window of each held-out engine cut at random points, true RUL uncapped (the test set's way). */
  readonly valCutRmse: number;
  readonly valCutSaxena: number;
  /** Predictions (cycles) at the best epoch on the held-out windows and on the cut engines, for the per-fold ensemble figures. */
  readonly valPred: number[];
  readonly valCutPred: number[];
  readonly seconds: number;
}

/** True RUL of the cut validation engines is drawn from 0 … this (the same for every cap, so caps compare). */
export const CUT_MAX_RUL = 150;

/**
 * Held-out engines cut the way the test set is: each engine is truncated at 5 seeded
 * random points (keeping at least 31 cycles, true RUL up to CUT_MAX_RUL), and the last window
 * is scored against the true, uncapped RUL.
 */
function cutWindows(engines: readonly Engine[], s: Scaling, window: number, cap: number, seed: number): { x: Float32Array; truth: number[] } {
  const rng = createRng(seed);
  const cut: Engine[] = [];
  const truth: number[] = [];
  for (const e of engines) {
    // True RUL drawn uniformly from 0 … 150 (1.2 × the default cap: a prediction is only meaningful up to about the cap).
    const maxRul = Math.min(e.rows.length - 31, CUT_MAX_RUL);
    for (let k = 0; k < 5; k++) {
      const keep = e.rows.length - Math.floor(rng.next() * (maxRul + 1));
      cut.push({ unit: e.unit, rows: e.rows.slice(0, keep) });
      truth.push(e.rows.length - keep);
    }
  }
  return { x: lastWindows(cut, s, window), truth };
}

async function trainMember(o: CmapssTrainOptions, train: readonly Engine[], val: readonly Engine[], scaling: Scaling, seed: number, cutSeed: number, label: string): Promise<MemberResult> {
  const d = trainingWindows(train, scaling, o.window, o.cap);
  const v = trainingWindows(val, scaling, o.window, o.cap);
  const vc = cutWindows(val, scaling, o.window, o.cap, cutSeed);
  const features = inputCount(o);
  const model = buildRulModel({ window: o.window, features, seed, kind: o.kind, dropout: o.dropout, ...(o.width === undefined ? {} : { width: o.width }) });
  const optimizer = tf.train.adam(o.learningRate);
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const x = tf.tensor3d(d.x, [d.n, o.window, features]);
  const y = tf.tensor2d(Float32Array.from(d.y, (t) => t / o.cap), [d.n, 1]);
  const vx = tf.tensor3d(v.x, [v.n, o.window, features]);
  const t0 = performance.now();
  let best = { rmse: Infinity, epoch: 0, weights: [] as tf.Tensor[], pred: [] as number[] };
  let lr = o.learningRate;
  let lastChange = 0;
  for (let epoch = 1; epoch <= o.epochs && epoch - best.epoch <= o.patience; epoch++) {
    if (o.lrPlateau > 0 && epoch - 1 - Math.max(best.epoch, lastChange) >= o.lrPlateau) {
      // Adam keeps its learning rate in a field the optimizer reads at every step.
      lr /= 2;
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      lastChange = epoch - 1;
      o.log(`${label} learning rate ${lr}`);
    }
    const h = await model.fit(x, y, { epochs: 1, batchSize: o.batchSize, shuffle: true, verbose: 0 });
    const p = tf.tidy(() => Array.from((model.predict(vx) as tf.Tensor).dataSync()).map((q) => Math.max(0, q * o.cap)));
    const valRmse = rmse(p, Array.from(v.y));
    const loss = h.history.loss?.[0] as number;
    if (valRmse < best.rmse) {
      best.weights.forEach((w) => w.dispose());
      best = { rmse: valRmse, epoch, weights: model.getWeights().map((w) => w.clone()), pred: p };
    }
    o.log(`${label} epoch ${epoch}  ${((performance.now() - t0) / 1000).toFixed(0)} s  train RMSE ${(Math.sqrt(loss) * o.cap).toFixed(2)}  validation RMSE ${valRmse.toFixed(2)}${epoch === best.epoch ? ' *' : ''}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  model.setWeights(best.weights);
  best.weights.forEach((w) => w.dispose());
  x.dispose();
  y.dispose();
  vx.dispose();
  const pc = predictLast(model, vc.x, vc.truth.length, o.window, o.cap);
  return { model, bestEpoch: best.epoch, valRmse: best.rmse, valCutRmse: rmse(pc, vc.truth), valCutSaxena: saxenaScore(pc, vc.truth) / (vc.truth.length / 100), valPred: best.pred, valCutPred: pc, seconds };
}

/**
 * Trains `members` networks, member k on the training engines outside fold k, stopped early
 * on fold k; the model written averages them. The validation figures (out-of-fold) are what
 * hyper-parameters are chosen by; the test set is read only at the end, once.
 */
export async function trainCmapss(o: CmapssTrainOptions): Promise<{ metrics?: CmapssMetrics; trainSeconds: number; scaling: Scaling; validation: { rmse: number; cutRmse: number; cutSaxena: number } }> {
  const backend = await selectBackend(undefined, o.backend);
  o.log(`backend: ${backend.name}`);
  const rawTrain = readEngines(path.join(o.dataDir, 'train_FD001.txt'));
  const train = Object.assign(prepareEngines(rawTrain, preprocessingOf(o)), { repaired: rawTrain.repaired });
  const scaling = fitScaling(train);
  const folds = engineFolds(train.length, o.folds, o.seed);
  o.log(`${train.repaired ?? 0} missing sensor cells in the training file filled from the previous cycle`);
  o.log(`${train.length} training engines in ${o.folds} folds; ${o.members} member(s) ${o.kind}, windows of ${o.window} cycles × ${SENSORS.length} sensors${o.cycleFeature ? ' + the cycle number' : ''}; target RUL capped at ${o.cap}; smoothing α ${o.smoothAlpha}`);
  if (!Number.isInteger(o.repeats) || o.repeats < 1 || o.repeats > 9) throw new Error(`--repeats must be an integer 1…9, not ${o.repeats}`);
  if (!Number.isInteger(o.members) || o.members < 1 || o.members > o.folds) throw new Error(`--members must be an integer 1…${o.folds} (the folds), not ${o.members}`);
  if (o.kind === 'cnn' && backend.name === 'wasm') registerWasmConv2DBackpropFilter();
  return withSeed(o.seed, async () => {
    const members: MemberResult[] = [];
    const folded: { rmse: number; cutRmse: number; cutSaxena: number }[] = [];
    for (let k = 0; k < o.members; k++) {
      const hold = new Set(folds[k]);
      const val = train.filter((_, i) => hold.has(i));
      const inFold: MemberResult[] = [];
      for (let r = 0; r < o.repeats; r++) {
        const n = k * o.repeats + r + 1;
        // Repeat 0 keeps the initialiser seeds of a one-network-per-fold run (o.seed + 100 k); its
        // shuffles and dropout masks differ after the first network (Math.random is one seeded stream per run).
        const m = await trainMember(o, train.filter((_, i) => !hold.has(i)), val, scaling, o.seed + 100 * k + 10 * r, o.seed + 100 * k + 7, `member ${n}/${o.members * o.repeats}`);
        o.log(`member ${n} (fold ${k + 1}): best epoch ${m.bestEpoch}, validation RMSE ${m.valRmse.toFixed(2)} (all windows, capped) / ${m.valCutRmse.toFixed(2)} (cut engines, true RUL), Saxena per 100 ${m.valCutSaxena.toFixed(1)}, ${m.seconds.toFixed(0)} s`);
        inFold.push(m);
        members.push(m);
      }
      // The fold's ensemble: the mean of its networks' predictions on the engines none of them saw.
      const avg = (f: (m: MemberResult) => number[]) => f(inFold[0]!).map((_, i) => inFold.reduce((a, m) => a + f(m)[i]!, 0) / inFold.length);
      const v = trainingWindows(val, scaling, o.window, o.cap);
      const vc = cutWindows(val, scaling, o.window, o.cap, o.seed + 100 * k + 7);
      const pc = avg((m) => m.valCutPred);
      folded.push({ rmse: rmse(avg((m) => m.valPred), Array.from(v.y)), cutRmse: rmse(pc, vc.truth), cutSaxena: saxenaScore(pc, vc.truth) / (vc.truth.length / 100) });
      if (o.repeats > 1) o.log(`fold ${k + 1}, mean of ${o.repeats}: validation RMSE ${folded[k]!.rmse.toFixed(2)} (capped) / ${folded[k]!.cutRmse.toFixed(2)} (cut), Saxena per 100 ${folded[k]!.cutSaxena.toFixed(1)}`);
    }
    const mean = <T>(xs: readonly T[], f: (m: T) => number) => xs.reduce((a, m) => a + f(m), 0) / xs.length;
    const perNetwork = { rmse: mean(members, (m) => m.valRmse), cutRmse: mean(members, (m) => m.valCutRmse), cutSaxena: mean(members, (m) => m.valCutSaxena) };
    const validation = { rmse: mean(folded, (m) => m.rmse), cutRmse: mean(folded, (m) => m.cutRmse), cutSaxena: mean(folded, (m) => m.cutSaxena) };
    const trainSeconds = members.reduce((a, m) => a + m.seconds, 0);
    o.log(`VALIDATION ${o.kind} w${o.width ?? '-'} d${o.dropout} α${o.smoothAlpha} cap${o.cap} lr${o.learningRate}${o.lrPlateau > 0 ? ` plateau${o.lrPlateau}` : ''} window${o.window}${o.cycleFeature ? ' +cycle' : ''} ×${o.repeats} e${o.epochs} p${o.patience}: RMSE ${validation.rmse.toFixed(2)} (capped) / ${validation.cutRmse.toFixed(2)} (cut), Saxena/100 ${validation.cutSaxena.toFixed(1)}; per network ${perNetwork.rmse.toFixed(2)} / ${perNetwork.cutRmse.toFixed(2)} / ${perNetwork.cutSaxena.toFixed(1)}; ${trainSeconds.toFixed(0)} s`);
    if (o.validateOnly) return { trainSeconds, scaling, validation };
    const model = ensembleOf(
      members.map((m) => m.model),
      { window: o.window, features: inputCount(o), kind: o.kind, dropout: o.dropout, ...(o.width === undefined ? {} : { width: o.width }) },
    );
    const metrics = o.noTest ? undefined : testMetrics(model, o.dataDir, scaling, o.window, o.cap, preprocessingOf(o));
    if (metrics !== undefined) o.log(`test: RMSE ${metrics.rmse.toFixed(2)} (truth capped at ${o.cap}: ${metrics.rmseCappedTruth.toFixed(2)}), Saxena score ${metrics.saxenaScore.toFixed(1)}, ${trainSeconds.toFixed(0)} s training`);
    else o.log(`test set not read (--no-test); ${trainSeconds.toFixed(0)} s training`);
    mkdirSync(o.outDir, { recursive: true });
    await model.save(fileSaveHandler(o.outDir));
    const manifest = {
      name: 'cmapss-rul',
      version: CMAPSS_VERSION,
      task: 'rul',
      description: `Remaining useful life (cycles) of a turbofan engine from its last ${o.window} cycles${o.cycleFeature ? ' and its cycle number' : ''} (NASA C-MAPSS FD001); mean of ${o.members * o.repeats} networks.`,
      inputs: o.cycleFeature ? [...SENSORS, 'cycle'] : [...SENSORS],
      window: o.window,
      output: { unit: 'cycles', scale: o.cap, cap: o.cap },
      normalisation: { kind: 'minmax-11', min: scaling.min, max: scaling.max },
      preprocessing: preprocessingOf(o),
      thresholds: {},
      training: {
        data: 'NASA C-MAPSS FD001 train_FD001.txt (100 engines, run to failure); the test set is not used in training or model selection',
        architecture: o.kind,
        width: o.width ?? null,
        dropout: o.dropout,
        members: o.members,
        repeats: o.repeats,
        networks: o.members * o.repeats,
        folds: o.folds,
        bestEpochs: members.map((m) => m.bestEpoch),
        maxEpochs: o.epochs,
        patience: o.patience,
        missingCellsFilled: train.repaired ?? 0,
        batchSize: o.batchSize,
        learningRate: o.learningRate,
        ...(o.lrPlateau > 0 ? { lrPlateau: o.lrPlateau } : {}),
        seed: o.seed,
        backend: backend.name,
        seconds: Math.round(trainSeconds),
        command: `npx steward ml train cmapss --kind ${o.kind}${o.width === undefined ? '' : ` --width ${o.width}`} --dropout ${o.dropout} --epochs ${o.epochs} --patience ${o.patience} --batch ${o.batchSize} --lr ${o.learningRate} --seed ${o.seed} --smooth ${o.smoothAlpha} --cap ${o.cap} --window ${o.window} --folds ${o.folds} --members ${o.members} --repeats ${o.repeats}${o.cycleFeature ? ' --cycle-feature' : ' --no-cycle-feature'}${o.lrPlateau > 0 ? ` --lr-plateau ${o.lrPlateau}` : ''}`,
      },
      metrics: {
        validation: `out-of-fold: the ${o.repeats === 1 ? 'network' : `mean of the ${o.repeats} networks`} of each fold on the ${Math.round(train.length / o.folds)} training engines ${o.repeats === 1 ? 'it' : 'they'} did not see; rmse over all their windows (target capped at ${o.cap}), cutRmse/cutSaxena on their last windows cut at 5 random points each (true RUL 0…${CUT_MAX_RUL}, uncapped; Saxena per 100 engines)`,
        validationRmse: round2(validation.rmse),
        validationCutRmse: round2(validation.cutRmse),
        validationCutSaxena: round2(validation.cutSaxena),
        ...(metrics === undefined ? {} : { test: TEST_DESCRIPTION, ...roundAll(metrics) }),
      },
      files: { 'model.json': sha256File(path.join(o.outDir, 'model.json')), [WEIGHTS_FILE]: sha256File(path.join(o.outDir, WEIGHTS_FILE)) },
    };
    writeFileSync(path.join(o.outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return { ...(metrics === undefined ? {} : { metrics }), trainSeconds, scaling, validation };
  });
}

export const TEST_DESCRIPTION = 'test_FD001.txt + RUL_FD001.txt, last cycle of each of the 100 engines';

/** RMSE (true RUL, and true RUL capped) and Saxena score of `model` on the last window of each test engine. */
export function testMetrics(model: { predict(x: tf.Tensor): tf.Tensor | tf.Tensor[] }, dataDir: string, scaling: Scaling, window: number, cap: number, preprocessing: Preprocessing): CmapssMetrics {
  const test = prepareEngines(readEngines(path.join(dataDir, 'test_FD001.txt')), preprocessing);
  const truth = readRul(path.join(dataDir, 'RUL_FD001.txt'));
  const p = predictLast(model, lastWindows(test, scaling, window), test.length, window, cap);
  return { rmse: rmse(p, truth), rmseCappedTruth: rmse(p, truth.map((t) => Math.min(t, cap))), saxenaScore: saxenaScore(p, truth), engines: test.length };
}

/** The network's inputs: the sensors, and the cycle number with `--cycle-feature`. */
const inputCount = (o: CmapssTrainOptions): number => SENSORS.length + (o.cycleFeature ? 1 : 0);

/** The manifest's `preprocessing` (the shipped defaults write `{ ewmaAlpha }` alone, as before). */
const preprocessingOf = (o: CmapssTrainOptions): Preprocessing => (o.cycleFeature ? { ewmaAlpha: o.smoothAlpha, cycleFeature: true } : { ewmaAlpha: o.smoothAlpha });

const round2 = (v: number): number => Math.round(v * 100) / 100;

export function roundAll(m: CmapssMetrics): Record<string, number> {
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
    patience: num('patience', CMAPSS_DEFAULTS.patience),
    width: f('width') === undefined ? undefined : Number(f('width')),
    dropout: num('dropout', CMAPSS_DEFAULTS.dropout),
    folds: num('folds', CMAPSS_DEFAULTS.folds),
    members: num('members', CMAPSS_DEFAULTS.members),
    repeats: num('repeats', CMAPSS_DEFAULTS.repeats),
    validateOnly: argv.includes('--validate-only'),
    noTest: argv.includes('--no-test'),
    batchSize: num('batch', CMAPSS_DEFAULTS.batchSize),
    learningRate: num('lr', CMAPSS_DEFAULTS.learningRate),
    seed: num('seed', CMAPSS_DEFAULTS.seed),
    kind: (f('kind') ?? CMAPSS_DEFAULTS.kind) as RulKind,
    backend: (f('backend') ?? CMAPSS_DEFAULTS.backend) as BackendName,
    smoothAlpha: num('smooth', CMAPSS_DEFAULTS.smoothAlpha),
    cycleFeature: argv.includes('--no-cycle-feature') ? false : argv.includes('--cycle-feature') || CMAPSS_DEFAULTS.cycleFeature,
    lrPlateau: num('lr-plateau', CMAPSS_DEFAULTS.lrPlateau),
    log,
  };
}
