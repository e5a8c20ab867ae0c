/**
 * The committed C-MAPSS FD001 model, loaded through the registry (checksums verified),
 * scores the 100 test engines with the RMSE and Saxena score its manifest records: the
 * figures in docs/ml.md come from the artifacts in the repository, not from a lost run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { selectBackend } from '../../src/ml/backend.js';
import { loadModel } from '../../src/ml/registry.js';
import { DEFAULT_CMAPSS_DIR, lastWindows, readEngines, readRul, rmse, saxenaScore, smoothEngines } from '../../../scripts/ml/cmapss/data.js';
import { predictLast } from '../../../scripts/ml/cmapss/train.js';

const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

t.test('models/cmapss-rul reproduces its recorded test metrics', { skip: existsSync(DEFAULT_CMAPSS_DIR) ? false : 'no C-MAPSS data' }, async (t) => {
  await selectBackend(undefined, 'wasm');
  const { model, manifest } = await loadModel(modelsDir, 'cmapss-rul');
  if (manifest.normalisation.kind !== 'minmax-11') throw new Error('min-max scaled');
  const test = smoothEngines(readEngines(path.join(DEFAULT_CMAPSS_DIR, 'test_FD001.txt')), manifest.preprocessing?.ewmaAlpha ?? 1);
  const truth = readRul(path.join(DEFAULT_CMAPSS_DIR, 'RUL_FD001.txt'));
  const p = predictLast(model, lastWindows(test, { min: [...manifest.normalisation.min], max: [...manifest.normalisation.max] }, manifest.window), test.length, manifest.window, manifest.output!.scale);
  const recorded = manifest.metrics as { rmse: number; saxenaScore: number };
  t.equal(p.length, 100);
  t.ok(Math.abs(rmse(p, truth) - recorded.rmse) < 0.01, `RMSE ${rmse(p, truth).toFixed(2)} = manifest ${recorded.rmse}`);
  t.ok(Math.abs(saxenaScore(p, truth) - recorded.saxenaScore) < 0.5, `Saxena ${saxenaScore(p, truth).toFixed(1)} = manifest ${recorded.saxenaScore}`);
});
