/**
 * `steward ml eval nab [--data DIR]`: Steward's univariate detector on the NAB subset,
 * side by side with the published Numenta HTM, ARTime and windowed Gaussian scores, all
 * through the same scorer (scripts/ml/nab/sweeper.ts) with NAB's rules.
 */
import { UnivariateDetector } from '../../../gateway/src/ml/detectors/univariate-detector.js';
import { DEFAULT_NAB_DIR, loadCorpus, readDetectorScores, type NabFile } from './corpus.js';
import { scoreCorpus, type CorpusResult } from './evaluate.js';
import type { ProfileName } from './sweeper.js';

export const PUBLISHED_DETECTORS = ['numenta', 'ARTime', 'windowedGaussian'] as const;
const PROFILES: ProfileName[] = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'];

/** Runs the univariate detector over every file, online, with the default options. */
export function runUnivariate(files: readonly NabFile[]): Map<string, number[]> {
  return new Map(
    files.map((f) => {
      const d = new UnivariateDetector();
      return [f.name, f.values.map((v) => d.update(v))];
    }),
  );
}

export interface NabEvaluation {
  readonly detectors: { name: string; results: Record<ProfileName, CorpusResult> }[];
  readonly files: readonly NabFile[];
  readonly detectSeconds: number;
}

export function evaluateNab(dir = DEFAULT_NAB_DIR): NabEvaluation {
  const files = loadCorpus(dir);
  const t0 = performance.now();
  const steward = runUnivariate(files);
  const detectSeconds = (performance.now() - t0) / 1000;
  const all: [string, Map<string, readonly number[]>][] = [
    ['steward-univariate', steward],
    ...PUBLISHED_DETECTORS.map((d): [string, Map<string, readonly number[]>] => [d, new Map(files.map((f) => [f.name, readDetectorScores(dir, d, f.name)]))]),
  ];
  return {
    files,
    detectSeconds,
    detectors: all.map(([name, scores]) => ({
      name,
      results: Object.fromEntries(PROFILES.map((p) => [p, scoreCorpus(files, scores, p)])) as Record<ProfileName, CorpusResult>,
    })),
  };
}

/** The table `steward ml eval nab` prints: normalised scores, then standard-profile per-file scores. */
export function formatNab(e: NabEvaluation): string {
  const lines: string[] = [];
  const names = e.detectors.map((d) => d.name);
  lines.push(`NAB subset: ${e.files.length} files, ${e.files.reduce((n, f) => n + f.windows.length, 0)} windows, ${e.files.reduce((n, f) => n + f.values.length, 0)} rows; one threshold per detector and profile, swept over all files`);
  lines.push('');
  lines.push(['detector'.padEnd(20), 'standard', 'low_FP', 'low_FN', 'threshold(std)'].join('  '));
  for (const d of e.detectors) {
    lines.push(
      [d.name.padEnd(20), ...PROFILES.map((p) => d.results[p].normalised.toFixed(2).padStart(p === 'standard' ? 8 : 6)), d.results.standard.best.threshold.toPrecision(6).padStart(14)].join('  '),
    );
  }
  lines.push('');
  lines.push(`per-file raw standard score (TP/FP rows) at each detector's threshold`);
  lines.push(['file'.padEnd(56), ...names.map((n) => n.padStart(20))].join(' '));
  for (const f of e.files) {
    const cells = e.detectors.map((d) => {
      const row = d.results.standard.files.find((x) => x.name === f.name)!.row;
      return `${row.score.toFixed(3)} (${row.tp}/${row.fp})`.padStart(20);
    });
    lines.push([f.name.padEnd(56), ...cells].join(' '));
  }
  lines.push('');
  lines.push(`steward-univariate ran over ${e.files.reduce((n, f) => n + f.values.length, 0)} rows in ${e.detectSeconds.toFixed(1)} s`);
  return lines.join('\n');
}
