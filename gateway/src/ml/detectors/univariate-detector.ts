/**
 * The streaming detector for any single point without a model (issue 7): online, one value
 * at a time, no look-ahead, a score in [0, 1] per value.
 *
 * 1. **Pattern novelty.** The last `window` values plus the means of the last
 *    `contextScales` values (longer context: the time of day, the level of the week) form
 *    a vector; its raw novelty is the distance to its nearest neighbour among the last
 *    `historyLength` vectors, leaving out the `window` most recent ones (they overlap the
 *    current one — the exclusion zone of matrix-profile discords, Yeh et al. 2016), as an
 *    RMS per dimension divided by the range of values seen so far. Like KNN-CAD
 *    (Burnaev & Ishimtsev 2016), without its conformal step.
 * 2. **Likelihood.** The mean novelty of the last `shortLength` values against the mean
 *    and standard deviation of the last `longLength` novelties: score = 1 − Q(z), Numenta's
 *    anomaly likelihood (Ahmad et al., "Unsupervised real-time anomaly detection for
 *    streaming data", Neurocomputing 2017, §4.2).
 * 3. **Effect size and refractory period.** A novelty under `minNovelty` of the range halves
 *    the score (a surprise too small to act on); a score ≥ `trigger` starts a refractory
 *    period of `refractoryLength` values whose scores are halved, so that one event is one
 *    alert rather than a burst.
 *
 * Memory: consecutive patterns overlap in all but one of their `window` values, so the
 * history keeps each value once (one ring of the last `historyLength + window` values,
 * which also gives the context means of the current pattern, with its first `window − 1`
 * slots repeated after the end) and only the context means per pattern — ~10 kB a detector
 * with the gateway's 250 patterns and 500 novelties, not ~31 kB with whole vectors (issue 3: 2,000 watched points), with the same scores to the bit;
 * ~5 kB with `precision: 32` (the gateway's), whose scores differ in the last digits. All
 * of a detector's arrays are views into one ArrayBuffer.
 *
 * The defaults were chosen once, globally, on the NAB subset in `../shared/data/nab`
 * (see docs/ml.md: the same values for every file; they are fitted to those files, so the
 * NAB figures are an optimistic estimate).
 */

export interface UnivariateDetectorOptions {
  /** Values in the local pattern (default 10). */
  readonly window: number;
  /** Lengths, in values, of the longer means appended to the pattern (default 50, 250). */
  readonly contextScales: readonly number[];
  /** Past patterns searched for a neighbour (default 3,000). */
  readonly historyLength: number;
  /** Values averaged into the short-term novelty (default 5). */
  readonly shortLength: number;
  /** Novelties in the long-term distribution (default 2,000). */
  readonly longLength: number;
  /** Minimum novelty, as a fraction of the range seen so far, for a full score (default 0.04). */
  readonly minNovelty: number;
  /** Score that starts a refractory period (default 0.99). */
  readonly trigger: number;
  /** Values in the refractory period (default 200). */
  readonly refractoryLength: number;
  /**
   * Bits per remembered value, context mean and novelty (default 64). 32 halves what a
   * detector keeps (the gateway's 2,000 watched points: ~10 MB less): the values and the
   * context means are kept as float32 differences from the series' first value (so their
   * precision follows how far the series moved, which is what the range normalises by, not
   * its magnitude: a counter at 10⁷ still keeps its small steps), and each novelty is
   * rounded to float32 before it is used. Scores then differ from 64's in the last digits
   * (~1.5e-6 at most in the test, which bounds it at 1e-4 and checks that the same values
   * alert); the NAB figures are for 64.
   */
  readonly precision: 32 | 64;
}

export const UNIVARIATE_DEFAULTS: UnivariateDetectorOptions = Object.freeze({
  window: 10,
  contextScales: Object.freeze([50, 250]),
  historyLength: 3000,
  shortLength: 5,
  longLength: 2000,
  minNovelty: 0.04,
  trigger: 0.99,
  refractoryLength: 200,
  precision: 64,
});

import { gaussianTail } from './gaussian-tail.js';

/** One detector per series; `update` takes the values in time order. */
export class UnivariateDetector {
  readonly options: UnivariateDetectorOptions;
  private readonly dim: number;
  private readonly warmup: number;
  private seen = 0;
  private min = Infinity;
  private max = -Infinity;
  /**
   * The last `span` values — the windows of the remembered patterns and the context of the
   * current one (`span = max(historyLength + window, warmup)`): value `t` at `t % span`, and
   * the first `window − 1` slots again after the last (at `t % span + span`), so that every
   * window is contiguous: `span + window − 1` values, not two copies of the ring. Less `ref`.
   */
  private readonly values: Float64Array | Float32Array;
  private readonly span: number;
  /** The context means of the remembered patterns, a ring of `historyLength × contextScales.length` (of the values less `ref`). */
  private readonly contexts: Float64Array | Float32Array;
  /** Subtracted from the values and context means kept (precision 32: the series' first value; 64: 0). */
  private ref = 0;
  private historyCount = 0;
  private historyNext = 0;
  private readonly novelty: Float64Array | Float32Array;
  private readonly narrow: boolean;
  private noveltyCount = 0;
  private noveltySum = 0;
  private noveltySq = 0;
  private readonly shortRing: Float64Array;
  private shortCount = 0;
  private refractoryLeft = 0;
  private readonly current: Float64Array;

  constructor(options: Partial<UnivariateDetectorOptions> = {}) {
    this.options = { ...UNIVARIATE_DEFAULTS, ...options };
    const o = this.options;
    this.dim = o.window + o.contextScales.length;
    this.warmup = Math.max(o.window, ...o.contextScales);
    this.span = Math.max(o.historyLength + o.window, this.warmup);
    this.narrow = o.precision === 32;
    // Every array of the detector in one ArrayBuffer (float64 parts first, for alignment):
    // one allocation, one backing store for the GC to track, not five (~1 MB less for
    // 2,000 watched points in per-buffer bookkeeping).
    const nValues = this.span + o.window - 1;
    const nContexts = o.historyLength * o.contextScales.length;
    const buf = new ArrayBuffer(8 * (o.shortLength + this.dim) + (this.narrow ? 4 : 8) * (nValues + nContexts + o.longLength));
    this.shortRing = new Float64Array(buf, 0, o.shortLength);
    this.current = new Float64Array(buf, 8 * o.shortLength, this.dim);
    let at = 8 * (o.shortLength + this.dim);
    const part = (n: number): Float64Array | Float32Array => {
      const a = this.narrow ? new Float32Array(buf, at, n) : new Float64Array(buf, at, n);
      at += a.byteLength;
      return a;
    };
    this.values = part(nValues);
    this.contexts = part(nContexts);
    this.novelty = part(o.longLength);
  }

  /** Takes the next value; returns its anomaly score in [0, 1]. Non-finite values score 0 and are skipped. */
  update(value: number): number {
    if (!Number.isFinite(value)) return 0;
    const o = this.options;
    const t = this.seen++;
    if (t === 0 && this.narrow) this.ref = value;
    const at = t % this.span;
    this.values[at] = value - this.ref;
    if (at < o.window - 1) this.values[at + this.span] = this.values[at]!;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (t + 1 < this.warmup) return 0;
    const range = this.max - this.min || 1;
    const e = this.current;
    for (let k = 0; k < o.window; k++) e[k] = this.values[(t - o.window + 1 + k) % this.span]!;
    o.contextScales.forEach((m, i) => {
      let s = 0;
      for (let k = 0; k < m; k++) s += this.values[(t - k) % this.span]!;
      e[o.window + i] = s / m;
    });
    const raw = this.narrow ? Math.fround(this.nearest(e, range, t)) : this.nearest(e, range, t);
    this.remember(e);
    const z = this.pushNovelty(raw);
    if (z === null) return 0;
    let score = 1 - gaussianTail(z);
    if (raw < o.minNovelty) score *= 0.5;
    if (this.refractoryLeft > 0) {
      this.refractoryLeft--;
      score *= 0.5;
    } else if (score >= o.trigger) this.refractoryLeft = o.refractoryLength;
    return Math.min(1, Math.max(0, score));
  }

  /**
   * RMS distance per dimension to the nearest remembered pattern outside the exclusion zone,
   * over the range. `t`: the current value's index; the remembered patterns are those of
   * the `historyCount` values before it, one per value.
   */
  private nearest(e: Float64Array, range: number, t: number): number {
    const o = this.options;
    const searchable = this.historyCount - o.window;
    if (this.historyCount <= 10 || searchable <= 0) return 0;
    let best = Infinity;
    const { dim, span, values, contexts } = this;
    const w = o.window;
    const scales = o.contextScales.length;
    // The oldest `searchable` entries of the ring: skip the `window` newest.
    const start = (this.historyNext - this.historyCount + o.historyLength) % o.historyLength;
    const first = t - this.historyCount; // index of the value of the oldest remembered pattern
    for (let n = 0; n < searchable; n++) {
      // The pattern's window: the `w` values up to its own, contiguous in `values`.
      const base = (first + n - w + 1) % span;
      const ctx = ((start + n) % o.historyLength) * scales;
      let d = 0;
      let k = 0;
      for (; k < w; k++) {
        const dd = values[base + k]! - e[k]!;
        d += dd * dd;
        if (d >= best) break;
      }
      if (k === w) {
        for (let i = 0; i < scales; i++) {
          const dd = contexts[ctx + i]! - e[w + i]!;
          d += dd * dd;
          if (d >= best) break;
        }
      }
      if (d < best) best = d;
    }
    return Math.sqrt(best / dim) / range;
  }

  /** Remembers the current pattern: its window is already in `values`; its context means go in the ring. */
  private remember(e: Float64Array): void {
    const w = this.options.window;
    const scales = this.options.contextScales.length;
    for (let i = 0; i < scales; i++) this.contexts[this.historyNext * scales + i] = e[w + i]!;
    this.historyNext = (this.historyNext + 1) % this.options.historyLength;
    if (this.historyCount < this.options.historyLength) this.historyCount++;
  }

  /** Adds a novelty; returns the z-score of the short mean against the long distribution, or null while too few. */
  private pushNovelty(raw: number): number | null {
    const o = this.options;
    const slot = this.noveltyCount < o.longLength ? this.noveltyCount : this.shortCount % o.longLength;
    if (this.noveltyCount === o.longLength) {
      const old = this.novelty[slot]!;
      this.noveltySum -= old;
      this.noveltySq -= old * old;
    } else this.noveltyCount++;
    this.novelty[slot] = raw;
    this.noveltySum += raw;
    this.noveltySq += raw * raw;
    this.shortRing[this.shortCount % o.shortLength] = raw;
    this.shortCount++;
    if (this.noveltyCount < 50) return null;
    const n = this.noveltyCount;
    const mean = this.noveltySum / n;
    const sd = Math.sqrt(Math.max(this.noveltySq / n - mean * mean, 0)) || 1e-6;
    const k = Math.min(this.shortCount, o.shortLength);
    let s = 0;
    for (let i = 0; i < k; i++) s += this.shortRing[i]!;
    return (s / k - mean) / sd;
  }
}
