/**
 * The model registry over `models/<name>/`: reads the manifest, verifies the sha256 of
 * every file it lists before TF.js sees a byte, loads the network through the file
 * IOHandler, and checks that the network takes what the manifest says. A device is
 * matched against a model's inputs before it is scored.
 *
 * TF.js is imported by `loadModel` only (in the inference worker, scripts): the gateway's
 * main thread reads manifests through this module without loading TF.js (issue 3: ~25 MB of RSS under tsx).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { GatewayError } from '../core/errors.js';
import { fileLoadHandler } from './file-io.js';
import { parseManifest, type ModelManifest } from './manifest.js';

export interface LoadedModel {
  readonly manifest: ModelManifest;
  readonly model: tfl.LayersModel;
  readonly dir: string;
}

/** Reads `models/<name>/manifest.json` only (no TF.js): what a model needs, for config checks. */
export function readManifest(modelsDir: string, name: string): ModelManifest {
  const dir = path.join(modelsDir, name);
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) throw new GatewayError('GW_ERR_ML_MODEL_NOT_FOUND', `Model "${name}" not found: ${file} does not exist. Train it (npx steward ml train …) or remove it from the profile's models:.`, { details: { model: name, dir } });
  const manifest = parseManifest(readFileSync(file, 'utf8'), file);
  // A folder is the model's name, or `name@version` for a candidate beside it (shadow mode).
  if (manifest.name !== name && name !== `${manifest.name}@${manifest.version}`) {
    throw new GatewayError('GW_ERR_ML_MANIFEST', `${file}: name is "${manifest.name}" (version ${manifest.version}) but the folder is "${name}"; the folder must be "${manifest.name}" or "${manifest.name}@${manifest.version}".`, { details: { file } });
  }
  return manifest;
}

/** Loads and verifies a model; throws GW_ERR_ML_* with what to do. */
export async function loadModel(modelsDir: string, name: string): Promise<LoadedModel> {
  const manifest = readManifest(modelsDir, name);
  const dir = path.join(modelsDir, name);
  const verified = (file: string): Buffer => {
    const rel = path.relative(dir, file).split(path.sep).join('/');
    const want = manifest.files[rel];
    if (want === undefined) throw new GatewayError('GW_ERR_ML_CHECKSUM', `${file} has no sha256 in ${name}/manifest.json: only listed files are loaded. Regenerate the manifest.`, { details: { model: name, file: rel } });
    const bytes = readFileSync(file);
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== want) throw new GatewayError('GW_ERR_ML_CHECKSUM', `${name}/${rel}: sha256 ${got.slice(0, 12)}… does not match the manifest's ${want.slice(0, 12)}…; the model is not loaded. Copy the model folder again or retrain it.`, { details: { model: name, file: rel } });
    return bytes;
  };
  const { loadLayersModel } = await import('@tensorflow/tfjs-layers');
  const model = await loadLayersModel(fileLoadHandler(dir, verified));
  const shape = model.inputs[0]?.shape ?? [];
  const n = manifest.inputs.length;
  const fits = (shape.length === 3 && shape[1] === manifest.window && shape[2] === n) || (shape.length === 2 && shape[1] === manifest.window * n);
  if (!fits) {
    model.dispose();
    throw new GatewayError('GW_ERR_ML_SHAPE', `${name}: the network takes [${shape.join(', ')}] but the manifest says ${manifest.window} readings × ${n} inputs. The manifest belongs to another model; retrain or fix the folder.`, { details: { model: name, shape } });
  }
  return { manifest, model, dir };
}

/** Checks that a device has every point a model needs; throws GW_ERR_ML_POINTS naming the missing ones. */
export function checkDevicePoints(manifest: ModelManifest, device: string, points: readonly string[]): void {
  const have = new Set(points);
  const missing = manifest.inputs.filter((p) => !have.has(p));
  if (missing.length > 0) {
    throw new GatewayError('GW_ERR_ML_POINTS', `Model "${manifest.name}" needs points ${missing.join(', ')} that device "${device}" does not have. Use a profile with those points or drop the model from its models:.`, { details: { model: manifest.name, device, missing } });
  }
}
