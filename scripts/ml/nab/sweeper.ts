/**
 * NAB's scoring rules, after numenta/NAB `nab/sweeper.py` and `nab/optimizer.py`
 * (commit ea702d75) and Lavin & Ahmad, "Evaluating Real-time Anomaly Detection
 * Algorithms — the Numenta Anomaly Benchmark", ICMLA 2015, §III.
 *
 * Every row after the probationary period is scored as if it were a detection: inside a
 * window by its position (a scaled sigmoid, earliest best), outside one by its distance
 * behind the previous window (a false positive right after a window costs less). A window
 * counts once, with its best detection, or `-fnWeight` when missed. Sweeping the
 * threshold from high to low gives the score of every threshold in one pass.
 */

/** A cost profile (NAB `config/profiles.json`). */
export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

/** NAB's three application profiles. */
export const NAB_PROFILES = {
  standard: { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 },
  reward_low_FP_rate: { tpWeight: 1, fpWeight: 0.22, fnWeight: 1 },
  reward_low_FN_rate: { tpWeight: 1, fpWeight: 0.11, fnWeight: 2 },
} as const satisfies Record<string, CostMatrix>;

export type ProfileName = keyof typeof NAB_PROFILES;

/** One scorable row: its anomaly score, its weighted sweep score and its window (or null). */
export interface AnomalyPoint {
  readonly anomalyScore: number;
  readonly sweepScore: number;
  readonly window: string | null;
}

/** The outcome of one threshold: a row is a detection when its score ≥ threshold. */
export interface ThresholdScore {
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** NAB's scaled sigmoid: +1 well before a window's end, −1 far after it (sweeper.py). */
export function scaledSigmoid(relativePosition: number): number {
  return relativePosition > 3 ? -1 : 2 * sigmoid(-5 * relativePosition) - 1;
}

/** Rows at the start of a file that are never scored: min(⌊15 % of rows⌋, 750). */
export function probationaryLength(rows: number, probationPercent = 0.15): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

/**
 * The sweep score of every row after probation (NAB `Sweeper.calcSweepScore`).
 * @param timestamps row times (ms epoch), ascending
 * @param windows labelled windows `[start, end]` (ms epoch), each on a row's timestamp
 * @param name the file's name, to keep windows of different files apart
 */
export function sweepScores(
  timestamps: readonly number[],
  anomalyScores: readonly number[],
  windows: readonly (readonly [number, number])[],
  name: string,
  cost: CostMatrix,
  probationPercent = 0.15,
): AnomalyPoint[] {
  if (timestamps.length !== anomalyScores.length) throw new Error(`${name}: ${timestamps.length} timestamps but ${anomalyScores.length} scores`);
  const index = new Map<number, number>();
  timestamps.forEach((t, i) => index.set(t, i));
  const pending = [...windows];
  const maxTP = scaledSigmoid(-1);
  const probation = probationaryLength(timestamps.length, probationPercent);
  const out: AnomalyPoint[] = [];
  let cur: { name: string; end: number; right: number; width: number } | null = null;
  let prev: { right: number; width: number } | null = null;
  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i]!;
    const next = pending[0];
    if (cur === null && next !== undefined && t === next[0]) {
      pending.shift();
      const right = index.get(next[1]);
      if (right === undefined) throw new Error(`${name}: window end ${new Date(next[1]).toISOString()} is not a row`);
      cur = { name: `${name}|${next[0]}`, end: next[1], right, width: right - i + 1 };
    }
    let weighted: number;
    if (cur !== null) {
      weighted = (scaledSigmoid(-(cur.right - i + 1) / cur.width) * cost.tpWeight) / maxTP;
    } else {
      const unweighted = prev === null ? -1 : scaledSigmoid(Math.abs(prev.right - i) / (prev.width - 1));
      weighted = unweighted * cost.fpWeight;
    }
    if (i >= probation) out.push({ anomalyScore: anomalyScores[i]!, sweepScore: weighted, window: cur?.name ?? null });
    if (cur !== null && t === cur.end) {
      prev = { right: i, width: cur.width };
      cur = null;
    }
  }
  return out;
}

/**
 * The score at every distinct threshold, from the highest down (NAB
 * `Sweeper.calcScoreByThreshold`); the first row is threshold 1.1 (nothing detected).
 */
export function scoresByThreshold(points: readonly AnomalyPoint[], cost: CostMatrix): ThresholdScore[] {
  const sorted = [...points].sort((a, b) => b.anomalyScore - a.anomalyScore);
  let tn = 0;
  let fn = 0;
  const windowBest = new Map<string, number>();
  for (const p of points) {
    if (p.window === null) tn++;
    else {
      fn++;
      windowBest.set(p.window, -cost.fnWeight);
    }
  }
  let tp = 0;
  let fp = 0;
  let fpSum = 0;
  let windowSum = -cost.fnWeight * windowBest.size;
  let threshold = 1.1;
  const out: ThresholdScore[] = [];
  for (const p of sorted) {
    if (p.anomalyScore !== threshold) {
      out.push({ threshold, score: fpSum + windowSum, tp, tn, fp, fn });
      threshold = p.anomalyScore;
    }
    if (p.window === null) {
      fp++;
      tn--;
      fpSum += p.sweepScore;
    } else {
      tp++;
      fn--;
      const best = windowBest.get(p.window)!;
      if (p.sweepScore > best) {
        windowSum += p.sweepScore - best;
        windowBest.set(p.window, p.sweepScore);
      }
    }
  }
  out.push({ threshold, score: fpSum + windowSum, tp, tn, fp, fn });
  return out;
}

/**
 * The row of a given threshold (NAB `Sweeper.scoreDataSet`): the exact threshold, or the
 * lowest swept threshold above it.
 */
export function scoreAtThreshold(rows: readonly ThresholdScore[], threshold: number): ThresholdScore {
  let prev: ThresholdScore | undefined;
  for (const row of rows) {
    if (row.threshold === threshold) return row;
    if (row.threshold < threshold) return prev ?? row;
    prev = row;
  }
  return rows[rows.length - 1]!;
}

/** The best threshold over many files' points together (NAB `optimizer.optimizeThreshold`). */
export function optimiseThreshold(points: readonly AnomalyPoint[], cost: CostMatrix): ThresholdScore {
  const rows = scoresByThreshold(points, cost);
  let best = rows[0]!;
  for (const r of rows) if (r.score > best.score) best = r;
  return best;
}

/**
 * NAB's normalised score: 100 × (raw − null) / (perfect − null), where the perfect
 * detector earns `tpWeight` per window (runner.normalize).
 */
export function normalise(raw: number, nullScore: number, windowCount: number, cost: CostMatrix): number {
  const perfect = windowCount * cost.tpWeight;
  return (100 * (raw - nullScore)) / (perfect - nullScore);
}
