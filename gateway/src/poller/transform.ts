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
  // 234 × 0.1 is 23.400000000000002 in binary floating point: 15 significant digits strip
  // that noise and keep everything a float64 source can mean.
  const value = point.scale === 1 && point.offset === 0 ? raw : Number((raw * point.scale + point.offset).toPrecision(15));
  const [lo, hi] = point.range ?? [-Infinity, Infinity];
  return { value, quality: value < lo! || value > hi! ? 'bad' : 'good' };
}

/** From engineering units back to the raw value a driver writes; integers are rounded. */
export function toRaw(point: PointSpec, value: Value): RawValue {
  if (typeof value !== 'number') return value;
  const raw = (value - point.offset) / point.scale;
  return point.type === 'float32' || point.type === 'float64' ? raw : Math.round(raw);
}
