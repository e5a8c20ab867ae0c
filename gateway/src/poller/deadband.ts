/**
 * Report by exception: decides whether a reading is worth storing and publishing. A
 * value inside the point's deadband around the last stored value is dropped, unless its
 * quality changed or the point has been silent for `maxSilenceMs`. Points without a
 * deadband pass every reading.
 */
import type { PointSpec } from '../core/config/profile.js';
import type { Reading } from '../core/model.js';

/** Default of a point's `maxSilenceMs`. */
export const DEFAULT_MAX_SILENCE_MS = 300_000;

interface Stored {
  readonly value: Reading['value'];
  readonly quality: Reading['quality'];
  readonly ts: number;
}

/** The absolute deadband of a point around `last`, or undefined when it has none. */
export function deadbandOf(point: PointSpec, last: number): number | undefined {
  if (point.deadband !== undefined) return point.deadband;
  if (point.deadbandPercent === undefined) return undefined;
  const span = point.range === undefined ? Math.abs(last) : Math.abs(point.range[1]! - point.range[0]!);
  return (point.deadbandPercent / 100) * span;
}

export class DeadbandFilter {
  private readonly last = new Map<string, Stored>();

  /** True when `reading` of `point` should be stored; remembers it if so. */
  pass(point: PointSpec, reading: Reading): boolean {
    const prev = this.last.get(reading.point);
    const keep = prev === undefined || this.changed(point, prev, reading);
    if (keep) this.last.set(reading.point, { value: reading.value, quality: reading.quality, ts: reading.ts });
    return keep;
  }

  private changed(point: PointSpec, prev: Stored, r: Reading): boolean {
    if (point.deadband === undefined && point.deadbandPercent === undefined) return true;
    if (prev.quality !== r.quality) return true;
    if (r.ts - prev.ts >= (point.maxSilenceMs ?? DEFAULT_MAX_SILENCE_MS)) return true;
    if (typeof r.value !== 'number' || typeof prev.value !== 'number') return r.value !== prev.value;
    const band = deadbandOf(point, prev.value);
    if (band === undefined) return true;
    return Math.abs(r.value - prev.value) > band;
  }
}
