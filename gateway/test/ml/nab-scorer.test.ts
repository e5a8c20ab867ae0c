/**
 * NAB's scoring rules in TypeScript reproduce NAB's own published figures: every per-file
 * score (and TP/TN/FP/FN count) of Numenta HTM, ARTime and windowed Gaussian at their
 * published thresholds, and the normalised scores of the 18-file subset with one threshold
 * swept over it (../shared/data/README.md). Skipped when the data is not beside the checkout.
 */
import { existsSync } from 'node:fs';
import t from 'tap';
import { DEFAULT_NAB_DIR, loadCorpus, readDetectorScores, readPublishedScores, readPublishedThresholds } from '../../../scripts/ml/nab/corpus.js';
import { scoreCorpus } from '../../../scripts/ml/nab/evaluate.js';
import { NAB_PROFILES, probationaryLength, scaledSigmoid, scoreAtThreshold, scoresByThreshold, sweepScores, type ProfileName } from '../../../scripts/ml/nab/sweeper.js';

t.test('the scaled sigmoid and the probationary period follow NAB', async (t) => {
  t.ok(Math.abs(scaledSigmoid(-1) - 0.9866) < 1e-4, 'earliest in a window: ~0.987');
  t.equal(scaledSigmoid(0), 0, 'the window end scores 0');
  t.equal(scaledSigmoid(3.5), -1, 'far after a window: −1');
  t.equal(probationaryLength(4032), 604);
  t.equal(probationaryLength(22695), 750, 'capped at 15 % of 5,000 rows');
});

t.test('a detection early in a window beats a late one; a missed window costs fnWeight', async (t) => {
  const ts = Array.from({ length: 100 }, (_, i) => i * 60_000);
  const windows: [number, number][] = [[ts[60]!, ts[79]!]];
  const at = (i: number) => ts.map((_, k) => (k === i ? 1 : 0));
  const score = (s: number[]) => scoreAtThreshold(scoresByThreshold(sweepScores(ts, s, windows, 'f', NAB_PROFILES.standard), NAB_PROFILES.standard), 0.5);
  t.ok(score(at(60)).score > score(at(75)).score);
  t.equal(score(at(60)).tp, 1);
  t.equal(score(ts.map(() => 0)).score, -1);
  t.ok(score(at(30)).score < -1, 'a false positive before the window adds its cost to the miss');
});

const haveData = existsSync(DEFAULT_NAB_DIR);

t.test('per-file scores of the published detectors at their published thresholds', { skip: haveData ? false : `no NAB data at ${DEFAULT_NAB_DIR}` }, async (t) => {
  const files = loadCorpus();
  const thresholds = readPublishedThresholds(DEFAULT_NAB_DIR);
  for (const detector of ['numenta', 'ARTime', 'windowedGaussian']) {
    for (const profile of Object.keys(NAB_PROFILES) as ProfileName[]) {
      const cost = NAB_PROFILES[profile];
      let worst = 0;
      let countsOff = 0;
      for (const p of readPublishedScores(DEFAULT_NAB_DIR, detector, profile)) {
        const f = files.find((x) => x.name === p.file)!;
        const row = scoreAtThreshold(scoresByThreshold(sweepScores(f.timestamps, readDetectorScores(DEFAULT_NAB_DIR, detector, f.name), f.windows, f.name, cost), cost), thresholds[detector]![profile].threshold);
        worst = Math.max(worst, Math.abs(row.score - p.score));
        if (row.tp !== p.tp || row.fp !== p.fp || row.fn !== p.fn || row.tn !== p.tn) countsOff++;
      }
      t.ok(worst < 1e-6, `${detector} ${profile}: largest per-file difference ${worst.toExponential(1)}`);
      t.equal(countsOff, 0, `${detector} ${profile}: TP/TN/FP/FN as published`);
    }
  }
});

t.test('normalised scores of the subset, one threshold swept over all files', { skip: haveData ? false : 'no NAB data' }, async (t) => {
  const files = loadCorpus();
  // ../shared/data/README.md: ARTime 67.1 / 58.1 / 72.7, HTM 61.3 / 54.3 / 66.2, windowed Gaussian 12.1 / 4.8 / 16.0.
  const expected: Record<string, [number, number, number]> = { ARTime: [67.1, 58.1, 72.7], numenta: [61.3, 54.3, 66.2], windowedGaussian: [12.1, 4.8, 16.0] };
  for (const [detector, want] of Object.entries(expected)) {
    const scores = new Map(files.map((f) => [f.name, readDetectorScores(DEFAULT_NAB_DIR, detector, f.name)]));
    const got = (['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const).map((p) => Math.round(scoreCorpus(files, scores, p).normalised * 10) / 10);
    t.same(got, want, detector);
  }
});
