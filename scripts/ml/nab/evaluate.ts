/**
 * Scores detectors on the NAB corpus the way NAB's runner does: one threshold per
 * detector and profile, swept over all files together, then normalised against the null
 * detector (a constant 0.5, scored by the same rules) and the perfect one.
 */
import { NAB_PROFILES, normalise, optimiseThreshold, scoreAtThreshold, scoresByThreshold, sweepScores, type AnomalyPoint, type ProfileName, type ThresholdScore } from './sweeper.js';
import type { NabFile } from './corpus.js';

export interface CorpusResult {
  readonly profile: ProfileName;
  readonly best: ThresholdScore;
  readonly normalised: number;
  /** Per-file rows at the chosen threshold. */
  readonly files: { name: string; row: ThresholdScore }[];
}

/** Scores one detector's per-file anomaly scores under one profile. */
export function scoreCorpus(files: readonly NabFile[], scores: ReadonlyMap<string, readonly number[]>, profile: ProfileName): CorpusResult {
  const cost = NAB_PROFILES[profile];
  const perFile = files.map((f) => {
    const s = scores.get(f.name);
    if (s === undefined) throw new Error(`no anomaly scores for ${f.name}`);
    return { name: f.name, points: sweepScores(f.timestamps, s, f.windows, f.name, cost) };
  });
  const all: AnomalyPoint[] = perFile.flatMap((p) => p.points);
  const best = optimiseThreshold(all, cost);
  const nullScores = new Map(files.map((f) => [f.name, f.values.map(() => 0.5)]));
  const nullBest = optimiseThreshold(files.flatMap((f) => sweepScores(f.timestamps, nullScores.get(f.name)!, f.windows, f.name, cost)), cost);
  const windowCount = files.reduce((n, f) => n + f.windows.length, 0);
  return {
    profile,
    best,
    normalised: normalise(best.score, nullBest.score, windowCount, cost),
    files: perFile.map((p) => ({ name: p.name, row: scoreAtThreshold(scoresByThreshold(p.points, cost), best.threshold) })),
  };
}
