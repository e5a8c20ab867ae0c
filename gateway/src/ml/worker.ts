/**
 * The inference worker thread: TF.js runs here, off the gateway's event loop, so a batch
 * of windows never delays a poll cycle. Messages:
 * - in  `{ kind: 'load', id, models: [{ key, folder }] }` → out `{ id, ok, backend, manifests }`
 * - in  `{ kind: 'infer', id, key, x: Float32Array, count }` → out `{ id, ok, out: Float32Array, width }`
 *   where `out` is the mean squared error per input (anomaly models, width = inputs)
 *   or the network's output (other models, width = output units).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type BackendName } from './backend.js';
import { loadModel, type LoadedModel } from './registry.js';

export interface WorkerInit {
  readonly modelsDir: string;
  readonly backend?: BackendName;
}

export type WorkerRequest = { kind: 'load'; id: number; models: { key: string; folder: string }[] } | { kind: 'infer'; id: number; key: string; x: Float32Array; count: number };

export type WorkerReply =
  | { id: number; ok: true; backend?: string; manifests?: Record<string, LoadedModel['manifest']>; out?: Float32Array; width?: number }
  | { id: number; ok: false; code?: string; message: string };

const init = workerData as WorkerInit;
const models = new Map<string, LoadedModel>();
let backend: string | undefined;

async function handle(msg: WorkerRequest): Promise<WorkerReply> {
  if (msg.kind === 'load') {
    backend ??= (await selectBackend(undefined, init.backend)).name;
    const manifests: Record<string, LoadedModel['manifest']> = {};
    for (const m of msg.models) {
      const loaded = await loadModel(init.modelsDir, m.folder);
      models.get(m.key)?.model.dispose();
      models.set(m.key, loaded);
      manifests[m.key] = loaded.manifest;
    }
    return { id: msg.id, ok: true, backend, manifests };
  }
  const loaded = models.get(msg.key);
  if (loaded === undefined) return { id: msg.id, ok: false, message: `model ${msg.key} is not loaded` };
  const { manifest, model } = loaded;
  const n = manifest.inputs.length;
  const w = manifest.window;
  const flat = model.inputs[0]!.shape.length === 2;
  const { out, width } = tf.tidy(() => {
    const x = flat ? tf.tensor2d(msg.x, [msg.count, w * n]) : tf.tensor3d(msg.x, [msg.count, w, n]);
    const y = model.predict(x) as tf.Tensor;
    if (manifest.task === 'anomaly') {
      const err = tf.mean(tf.reshape(tf.square(tf.sub(tf.reshape(y, [msg.count, w, n]), tf.reshape(x, [msg.count, w, n]))), [msg.count, w, n]), 1);
      return { out: err.dataSync() as Float32Array, width: n };
    }
    return { out: y.dataSync() as Float32Array, width: y.shape[1] ?? 1 };
  });
  return { id: msg.id, ok: true, out: Float32Array.from(out), width };
}

parentPort?.on('message', (msg: WorkerRequest) => {
  handle(msg).then(
    (reply) => parentPort?.postMessage(reply),
    (err: unknown) => parentPort?.postMessage({ id: msg.id, ok: false, code: (err as { code?: string }).code, message: err instanceof Error ? err.message : String(err) } satisfies WorkerReply),
  );
});
