/**
 * The wasm backend (4.22) has no `Conv2DBackpropFilter` kernel, so a convolution cannot be
 * trained on it. It has `Conv3DBackpropFilterV2`; a 2-D convolution (and so Conv1D, which
 * TF.js runs as a 2-D one of height 1) is a 3-D one of depth 1 with the same memory layout,
 * so this registers `Conv2DBackpropFilter` for wasm as that kernel on the same buffers
 * viewed as 5-D. Training only (inference needs just Conv2D, which wasm has); NHWC, stride 1,
 * no dilation (tfjs-core's Conv2D gradient refuses dilations anyway).
 */
import * as tf from '@tensorflow/tfjs-core';

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}

export function registerWasmConv2DBackpropFilter(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined) return;
  const conv3d = tf.getKernel('Conv3DBackpropFilterV2', 'wasm');
  if (conv3d === undefined) throw new Error('the wasm backend has no Conv3DBackpropFilterV2 kernel to train convolutions with');
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as unknown as { x: Info; dy: Info };
      const a = attrs as unknown as { strides: number | [number, number]; pad: 'valid' | 'same' | number; dataFormat: string; filterShape: [number, number, number, number] };
      if (a.dataFormat !== 'NHWC') throw new Error(`Conv2DBackpropFilter on wasm: only NHWC, not ${a.dataFormat}`);
      if (typeof a.pad !== 'string') throw new Error('Conv2DBackpropFilter on wasm: only "same" or "valid" padding');
      const [sh, sw] = typeof a.strides === 'number' ? [a.strides, a.strides] : a.strides;
      // With strides > 1 the 3-D kernel's gradients differ from the cpu backend's (checked in
      // gateway/test/ml/cmapss.test.ts); the networks here use stride 1 only.
      if (sh !== 1 || sw !== 1) throw new Error(`Conv2DBackpropFilter on wasm: only stride 1, not ${sh}×${sw}`);
      const [b, h, w, c] = x.shape as [number, number, number, number];
      const [, oh, ow, oc] = dy.shape as [number, number, number, number];
      const out = conv3d.kernelFunc({
        inputs: { x: { ...x, shape: [b, 1, h, w, c] }, dy: { ...dy, shape: [b, 1, oh, ow, oc] } } as never,
        backend,
        attrs: { strides: [1, sh, sw], pad: a.pad, filterShape: [1, ...a.filterShape] },
      }) as Info;
      return { dataId: out.dataId, shape: [...a.filterShape], dtype: out.dtype } as never;
    },
  });
}
