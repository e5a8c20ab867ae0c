/**
 * The FD001 RUL networks, built with the functional API so that several trained members can
 * be put side by side in one model whose output is their mean (the ensemble shipped in
 * models/cmapss-rul, one model.json).
 *
 * Kinds (all take [window, sensors] and answer RUL / cap):
 * - `mlp`: flatten → dense 256 relu → dropout → dense 64 relu → dense 1.
 * - `tdense`: a "temporal dense" network, what a 1-D CNN does with layers the wasm backend
 *   can train (it has no Conv2DBackpropFilter kernel, so Conv1D cannot be trained there):
 *   the window is transposed to [sensors, window], one dense layer over the time axis,
 *   shared by all sensors, learns `filters` temporal filters (a depthwise convolution whose
 *   kernel spans the window); a second dense layer mixes the sensors per filter; then
 *   flatten → dropout → dense → 1.
 * - `cnn`: the 1-D CNN of Li, Ding & Sun (RESS 2018, "DCNN"): 4 convolutions along time,
 *   `filters` (10) filters of kernel 10, 'same' padding, tanh; a fifth with 1 filter of
 *   kernel 3; flatten → dropout → dense 100 tanh → dense 1. Trained on wasm through the
 *   Conv2DBackpropFilter kernel registered in `wasm-conv.ts`.
 * - `gru` / `lstm`: recurrent (slow on wasm: minutes per epoch on this machine).
 * Recurrent weights start Glorot-uniform, not orthogonal: tfjs-layers' orthogonal
 * initialiser calls chained ops that only the full @tensorflow/tfjs bundle registers.
 */
import * as tf from '@tensorflow/tfjs-layers';

export type RulKind = 'mlp' | 'tdense' | 'cnn' | 'gru' | 'lstm';

export interface RulModelOptions {
  readonly window: number;
  readonly features: number;
  readonly seed: number;
  readonly kind: RulKind;
  readonly dropout?: number;
  /** Width of the main hidden layer (mlp: 256; tdense: temporal filters, 24; cnn: filters per convolution, 10). */
  readonly width?: number;
}

/** The layers of one member applied to `input`; returns its output. */
export function rulHead(input: tf.SymbolicTensor, o: RulModelOptions): tf.SymbolicTensor {
  let seed = o.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  const drop = o.dropout ?? 0.2;
  let h: tf.SymbolicTensor;
  if (o.kind === 'lstm' || o.kind === 'gru') {
    const rnn = o.kind === 'lstm' ? tf.layers.lstm : tf.layers.gru;
    h = rnn({ units: o.width ?? 32, returnSequences: true, kernelInitializer: init(), recurrentInitializer: init() }).apply(input) as tf.SymbolicTensor;
    h = rnn({ units: 24, kernelInitializer: init(), recurrentInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: drop, seed: seed++ }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  } else if (o.kind === 'cnn') {
    h = input;
    for (let i = 0; i < 4; i++) h = tf.layers.conv1d({ filters: o.width ?? 10, kernelSize: 10, padding: 'same', activation: 'tanh', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.conv1d({ filters: 1, kernelSize: 3, padding: 'same', activation: 'tanh', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: drop, seed: seed++ }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 100, activation: 'tanh', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  } else if (o.kind === 'tdense') {
    h = tf.layers.permute({ dims: [2, 1] }).apply(input) as tf.SymbolicTensor; // [sensors, window]
    h = tf.layers.dense({ units: o.width ?? 24, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor; // temporal filters, shared by sensors
    h = tf.layers.permute({ dims: [2, 1] }).apply(h) as tf.SymbolicTensor; // [filters, sensors]
    h = tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor; // sensor mixing per filter
    h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: drop, seed: seed++ }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  } else {
    h = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: o.width ?? 256, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dropout({ rate: drop, seed: seed++ }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }).apply(h) as tf.SymbolicTensor;
  }
  // The output starts at the mean target (~0.7 of the cap) rather than 0, so Adam's first
  // hundreds of steps are not spent walking the bias there.
  return tf.layers.dense({ units: 1, kernelInitializer: init(), biasInitializer: tf.initializers.constant({ value: 0.7 }) }).apply(h) as tf.SymbolicTensor;
}

export function buildRulModel(o: RulModelOptions): tf.LayersModel {
  const input = tf.input({ shape: [o.window, o.features] });
  return tf.model({ inputs: input, outputs: rulHead(input, o) });
}

/**
 * One model whose output is the mean of the members' outputs: each member's layers are
 * rebuilt on a shared input and given the trained member's weights.
 */
export function ensembleOf(members: readonly tf.LayersModel[], o: Omit<RulModelOptions, 'seed'>): tf.LayersModel {
  const input = tf.input({ shape: [o.window, o.features] });
  const outs = members.map((m, i) => {
    const out = rulHead(input, { ...o, seed: 1000 + i });
    const sub = tf.model({ inputs: input, outputs: out });
    sub.setWeights(m.getWeights());
    return out;
  });
  const output = outs.length === 1 ? outs[0]! : (tf.layers.average().apply(outs) as tf.SymbolicTensor);
  return tf.model({ inputs: input, outputs: output });
}
