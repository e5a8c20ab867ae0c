/**
 * NASA C-MAPSS FD001 (Saxena et al., "Damage propagation modeling for aircraft engine
 * run-to-failure simulation", PHM 2008): `unit cycle setting1..3 s1..s21`, space separated.
 *
 * Preparation as in most FD001 papers (e.g. Li, Ding & Sun, "Remaining useful life
 * estimation in prognostics using deep convolution neural networks", RESS 2018): the 14
 * sensors that vary (s2 s3 s4 s7 s8 s9 s11 s12 s13 s14 s15 s17 s20 s21; the others are
 * constant under FD001's single operating condition), min–max scaled to [-1, 1] with the
 * training set's extremes, windows of 30 cycles, the target RUL capped at 125 cycles
 * (piece-wise linear degradation, Heimes 2008).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_CMAPSS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/cmapss');

/** Columns (after unit, cycle, 3 settings) used: s2 s3 s4 s7 s8 s9 s11 s12 s13 s14 s15 s17 s20 s21. */
export const SENSORS = ['s2', 's3', 's4', 's7', 's8', 's9', 's11', 's12', 's13', 's14', 's15', 's17', 's20', 's21'] as const;
const SENSOR_COLUMN = SENSORS.map((s) => 4 + Number(s.slice(1)));

export interface Engine {
  readonly unit: number;
  /** [cycle][sensor] in SENSORS order, raw units. */
  readonly rows: number[][];
}

/**
 * Reads a C-MAPSS file. Cells that are not numbers (the training file here has ~50:
 * `NAN`, `'N/A'`, `None`) are filled with the engine's previous reading of that sensor
 * (the next one at an engine's first cycle); `repaired` counts them.
 */
export function readEngines(file: string): Engine[] & { repaired?: number } {
  if (!existsSync(file)) throw new Error(`C-MAPSS file not found: ${file} (see ../shared/data/README.md, or pass --data DIR)`);
  const byUnit = new Map<number, { cycle: number; values: number[] }[]>();
  let repaired = 0;
  for (const line of readFileSync(file, 'utf8').split(/\r?\n/)) {
    const c = line.trim().split(/\s+/).map((x) => (/^-?[0-9.]+(e-?[0-9]+)?$/i.test(x) ? Number(x) : NaN));
    if (c.length < 26 || !Number.isFinite(c[0]) || !Number.isFinite(c[1])) continue;
    const rows = byUnit.get(c[0]!) ?? [];
    rows.push({ cycle: c[1]!, values: SENSOR_COLUMN.map((k) => c[k]!) });
    byUnit.set(c[0]!, rows);
  }
  const engines = [...byUnit.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([unit, rows]) => {
      rows.sort((a, b) => a.cycle - b.cycle);
      const out = rows.map((r) => r.values);
      for (let k = 0; k < SENSORS.length; k++) {
        for (let i = 0; i < out.length; i++) {
          if (Number.isFinite(out[i]![k])) continue;
          repaired++;
          let j = i - 1;
          while (j >= 0 && !Number.isFinite(out[j]![k])) j--;
          if (j < 0) {
            j = i + 1;
            while (j < out.length && !Number.isFinite(out[j]![k])) j++;
          }
          out[i]![k] = j < out.length ? out[j]![k]! : 0;
        }
      }
      return { unit, rows: out };
    });
  return Object.assign(engines, { repaired });
}

/**
 * Causal exponential smoothing of every sensor, per engine: s_t = α·x_t + (1 − α)·s_{t−1}.
 * It uses only past cycles, so an engine can be smoothed online as it runs; α = 1 leaves the data as is.
 */
export function smoothEngines(engines: readonly Engine[], alpha: number): Engine[] {
  if (alpha >= 1) return [...engines];
  return engines.map((e) => {
    const out: number[][] = [];
    e.rows.forEach((r, i) => out.push(i === 0 ? [...r] : r.map((v, k) => alpha * v + (1 - alpha) * out[i - 1]![k]!)));
    return { unit: e.unit, rows: out };
  });
}

/**
 * Appends the cycle number (1 at the engine's first cycle: the time since it started, known
 * online) to every row, as one more input after the sensors. It is not smoothed.
 */
export function withCycle(engines: readonly Engine[]): Engine[] {
  return engines.map((e) => ({ unit: e.unit, rows: e.rows.map((r, i) => [...r, i + 1]) }));
}

/** What is done to an engine's raw rows before they are scaled (recorded in the manifest's `preprocessing`). */
export interface Preprocessing {
  readonly ewmaAlpha: number;
  /** The cycle number as a last input (`withCycle`). */
  readonly cycleFeature?: boolean;
}

/** Smoothing, then the cycle number if asked for: the same for training, validation and the test set. */
export function prepareEngines(engines: readonly Engine[], p: Preprocessing): Engine[] {
  const smoothed = smoothEngines(engines, p.ewmaAlpha);
  return p.cycleFeature === true ? withCycle(smoothed) : smoothed;
}

export function readRul(file: string): number[] {
  return readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '').map(Number);
}

export interface Scaling {
  readonly min: number[];
  readonly max: number[];
}

export function fitScaling(engines: readonly Engine[]): Scaling {
  const inputs = engines[0]?.rows[0]?.length ?? SENSORS.length;
  const min = Array.from({ length: inputs }, () => Infinity);
  const max = Array.from({ length: inputs }, () => -Infinity);
  for (const e of engines) for (const r of e.rows) r.forEach((v, i) => ((min[i] = Math.min(min[i]!, v)), (max[i] = Math.max(max[i]!, v))));
  return { min, max };
}

export function scale(row: readonly number[], s: Scaling): number[] {
  return row.map((v, i) => (2 * (v - s.min[i]!)) / (s.max[i]! - s.min[i]! || 1) - 1);
}

/**
 * Every window of `window` cycles of every training engine, with the capped RUL of its last
 * cycle as the target. Flattened [n × window × sensors]. A window longer than
 * `MIN_HISTORY` cycles also has windows ending from that cycle on, padded in front
 * with the first cycle the way `lastWindows` pads a short test engine, so the network has
 * seen such windows.
 */
export function trainingWindows(engines: readonly Engine[], s: Scaling, window: number, cap: number): { x: Float32Array; y: Float32Array; n: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const e of engines) {
    const scaled = e.rows.map((r) => scale(r, s));
    for (let end = Math.min(window, MIN_HISTORY); end <= scaled.length; end++) {
      for (let k = end - window; k < end; k++) xs.push(...scaled[Math.max(0, k)]!);
      ys.push(Math.min(cap, scaled.length - end));
    }
  }
  return { x: Float32Array.from(xs), y: Float32Array.from(ys), n: ys.length };
}

/** The shortest history (cycles) a window is made from when the window is longer: the 30-cycle window most FD001 work uses. */
export const MIN_HISTORY = 30;

/** The last `window` cycles of each engine (the first cycle repeated in front when shorter). */
export function lastWindows(engines: readonly Engine[], s: Scaling, window: number): Float32Array {
  const xs: number[] = [];
  for (const e of engines) {
    const scaled = e.rows.map((r) => scale(r, s));
    for (let k = scaled.length - window; k < scaled.length; k++) xs.push(...scaled[Math.max(0, k)]!);
  }
  return Float32Array.from(xs);
}

/** RMSE, in cycles. */
export function rmse(pred: readonly number[], truth: readonly number[]): number {
  return Math.sqrt(pred.reduce((s, p, i) => s + (p - truth[i]!) ** 2, 0) / pred.length);
}

/**
 * The PHM08 scoring function (Saxena et al. 2008, eq. 1): d = predicted − true;
 * e^(−d/13) − 1 when early (d < 0), e^(d/10) − 1 when late; summed. Late is punished more.
 */
export function saxenaScore(pred: readonly number[], truth: readonly number[]): number {
  return pred.reduce((s, p, i) => {
    const d = p - truth[i]!;
    return s + (d < 0 ? Math.exp(-d / 13) - 1 : Math.exp(d / 10) - 1);
  }, 0);
}
