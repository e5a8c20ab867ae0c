/**
 * `steward ml train cmapss` and `steward ml eval cmapss`. `eval cmapss --record` also writes
 * the test figures into the manifest: for a model trained with `--no-test` (one of several
 * candidates compared on validation), once it has been chosen.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { selectBackend } from '../../../gateway/src/ml/backend.js';
import { fileLoadHandler } from '../../../gateway/src/ml/file-io.js';
import { SENSORS, lastWindows, prepareEngines, readEngines, readRul, rmse, saxenaScore } from './data.js';
import { TEST_DESCRIPTION, defaultOptions, predictLast, roundAll, trainCmapss } from './train.js';

export async function run(verb: string, argv: string[]): Promise<number> {
  const log = (l: string): void => void process.stdout.write(`${l}\n`);
  const o = defaultOptions(argv, log);
  if (verb === 'train') {
    await trainCmapss(o);
    if (!o.validateOnly) log(`wrote ${o.outDir}`);
    return 0;
  }
  await selectBackend(undefined, o.backend);
  const manifestFile = path.join(o.outDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    window: number;
    output: { scale: number };
    normalisation: { min: number[]; max: number[] };
    training: { seconds: number; backend: string; members?: number; networks?: number; architecture?: string };
    metrics: { validationRmse?: number; validationCutRmse?: number; [k: string]: unknown };
    preprocessing?: { ewmaAlpha: number; cycleFeature?: boolean };
  };
  const model = await tfl.loadLayersModel(fileLoadHandler(o.outDir));
  const test = prepareEngines(readEngines(path.join(o.dataDir, 'test_FD001.txt')), manifest.preprocessing ?? { ewmaAlpha: 1 });
  const truth = readRul(path.join(o.dataDir, 'RUL_FD001.txt'));
  const t0 = performance.now();
  const p = predictLast(model, lastWindows(test, manifest.normalisation, manifest.window), test.length, manifest.window, manifest.output.scale);
  const ms = performance.now() - t0;
  log(`C-MAPSS FD001, ${test.length} test engines, model ${o.outDir} (${SENSORS.length} sensors${manifest.preprocessing?.cycleFeature === true ? ' + cycle' : ''} × ${manifest.window} cycles)`);
  log(`RMSE                 ${rmse(p, truth).toFixed(2)} cycles (true RUL as published)`);
  log(`RMSE, truth ≤ ${manifest.output.scale}      ${rmse(p, truth.map((t) => Math.min(t, manifest.output.scale))).toFixed(2)} cycles`);
  log(`Saxena score         ${saxenaScore(p, truth).toFixed(1)}`);
  if (manifest.metrics.validationRmse !== undefined) log(`validation RMSE      ${manifest.metrics.validationRmse} (out-of-fold training engines, target capped) / ${manifest.metrics.validationCutRmse} (cut like the test set) — what the settings were chosen by`);
  log(`training time        ${manifest.training.seconds} s on ${manifest.training.backend}${manifest.training.members === undefined ? '' : `, ${manifest.training.networks ?? manifest.training.members} ${manifest.training.architecture ?? ''} networks averaged`} (from the manifest)`);
  log(`inference            ${ms.toFixed(0)} ms for ${test.length} windows`);
  if (argv.includes('--record')) {
    const metrics = { rmse: rmse(p, truth), rmseCappedTruth: rmse(p, truth.map((t) => Math.min(t, manifest.output.scale))), saxenaScore: saxenaScore(p, truth), engines: test.length };
    manifest.metrics = { ...manifest.metrics, test: TEST_DESCRIPTION, ...roundAll(metrics) };
    writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    log(`recorded in ${manifestFile}`);
  }
  return 0;
}
