/**
 * The NAB corpus as laid out in `../shared/data/nab/` (numenta/NAB, commit ea702d75):
 * `data/<category>/<file>.csv`, `labels/combined_windows.json`,
 * `results/<detector>/<category>/<detector>_<file>.csv` and the published per-file scores
 * `results/<detector>/<detector>_<profile>_scores.csv`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ProfileName } from './sweeper.js';

/** `../shared/data/nab` beside the checkout. */
export const DEFAULT_NAB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/nab');

/** NAB's timestamps (`2014-04-10 07:15:00[.000000]`) as ms epoch, read as UTC. */
export function parseNabTime(s: string): number {
  const ms = Date.parse(`${s.trim().slice(0, 19).replace(' ', 'T')}Z`);
  if (Number.isNaN(ms)) throw new Error(`not a NAB timestamp: "${s}"`);
  return ms;
}

/** A two-column CSV with a header: the first column as times, the second as numbers. */
export function readSeries(file: string): { timestamps: number[]; raw: string[]; values: number[] } {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const timestamps: number[] = [];
  const raw: string[] = [];
  const values: number[] = [];
  for (const line of lines.slice(1)) {
    const comma = line.indexOf(',');
    const ts = line.slice(0, comma);
    raw.push(ts);
    timestamps.push(parseNabTime(ts));
    values.push(Number(line.slice(comma + 1).split(',')[0]));
  }
  return { timestamps, raw, values };
}

export interface NabFile {
  /** `category/file.csv`, NAB's key. */
  readonly name: string;
  readonly timestamps: number[];
  readonly rawTimestamps: string[];
  readonly values: number[];
  readonly windows: [number, number][];
}

/** Every data file of the corpus with its windows, in name order. */
export function loadCorpus(dir = DEFAULT_NAB_DIR): NabFile[] {
  if (!existsSync(dir)) throw new Error(`NAB data not found at ${dir}: put the NAB subset there (see ../shared/data/README.md) or pass --data DIR`);
  const windows = JSON.parse(readFileSync(path.join(dir, 'labels/combined_windows.json'), 'utf8')) as Record<string, [string, string][]>;
  const files: NabFile[] = [];
  for (const category of readdirSync(path.join(dir, 'data')).sort()) {
    for (const f of readdirSync(path.join(dir, 'data', category)).filter((x) => x.endsWith('.csv')).sort()) {
      const name = `${category}/${f}`;
      const s = readSeries(path.join(dir, 'data', category, f));
      const w = windows[name];
      if (w === undefined) throw new Error(`${name} has no entry in labels/combined_windows.json`);
      files.push({ name, timestamps: s.timestamps, rawTimestamps: s.raw, values: s.values, windows: w.map(([a, b]) => [parseNabTime(a), parseNabTime(b)]) });
    }
  }
  return files;
}

/** A published detector's anomaly scores for one file, row for row. */
export function readDetectorScores(dir: string, detector: string, name: string): number[] {
  const [category, file] = name.split('/') as [string, string];
  return readSeries(path.join(dir, 'results', detector, category, `${detector}_${file}`)).values;
}

export interface PublishedFileScore {
  readonly file: string;
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

/** `results/<detector>/<detector>_<profile>_scores.csv`, without a Totals row. */
export function readPublishedScores(dir: string, detector: string, profile: ProfileName): PublishedFileScore[] {
  const lines = readFileSync(path.join(dir, 'results', detector, `${detector}_${profile}_scores.csv`), 'utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  return lines
    .slice(1)
    .map((l) => l.split(','))
    .filter((c) => c[2] !== undefined && c[2].endsWith('.csv'))
    .map((c) => ({ file: c[2]!, threshold: Number(c[3]), score: Number(c[4]), tp: Number(c[5]), tn: Number(c[6]), fp: Number(c[7]), fn: Number(c[8]) }));
}

/** The optimised thresholds NAB published for each detector and profile (`config/thresholds.json`). */
export function readPublishedThresholds(dir: string): Record<string, Record<ProfileName, { threshold: number }>> {
  return JSON.parse(readFileSync(path.join(dir, 'config/thresholds.json'), 'utf8')) as Record<string, Record<ProfileName, { threshold: number }>>;
}
