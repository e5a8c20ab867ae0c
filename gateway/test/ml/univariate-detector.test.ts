/**
 * The streaming univariate detector: online (a score per value, in [0, 1], never using
 * later values), quiet on a repeating pattern, loud on a level shift and on a changed
 * shape, and one alert per event rather than a burst. Plus `steward ml score`'s output.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { UnivariateDetector } from '../../src/ml/detectors/univariate-detector.js';
import { scoreCsv } from '../../../scripts/ml/score-csv.js';

/** A daily-like pattern: 96 values a period, with a little deterministic noise. */
function pattern(n: number): number[] {
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.05;
  return Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / 96) + noise());
}
const run = (values: number[]) => {
  const d = new UnivariateDetector();
  return values.map((v) => d.update(v));
};
const maxIn = (s: number[], from: number, to: number) => Math.max(...s.slice(from, to));

t.test('scores are in [0, 1], one per value, and do not depend on later values', async (t) => {
  const v = pattern(2000);
  const full = run(v);
  t.equal(full.length, v.length);
  t.ok(full.every((s) => s >= 0 && s <= 1));
  const prefix = run(v.slice(0, 1200));
  t.same(prefix, full.slice(0, 1200), 'the first 1,200 scores are the same with or without the rest');
});

t.test('a repeating pattern stays below alerting; a level shift is flagged within a few values', async (t) => {
  const v = pattern(2500);
  const quiet = run(v);
  t.ok(maxIn(quiet, 1000, 2500) < 0.99, `quiet pattern max ${maxIn(quiet, 1000, 2500).toFixed(3)}`);
  const shifted = v.map((x, i) => (i >= 2000 ? x + 1.5 : x));
  const s = run(shifted);
  t.ok(maxIn(s, 2000, 2010) >= 0.99, `shift scored ${maxIn(s, 2000, 2010).toFixed(3)}`);
});

t.test('a changed shape (a flattened period) is flagged; the alert is not a burst', async (t) => {
  const v = pattern(2500).map((x, i) => (i >= 2000 && i < 2096 ? 0 : x));
  const s = run(v);
  const firstHigh = s.findIndex((x, i) => i >= 2000 && x >= 0.99);
  t.ok(firstHigh >= 2000 && firstHigh < 2096, `flagged at ${firstHigh}`);
  t.ok(s.slice(firstHigh + 1, firstHigh + 150).every((x) => x < 0.99), 'no second alert inside the refractory period');
});

t.test('steward ml score prints timestamp,anomaly_score for every input row, in order', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-ml-score-'));
  const file = path.join(dir, 'series.csv');
  const v = pattern(400);
  writeFileSync(file, `timestamp,value\n${v.map((x, i) => `2024-01-01 00:${String(i).padStart(4, '0')},${x}`).join('\n')}\n`);
  const lines: string[] = [];
  const rows = await scoreCsv(file, (l) => lines.push(l));
  t.equal(rows, 400);
  t.equal(lines[0], 'timestamp,anomaly_score');
  t.equal(lines.length, 401);
  t.same(lines.slice(1).map((l) => l.split(',')[0]), v.map((_, i) => `2024-01-01 00:${String(i).padStart(4, '0')}`));
  t.same(lines.slice(1).map((l) => Number(l.split(',')[1])), run(v));
});

t.test('precision 32 (the gateway point detectors’) scores as 64 does, within 1e-4, even on a series far from zero', async (t) => {
  const gateway = { historyLength: 250, longLength: 500 } as const;
  const base = pattern(3000).map((x, i) => (i >= 2200 ? x + 1.5 : x)); // with a level shift to flag
  for (const offset of [0, 1e4, 1e7]) {
    const v = base.map((x) => x + offset);
    const d64 = new UnivariateDetector({ ...gateway, precision: 64 });
    const d32 = new UnivariateDetector({ ...gateway, precision: 32 });
    const s64 = v.map((x) => d64.update(x));
    const s32 = v.map((x) => d32.update(x));
    const worst = Math.max(...s64.map((s, i) => Math.abs(s - s32[i]!)));
    t.ok(worst < 1e-4, `offset ${offset}: largest difference ${worst.toExponential(2)}`);
    t.same(s32.map((s) => s >= 0.99), s64.map((s) => s >= 0.99), `offset ${offset}: the same values alert`);
    t.ok(maxIn(s32, 2200, 2210) >= 0.99, `offset ${offset}: the shift is flagged at precision 32`);
  }
});
