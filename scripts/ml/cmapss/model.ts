/**
 * The FD001 RUL network: two stacked LSTMs over the window (Zheng et al., "Long short-term
 * memory network for remaining useful life estimation", ICPHM 2017), then dense layers to
 * one output, the RUL in cycles / `cap`. Recurrent, so trained on the wasm backend only
 * (DEPENDENCIES.md: an LSTM step is ~15× slower on cpu), and no Conv1D: the wasm backend
 * has no Conv2DBackpropFilter kernel, so convolutions cannot be trained there. Recurrent
 * weights start Glorot-uniform, not orthogonal: tfjs-layers' orthogonal initialiser calls
 * chained ops that only the full @tensorflow/tfjs bundle registers.
 */
import * as tf from '@tensorflow/tfjs-layers';

export interface RulModelOptions {
  readonly window: number;
  readonly features: number;
  readonly seed: number;
  readonly kind: 'lstm' | 'mlp';
  readonly dropout?: number;
}

export function buildRulModel(o: RulModelOptions): tf.Sequential {
  const m = tf.sequential();
  let seed = o.seed;
  const init = () => tf.initializers.glorotUniform({ seed: seed++ });
  if (o.kind === 'lstm') {
    m.add(tf.layers.lstm({ units: 48, returnSequences: true, inputShape: [o.window, o.features], kernelInitializer: init(), recurrentInitializer: init() }));
    m.add(tf.layers.lstm({ units: 32, kernelInitializer: init(), recurrentInitializer: init() }));
  } else {
    m.add(tf.layers.flatten({ inputShape: [o.window, o.features] }));
    m.add(tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init() }));
  }
  m.add(tf.layers.dropout({ rate: o.dropout ?? 0.2 }));
  m.add(tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init() }));
  // The output starts at the mean target (~0.7 of the cap) rather than 0, so Adam's first
  // hundreds of steps are not spent walking the bias there.
  m.add(tf.layers.dense({ units: 1, kernelInitializer: init(), biasInitializer: tf.initializers.constant({ value: 0.7 }) }));
  return m;
}
