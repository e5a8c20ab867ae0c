/**
 * `models/<name>/manifest.json`: what a model takes, how to prepare it, what it answers
 * and how well it was measured (issue 7). Checked when the registry loads a model; a
 * missing or mistyped key is refused with GW_ERR_ML_MANIFEST naming it.
 */
import { GatewayError } from '../core/errors.js';

export type ModelTask = 'anomaly' | 'rul' | 'failure';

export interface ModelManifest {
  readonly name: string;
  /** Semantic version; a new version may run in shadow mode beside the current one. */
  readonly version: string;
  readonly task: ModelTask;
  /** The device type (profile id) it was trained for, when it is per device type. */
  readonly deviceType?: string;
  /** Input point names, in the order of the network's last input axis. */
  readonly inputs: readonly string[];
  /** Readings per window (the network's time axis). */
  readonly window: number;
  /** Seconds between readings of a window (the training data's sampling). */
  readonly stepSeconds?: number;
  /** Per-input scaling: `minmax-11` maps [min, max] → [-1, 1]; `zscore` is (x − mean) / std. */
  readonly normalisation: { readonly kind: 'minmax-11'; readonly min: readonly number[]; readonly max: readonly number[] } | { readonly kind: 'zscore'; readonly mean: readonly number[]; readonly std: readonly number[] };
  /**
   * Applied before normalisation: `ewmaAlpha` = causal exponential smoothing of each input (1 = none);
   * `cycleFeature` = the last input (`cycle` in `inputs`) is the machine's cycle count since it
   * started (C-MAPSS v3: 1 at its first cycle), not smoothed.
   */
  readonly preprocessing?: { readonly ewmaAlpha?: number; readonly cycleFeature?: boolean };
  /** Output scaling: the network's output × scale, in `unit`. */
  readonly output?: { readonly unit: string; readonly scale: number; readonly cap?: number };
  /** Decision thresholds: `anomaly` (score), `horizon` (hours) and `confidence` for failure models. */
  readonly thresholds: Readonly<Record<string, number>>;
  /** Per-input training distribution (mean, std) for drift metrics. */
  readonly trainingStats?: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly training: Readonly<Record<string, unknown>>;
  readonly metrics: Readonly<Record<string, unknown>>;
  /** sha256 (hex) of every file of the model, by file name. */
  readonly files: Readonly<Record<string, string>>;
}

function fail(file: string, key: string, expected: string): never {
  throw new GatewayError('GW_ERR_ML_MANIFEST', `${file}: ${key} must be ${expected}. Regenerate the model with its training script (npx steward ml train …).`, { details: { file, key } });
}

const isNumArray = (v: unknown, n: number): v is number[] => Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** Parses and checks a manifest's text; `file` is named in errors. */
export function parseManifest(text: string, file: string): ModelManifest {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new GatewayError('GW_ERR_ML_MANIFEST', `${file} is not valid JSON (${(err as Error).message}). Regenerate the model with its training script.`, { cause: err, details: { file } });
  }
  if (typeof m !== 'object' || m === null) fail(file, 'the manifest', 'a JSON object');
  if (typeof m.name !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(m.name)) fail(file, 'name', 'a model id ([a-z0-9-]+)');
  if (typeof m.version !== 'string' || m.version === '') fail(file, 'version', 'a non-empty string');
  if (m.task !== 'anomaly' && m.task !== 'rul' && m.task !== 'failure') fail(file, 'task', '"anomaly", "rul" or "failure"');
  if (!Array.isArray(m.inputs) || m.inputs.length === 0 || !m.inputs.every((x) => typeof x === 'string')) fail(file, 'inputs', 'a non-empty array of point names');
  const n = m.inputs.length;
  if (typeof m.window !== 'number' || !Number.isInteger(m.window) || m.window < 1) fail(file, 'window', 'a whole number ≥ 1');
  const norm = m.normalisation as Record<string, unknown> | undefined;
  if (norm?.kind === 'minmax-11') {
    if (!isNumArray(norm.min, n) || !isNumArray(norm.max, n)) fail(file, 'normalisation.min/max', `arrays of ${n} numbers (one per input)`);
  } else if (norm?.kind === 'zscore') {
    if (!isNumArray(norm.mean, n) || !isNumArray(norm.std, n)) fail(file, 'normalisation.mean/std', `arrays of ${n} numbers (one per input)`);
  } else fail(file, 'normalisation.kind', '"minmax-11" or "zscore"');
  if (typeof m.thresholds !== 'object' || m.thresholds === null) fail(file, 'thresholds', 'an object of numbers');
  const files = m.files as Record<string, unknown> | undefined;
  if (typeof files !== 'object' || files === null || typeof files['model.json'] !== 'string') fail(file, 'files', 'an object with the sha256 of model.json and of each weights file');
  for (const [k, v] of Object.entries(files)) if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) fail(file, `files["${k}"]`, 'a sha256 in hex');
  return m as unknown as ModelManifest;
}

/** Scales one reading vector as the manifest says. */
export function normaliseRow(m: ModelManifest, row: readonly number[], out: Float32Array, offset: number): void {
  const norm = m.normalisation;
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    out[offset + i] = norm.kind === 'minmax-11' ? (2 * (v - norm.min[i]!)) / (norm.max[i]! - norm.min[i]! || 1) - 1 : (v - norm.mean[i]!) / (norm.std[i]! || 1);
  }
}
