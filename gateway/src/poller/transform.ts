/**
 * From a driver's raw value to a reading in engineering units: value = raw × scale +
 * offset; a value outside the point's range is kept but flagged (quality bad), since a
 * transmitter outside its span usually means a broken sensor or wiring (NAMUR NE 43).
 */
import type { PointSpec } from '../core/config/profile.js';
import type { Quality, Value } from '../core/model.js';
import type { RawValue } from '../drivers/driver.js';

export function toEngineering(point: PointSpec, raw: RawValue): { value: Value; quality: Quality } {
  if (typeof raw !== 'number') return { value: raw, quality: 'good' };
  if (!Number.isFinite(raw)) return { value: raw, quality: 'bad' };
  const value = point.scale === 1 && point.offset === 0 ? raw : scaled(raw, point.scale, point.offset, decimalOf(point.scale, point.offset));
  const [lo, hi] = point.range ?? [-Infinity, Infinity];
  return { value, quality: value < lo! || value > hi! ? 'bad' : 'good' };
}

/** Largest integer numerator for the decimal form: 15 significant digits, as toPrecision(15) keeps. */
const DECIMAL_LIMIT = 1e15;

/** A decimal scale and offset: raw × 10^-k + add × 10^-k, i.e. (raw + add) / div. */
export interface Decimal {
  readonly div: number;
  readonly add: number;
}

/**
 * `scale` as 10^-k (k = 1…15: 0.1, 0.01…) and `offset` a whole number of 10^-k, or
 * undefined. Then raw × scale + offset for an integer raw is exactly the decimal
 * (raw + add) / div, and one correctly rounded division gives its double.
 */
export function decimalOf(scale: number, offset: number): Decimal | undefined {
  for (let k = 1; k <= 15; k++) {
    if (Number(`1e-${k}`) !== scale) continue;
    const div = 10 ** k;
    const add = Math.round(offset * div);
    if (Number(`${add}e-${k}`) !== offset || Math.abs(add) >= DECIMAL_LIMIT) return undefined;
    return { div, add };
  }
  return undefined;
}

/**
 * raw × scale + offset without binary noise: 234 × 0.1 is 23.400000000000002 in floating
 * point. An integer raw with a decimal scale is divided exactly ((raw + add) / div: no
 * noise at all, even where raw × scale and offset nearly cancel); anything else is
 * rounded to 15 significant digits, which keeps everything a float64 source can mean.
 */
export function scaled(raw: number, scale: number, offset: number, decimal: Decimal | undefined): number {
  if (decimal !== undefined && Number.isInteger(raw)) {
    const num = raw + decimal.add;
    if (num < DECIMAL_LIMIT && num > -DECIMAL_LIMIT) return num / decimal.div;
  }
  return Number((raw * scale + offset).toPrecision(15));
}

/** From engineering units back to the raw value a driver writes; integers are rounded. */
export function toRaw(point: PointSpec, value: Value): RawValue {
  if (typeof value !== 'number') return value;
  const raw = (value - point.offset) / point.scale;
  return point.type === 'float32' || point.type === 'float64' ? raw : Math.round(raw);
}
