/**
 * From model outputs to events, per device: debounced so that one episode is one event.
 *
 * - Anomaly: the window's score (mean squared reconstruction error over inputs) above the
 *   manifest's `anomaly` threshold for `consecutive` windows raises one event; the decider
 *   re-arms after as many windows below it. Contributing points: the inputs with the
 *   largest share of the error.
 * - Failure: the predicted health index (bearing wear, 0…1) at or above the `wear`
 *   threshold for `consecutive` windows raises one `failure.predicted`; the horizon is the
 *   time for the index to reach 1 at its recent slope (least squares over the last hour of
 *   predictions), bounded by `horizonHours`; confidence grows with the index.
 */
import type { ModelManifest } from './manifest.js';

export interface AnomalyDecision {
  readonly score: number;
  readonly threshold: number;
  readonly contributing: { point: string; share: number }[];
}

export class AnomalyDecider {
  private above = 0;
  private below = 0;
  private raised = false;
  readonly threshold: number;
  private readonly consecutive: number;

  constructor(private readonly manifest: ModelManifest) {
    this.threshold = manifest.thresholds.anomaly ?? Infinity;
    this.consecutive = Math.max(1, manifest.thresholds.consecutive ?? 1);
  }

  /** `perInput`: the window's mean squared error per input. Returns a decision when an event is due. */
  update(perInput: readonly number[], _ts: number): AnomalyDecision | null {
    const score = perInput.reduce((a, b) => a + b, 0) / perInput.length;
    if (score > this.threshold) {
      this.above++;
      this.below = 0;
    } else {
      this.below++;
      this.above = 0;
      if (this.below >= this.consecutive) this.raised = false;
    }
    if (this.raised || this.above < this.consecutive) return null;
    this.raised = true;
    const total = perInput.reduce((a, b) => a + b, 0) || 1;
    const contributing = perInput
      .map((e, i) => ({ point: this.manifest.inputs[i]!, share: Math.round((e / total) * 1000) / 1000 }))
      .sort((a, b) => b.share - a.share)
      .slice(0, 3);
    return { score, threshold: this.threshold, contributing };
  }
}

export interface FailureDecision {
  readonly healthIndex: number;
  readonly horizonHours: number;
  readonly confidence: number;
}

export class FailureDecider {
  private readonly history: { ts: number; v: number }[] = [];
  private above = 0;
  private raised = false;
  private readonly threshold: number;
  private readonly consecutive: number;
  private readonly maxHorizonH: number;

  constructor(manifest: ModelManifest) {
    this.threshold = manifest.thresholds.wear ?? 0.5;
    this.consecutive = Math.max(1, manifest.thresholds.consecutive ?? 1);
    this.maxHorizonH = manifest.thresholds.horizonHours ?? 48;
  }

  update(healthIndex: number, ts: number): FailureDecision | null {
    this.history.push({ ts, v: healthIndex });
    while (this.history.length > 0 && this.history[0]!.ts < ts - 3_600_000) this.history.shift();
    if (healthIndex >= this.threshold) this.above++;
    else {
      this.above = 0;
      if (healthIndex < this.threshold / 2) this.raised = false; // repaired: re-arm
    }
    if (this.raised || this.above < this.consecutive) return null;
    this.raised = true;
    return { healthIndex, horizonHours: this.horizon(healthIndex), confidence: Math.round(Math.min(1, Math.max(0, (healthIndex - this.threshold / 2) / (1 - this.threshold / 2))) * 100) / 100 };
  }

  /** Hours to reach 1 at the least-squares slope of the last hour; `maxHorizonH` when flat. */
  private horizon(now: number): number {
    const h = this.history;
    if (h.length < 2) return this.maxHorizonH;
    const t0 = h[0]!.ts;
    const xs = h.map((p) => (p.ts - t0) / 3_600_000);
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
    const my = h.reduce((a, p) => a + p.v, 0) / h.length;
    let num = 0;
    let den = 0;
    xs.forEach((x, i) => ((num += (x - mx) * (h[i]!.v - my)), (den += (x - mx) ** 2)));
    const slope = den > 0 ? num / den : 0;
    if (slope <= 0) return this.maxHorizonH;
    return Math.round(Math.min(this.maxHorizonH, (1 - now) / slope) * 100) / 100;
  }
}
