/**
 * `steward ml score --model univariate --csv FILE`: scores a `timestamp,value` CSV online,
 * row by row in order, and prints `timestamp,anomaly_score` (a header, then one row per
 * input row, the score in [0, 1]).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UnivariateDetector } from '../../gateway/src/ml/detectors/univariate-detector.js';

/** Streams `file` through the detector, writing each scored row to `write` as it comes. */
export async function scoreCsv(file: string, write: (line: string) => void): Promise<number> {
  const detector = new UnivariateDetector();
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let first = true;
  let rows = 0;
  write('timestamp,anomaly_score');
  for await (const line of lines) {
    if (line.trim() === '') continue;
    const comma = line.indexOf(',');
    const ts = comma < 0 ? line : line.slice(0, comma);
    const value = Number(comma < 0 ? NaN : line.slice(comma + 1).split(',')[0]);
    if (first) {
      first = false;
      if (!Number.isFinite(value)) continue; // the header
    }
    write(`${ts},${detector.update(value)}`);
    rows++;
  }
  return rows;
}
