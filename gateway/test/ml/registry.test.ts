/**
 * The model registry: a model folder loads when its files match the manifest's sha256, its
 * network takes what the manifest says and the device has the points; otherwise it is
 * refused with a GW_ERR_ML_* code and a message that says what to do. The backend is
 * chosen at start: tfjs-node when importable (tested with a fake module), else wasm.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../src/ml/backend.js';
import { fileSaveHandler, sha256File } from '../../src/ml/file-io.js';
import { checkDevicePoints, loadModel, readManifest } from '../../src/ml/registry.js';

const inputs = ['a', 'b'];

async function writeModel(root: string, name: string, window = 4): Promise<string> {
  const dir = path.join(root, name);
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [window * inputs.length], units: 3, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }), tfl.layers.dense({ units: window * inputs.length })] });
  await m.save(fileSaveHandler(dir));
  const manifest = {
    name,
    version: '1.0.0',
    task: 'anomaly',
    inputs,
    window,
    normalisation: { kind: 'zscore', mean: [0, 0], std: [1, 1] },
    thresholds: { anomaly: 1 },
    training: {},
    metrics: {},
    files: { 'model.json': sha256File(path.join(dir, 'model.json')), 'weights.bin': sha256File(path.join(dir, 'weights.bin')) },
  };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

t.before(async () => {
  await selectBackend(undefined, 'cpu');
});

t.test('a model whose files match its manifest loads and predicts', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-ml-reg-'));
  await writeModel(root, 'tiny');
  const loaded = await loadModel(root, 'tiny');
  t.equal(loaded.manifest.version, '1.0.0');
  const y = loaded.model.predict(tf.zeros([1, 8])) as tf.Tensor;
  t.same(y.shape, [1, 8]);
});

t.test('a changed weights file is refused with GW_ERR_ML_CHECKSUM', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-ml-reg-'));
  const dir = await writeModel(root, 'tiny');
  const w = readFileSync(path.join(dir, 'weights.bin'));
  w[0] = w[0]! ^ 0xff;
  writeFileSync(path.join(dir, 'weights.bin'), w);
  await t.rejects(loadModel(root, 'tiny'), { code: 'GW_ERR_ML_CHECKSUM', message: /weights\.bin.*does not match.*Copy the model folder again or retrain/ });
});

t.test('a manifest that does not fit the network is refused with GW_ERR_ML_SHAPE', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-ml-reg-'));
  const dir = await writeModel(root, 'tiny');
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { window: number };
  m.window = 5;
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(m));
  await t.rejects(loadModel(root, 'tiny'), { code: 'GW_ERR_ML_SHAPE', message: /takes \[.*8\] but the manifest says 5 readings × 2 inputs/ });
});

t.test('missing model, broken manifest and a wrong folder name are named', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-ml-reg-'));
  t.throws(() => readManifest(root, 'nope'), { code: 'GW_ERR_ML_MODEL_NOT_FOUND' });
  const dir = await writeModel(root, 'tiny');
  writeFileSync(path.join(dir, 'manifest.json'), '{"name":"tiny","version":"1","task":"anomaly","inputs":["a","b"],"window":4,"normalisation":{"kind":"zscore","mean":[0],"std":[1]}}');
  t.throws(() => readManifest(root, 'tiny'), { code: 'GW_ERR_ML_MANIFEST', message: /normalisation\.mean\/std must be arrays of 2 numbers/ });
  await writeModel(root, 'tiny');
  cpSync(dir, path.join(root, 'other'), { recursive: true });
  t.throws(() => readManifest(root, 'other'), { code: 'GW_ERR_ML_MANIFEST', message: /folder must be "tiny" or "tiny@1.0.0"/ });
  cpSync(dir, path.join(root, 'tiny@1.0.0'), { recursive: true });
  t.equal(readManifest(root, 'tiny@1.0.0').name, 'tiny', 'a versioned folder (shadow candidate) is accepted');
});

t.test('a device without the points a model needs is refused with GW_ERR_ML_POINTS', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'steward-ml-reg-'));
  await writeModel(root, 'tiny');
  const m = readManifest(root, 'tiny');
  t.doesNotThrow(() => checkDevicePoints(m, 'pump-1', ['a', 'b', 'c']));
  t.throws(() => checkDevicePoints(m, 'pump-1', ['a']), { code: 'GW_ERR_ML_POINTS', message: /needs points b that device "pump-1" does not have/ });
});

t.test('backend: tfjs-node when importable, else wasm; the reasons are kept', async (t) => {
  const imported: string[] = [];
  // A fake tfjs-node: importing it registers a 'tensorflow' backend, as the real one does.
  const withNode = await selectBackend({
    importModule: async (name) => {
      imported.push(name);
      if (name === '@tensorflow/tfjs-node') tf.registerBackend('tensorflow', () => tf.findBackendFactory('cpu')!());
      return {};
    },
  });
  t.equal(withNode.name, 'tensorflow');
  t.same(imported, ['@tensorflow/tfjs-node']);
  tf.removeBackend('tensorflow');
  const without = await selectBackend({ importModule: (name) => (name === '@tensorflow/tfjs-node' ? Promise.reject(new Error(`Cannot find package '${name}'`)) : import(name)) });
  t.equal(without.name, 'wasm');
  t.match(without.skipped, [{ name: 'tensorflow', reason: /Cannot find package/ }]);
  // The real importer on this machine: tfjs-node is not installed.
  const real = await selectBackend();
  t.equal(real.name, 'wasm');
  t.equal(real.skipped[0]?.name, 'tensorflow');
  await selectBackend(undefined, 'cpu');
});
