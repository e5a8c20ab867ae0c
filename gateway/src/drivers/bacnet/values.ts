/**
 * BACnet application-tagged values (ASHRAE 135 §20.2) ⇄ the raw values of the driver
 * contract: REAL/DOUBLE/UNSIGNED/SIGNED/ENUMERATED → number, BOOLEAN → boolean,
 * CHARACTER STRING → string; the present-value of a binary object (BACnetBinaryPV,
 * §21: inactive 0, active 1) → boolean.
 */
import type { PointSpec } from '../../core/config/profile.js';
import { GatewayError } from '../../core/errors.js';
import type { RawValue } from '../driver.js';
import { objectLabel, propertyName, type ObjectTypeName } from './names.js';

/** The part of the library's BACNetAppData we read. */
export interface AppValue {
  readonly type: number;
  readonly value: unknown;
}

/** Application tags (§20.2.1.4). */
export const TAG = { NULL: 0, BOOLEAN: 1, UNSIGNED: 2, SIGNED: 3, REAL: 4, DOUBLE: 5, OCTET_STRING: 6, CHARACTER_STRING: 7, BIT_STRING: 8, ENUMERATED: 9, DATE: 10, TIME: 11, OBJECT_ID: 12 } as const;

const PRESENT_VALUE = 85;
const RELINQUISH_DEFAULT = 104;

/** True for the properties of a binary object that hold a BACnetBinaryPV. */
function isBinaryPv(objectType: ObjectTypeName, property: number): boolean {
  return objectType.startsWith('binary-') && (property === PRESENT_VALUE || property === RELINQUISH_DEFAULT);
}

/** One decoded value, or why it is not one. */
export function toRaw(values: readonly AppValue[], objectType: ObjectTypeName, objectNumber: number, instance: number, property: number): RawValue | Error {
  const where = `${objectLabel(objectNumber, instance)} ${propertyName(property)}`;
  if (values.length !== 1) {
    return new GatewayError('GW_ERR_DECODE', `${where} holds ${values.length} values; a point reads one (set arrayIndex for an element of an array)`);
  }
  const v = values[0]!;
  switch (v.type) {
    case TAG.BOOLEAN:
      return v.value === true;
    case TAG.ENUMERATED:
      if (isBinaryPv(objectType, property)) return v.value === 1;
      return Number(v.value);
    case TAG.UNSIGNED:
    case TAG.SIGNED:
    case TAG.REAL:
    case TAG.DOUBLE: {
      const n = Number(v.value);
      // An IEEE 754 NaN/∞ REAL is how devices say "no valid measurement".
      return Number.isFinite(n) ? n : new GatewayError('GW_ERR_DECODE', `${where}: the device sent ${n} (no valid measurement)`);
    }
    case TAG.CHARACTER_STRING:
      return String(v.value);
    case TAG.BIT_STRING: {
      // status-flags and the like: bit 0 first, as an unsigned number.
      const bits = v.value as { bitsUsed?: number; value?: number[] };
      let n = 0;
      (bits.value ?? []).forEach((byte, i) => (n += byte * 2 ** (8 * i)));
      return n;
    }
    case TAG.NULL:
      return new GatewayError('GW_ERR_DECODE', `${where} is NULL (no value)`);
    default:
      return new GatewayError('GW_ERR_DECODE', `${where} has application tag ${v.type}, which a point cannot hold`);
  }
}

/** The application-tagged value a write sends for `value` (`null` = NULL, a relinquish, §19.2.1.3). */
export function fromRaw(point: PointSpec, objectType: ObjectTypeName, property: number, value: RawValue | null): AppValue {
  if (value === null) return { type: TAG.NULL, value: null };
  const refuse = (expected: string) =>
    new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name}: ${JSON.stringify(value)} is not ${expected}`, { details: { point: point.name } });
  if (property === PRESENT_VALUE || property === RELINQUISH_DEFAULT) {
    if (objectType.startsWith('binary-')) {
      if (typeof value === 'boolean') return { type: TAG.ENUMERATED, value: value ? 1 : 0 };
      if (value === 0 || value === 1) return { type: TAG.ENUMERATED, value };
      throw refuse('a binary value (true/false)');
    }
    if (objectType === 'characterstring-value') return { type: TAG.CHARACTER_STRING, value: String(value) };
    if (typeof value !== 'number' || !Number.isFinite(value)) throw refuse('a number');
    if (objectType.startsWith('multi-state-')) {
      // §12.18.4: states are numbered from 1.
      if (!Number.isInteger(value) || value < 1) throw refuse('a state number ≥ 1');
      return { type: TAG.UNSIGNED, value };
    }
    if (objectType === 'integer-value') {
      if (!Number.isInteger(value)) throw refuse('an integer');
      return { type: TAG.SIGNED, value };
    }
    if (objectType === 'positive-integer-value') {
      if (!Number.isInteger(value) || value < 0) throw refuse('an unsigned integer');
      return { type: TAG.UNSIGNED, value };
    }
    if (objectType === 'large-analog-value') return { type: TAG.DOUBLE, value };
    return { type: TAG.REAL, value };
  }
  // Other properties: by the point's data type.
  switch (point.type) {
    case 'bool':
      if (typeof value !== 'boolean') throw refuse('true or false');
      return { type: TAG.BOOLEAN, value };
    case 'string':
      return { type: TAG.CHARACTER_STRING, value: String(value) };
    case 'float32':
      if (typeof value !== 'number') throw refuse('a number');
      return { type: TAG.REAL, value };
    case 'float64':
      if (typeof value !== 'number') throw refuse('a number');
      return { type: TAG.DOUBLE, value };
    case 'int16':
    case 'int32':
    case 'int64':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw refuse('an integer');
      return { type: TAG.SIGNED, value };
    default:
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw refuse('an unsigned integer');
      return { type: TAG.UNSIGNED, value };
  }
}
