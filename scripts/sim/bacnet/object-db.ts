/**
 * The objects of a simulated BACnet device, built from a device profile: one object per
 * (type, instance) its points name, plus the Device object (ASHRAE 135 §12.11). Each has
 * the properties a client expects of its type — object-identifier, object-name,
 * object-type, present-value, status-flags, event-state, out-of-service, units and
 * cov-increment for analogs, number-of-states/state-text for multi-states, and for
 * commandable objects a priority-array with relinquish-default (§19.2).
 */
import type { DeviceProfile, PointSpec } from '../../../gateway/src/core/config/profile.js';

/** Application tags (§20.2.1.4) the simulator encodes. */
export const TAG = { NULL: 0, BOOLEAN: 1, UNSIGNED: 2, SIGNED: 3, REAL: 4, DOUBLE: 5, CHARACTER_STRING: 7, BIT_STRING: 8, ENUMERATED: 9, OBJECT_ID: 12 } as const;

export interface AppData {
  type: number;
  value: unknown;
}

/** §21 BACnetObjectType, as profiles name them. */
export const OBJECT_TYPE: Readonly<Record<string, number>> = {
  'analog-input': 0,
  'analog-output': 1,
  'analog-value': 2,
  'binary-input': 3,
  'binary-output': 4,
  'binary-value': 5,
  device: 8,
  'multi-state-input': 13,
  'multi-state-output': 14,
  'multi-state-value': 19,
  'integer-value': 45,
  'large-analog-value': 46,
  'positive-integer-value': 48,
  'characterstring-value': 40,
};

export const PROP = {
  ALL: 8,
  COV_INCREMENT: 22,
  DESCRIPTION: 28,
  EVENT_STATE: 36,
  MAX_APDU: 62,
  MAX_PRES_VALUE: 65,
  MIN_PRES_VALUE: 69,
  MODEL_NAME: 70,
  NUMBER_OF_STATES: 74,
  OBJECT_IDENTIFIER: 75,
  OBJECT_LIST: 76,
  OBJECT_NAME: 77,
  OBJECT_TYPE: 79,
  OUT_OF_SERVICE: 81,
  PRESENT_VALUE: 85,
  PRIORITY_ARRAY: 87,
  PROTOCOL_VERSION: 98,
  PROTOCOL_REVISION: 139,
  RELINQUISH_DEFAULT: 104,
  SEGMENTATION_SUPPORTED: 107,
  STATE_TEXT: 110,
  STATUS_FLAGS: 111,
  SYSTEM_STATUS: 112,
  UNITS: 117,
  VENDOR_IDENTIFIER: 120,
  VENDOR_NAME: 121,
  FIRMWARE_REVISION: 44,
  APPLICATION_SOFTWARE_VERSION: 12,
  DATABASE_REVISION: 155,
} as const;

/** §21 BACnetEngineeringUnits for the units profiles use; others are "no-units" (95). */
const UNITS: Readonly<Record<string, number>> = { '°C': 62, '%': 98, '%RH': 29, Pa: 53, kPa: 54, ppm: 96, A: 3, kW: 48, h: 71, Hz: 27, bar: 55, 'm3/h': 135, V: 5, kWh: 19 };

export type Family = 'analog' | 'binary' | 'multi-state' | 'integer' | 'unsigned' | 'double' | 'string' | 'device';

export function familyOf(type: string): Family {
  if (type === 'device') return 'device';
  if (type.startsWith('analog-')) return 'analog';
  if (type.startsWith('binary-')) return 'binary';
  if (type.startsWith('multi-state-')) return 'multi-state';
  if (type === 'integer-value') return 'integer';
  if (type === 'positive-integer-value') return 'unsigned';
  if (type === 'large-analog-value') return 'double';
  return 'string';
}

/** Present-value of a family as application data (binary: BACnetBinaryPV enumeration, §21). */
export function encodeValue(family: Family, value: number | boolean | string): AppData {
  switch (family) {
    case 'binary':
      return { type: TAG.ENUMERATED, value: value === true || value === 1 ? 1 : 0 };
    case 'multi-state':
    case 'unsigned':
      return { type: TAG.UNSIGNED, value: Math.max(0, Math.round(Number(value))) };
    case 'integer':
      return { type: TAG.SIGNED, value: Math.round(Number(value)) };
    case 'double':
      return { type: TAG.DOUBLE, value: Number(value) };
    case 'string':
      return { type: TAG.CHARACTER_STRING, value: String(value) };
    default:
      return { type: TAG.REAL, value: Number(value) };
  }
}

/** The application tag a written present-value must carry. */
export function expectedTag(family: Family): number {
  return encodeValue(family, 0).type;
}

export interface SimObject {
  readonly type: number;
  readonly typeName: string;
  readonly instance: number;
  readonly family: Family;
  readonly name: string;
  /** Present-value as the model and clients see it (binary: boolean). */
  value: number | boolean | string;
  /** §19.2: 16 slots, null = relinquished; undefined for objects that are not commandable. */
  readonly priorityArray?: (number | boolean | string | null)[];
  relinquishDefault?: number | boolean | string;
  readonly covIncrement?: number;
  readonly props: Map<number, AppData[]>;
  readonly points: readonly PointSpec[];
}

const COMMANDABLE_TYPES = new Set(['analog-output', 'binary-output', 'multi-state-output']);

export const key = (type: number, instance: number) => `${type}:${instance}`;

/** Builds the objects of `profile` with their static properties. */
export function buildObjects(
  profile: DeviceProfile,
  deviceInstance: number,
  deviceName: string,
  device: { readonly extraObjects?: number; readonly maxApdu?: number; readonly segmentation?: boolean } = {},
): Map<string, SimObject> {
  const objects = new Map<string, SimObject>();
  for (const point of profile.points) {
    const address = point.address as { object: { type: string; instance: number }; property?: unknown };
    const typeName = address.object.type;
    const type = OBJECT_TYPE[typeName];
    if (type === undefined) continue;
    const k = key(type, address.object.instance);
    const existing = objects.get(k);
    if (existing !== undefined) {
      (existing.points as PointSpec[]).push(point);
      continue;
    }
    const family = familyOf(typeName);
    const range = point.range;
    const initial = family === 'binary' ? false : family === 'multi-state' ? 1 : family === 'string' ? '' : range !== undefined ? range[0]! : 0;
    // Outputs are always commandable (§19.2); writable binary and multi-state values are here
    // too, analog values (setpoints) are not — as in most controllers, which is allowed.
    const commandable = COMMANDABLE_TYPES.has(typeName) || ((family === 'binary' || family === 'multi-state') && typeName.endsWith('-value') && point.access === 'rw');
    const props = new Map<number, AppData[]>();
    props.set(PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type, instance: address.object.instance } }]);
    props.set(PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: point.name }]);
    props.set(PROP.OBJECT_TYPE, [{ type: TAG.ENUMERATED, value: type }]);
    props.set(PROP.DESCRIPTION, [{ type: TAG.CHARACTER_STRING, value: point.description ?? '' }]);
    props.set(PROP.EVENT_STATE, [{ type: TAG.ENUMERATED, value: 0 }]);
    props.set(PROP.OUT_OF_SERVICE, [{ type: TAG.BOOLEAN, value: false }]);
    let covIncrement: number | undefined;
    if (family === 'analog' || family === 'double') {
      props.set(PROP.UNITS, [{ type: TAG.ENUMERATED, value: UNITS[point.unit ?? ''] ?? 95 }]);
      covIncrement = range === undefined ? 0.1 : Math.max(0.01, Math.round(((range[1]! - range[0]!) / 500) * 100) / 100);
      props.set(PROP.COV_INCREMENT, [{ type: TAG.REAL, value: covIncrement }]);
      if (range !== undefined) {
        props.set(PROP.MIN_PRES_VALUE, [{ type: TAG.REAL, value: range[0]! }]);
        props.set(PROP.MAX_PRES_VALUE, [{ type: TAG.REAL, value: range[1]! }]);
      }
    }
    if (family === 'multi-state') {
      const states = point.states === undefined ? ['1'] : Object.keys(point.states);
      const n = Math.max(1, ...states.map(Number).filter(Number.isFinite));
      props.set(PROP.NUMBER_OF_STATES, [{ type: TAG.UNSIGNED, value: n }]);
      props.set(
        PROP.STATE_TEXT,
        Array.from({ length: n }, (_, i) => ({ type: TAG.CHARACTER_STRING, value: point.states?.[String(i + 1)] ?? `state ${i + 1}` })),
      );
    }
    const obj: SimObject = {
      type,
      typeName,
      instance: address.object.instance,
      family,
      name: point.name,
      value: initial,
      ...(commandable ? { priorityArray: new Array<null>(16).fill(null), relinquishDefault: initial } : {}),
      ...(covIncrement === undefined ? {} : { covIncrement }),
      props,
      points: [point],
    };
    objects.set(k, obj);
  }
  // Padding for a large controller: plain analog-values, instances from 100000.
  for (let i = 0; i < (device.extraObjects ?? 0); i++) {
    const instance = 100_000 + i;
    const name = `extra_av_${i}`;
    const props = new Map<number, AppData[]>([
      [PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: 2, instance } }]],
      [PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: name }]],
      [PROP.OBJECT_TYPE, [{ type: TAG.ENUMERATED, value: 2 }]],
      [PROP.EVENT_STATE, [{ type: TAG.ENUMERATED, value: 0 }]],
      [PROP.OUT_OF_SERVICE, [{ type: TAG.BOOLEAN, value: false }]],
      [PROP.UNITS, [{ type: TAG.ENUMERATED, value: 95 }]],
    ]);
    objects.set(key(2, instance), { type: 2, typeName: 'analog-value', instance, family: 'analog', name, value: 0, props, points: [] });
  }
  // §12.11: the Device object.
  const deviceProps = new Map<number, AppData[]>();
  const ids = [{ type: 8, instance: deviceInstance }, ...[...objects.values()].map((o) => ({ type: o.type, instance: o.instance }))];
  deviceProps.set(PROP.OBJECT_IDENTIFIER, [{ type: TAG.OBJECT_ID, value: { type: 8, instance: deviceInstance } }]);
  deviceProps.set(PROP.OBJECT_NAME, [{ type: TAG.CHARACTER_STRING, value: deviceName }]);
  deviceProps.set(PROP.OBJECT_TYPE, [{ type: TAG.ENUMERATED, value: 8 }]);
  deviceProps.set(PROP.SYSTEM_STATUS, [{ type: TAG.ENUMERATED, value: 0 }]);
  deviceProps.set(PROP.VENDOR_NAME, [{ type: TAG.CHARACTER_STRING, value: 'Steward simulator' }]);
  deviceProps.set(PROP.VENDOR_IDENTIFIER, [{ type: TAG.UNSIGNED, value: 999 }]);
  deviceProps.set(PROP.MODEL_NAME, [{ type: TAG.CHARACTER_STRING, value: profile.model ?? profile.id }]);
  deviceProps.set(PROP.FIRMWARE_REVISION, [{ type: TAG.CHARACTER_STRING, value: '1.0' }]);
  deviceProps.set(PROP.APPLICATION_SOFTWARE_VERSION, [{ type: TAG.CHARACTER_STRING, value: profile.id }]);
  deviceProps.set(PROP.PROTOCOL_VERSION, [{ type: TAG.UNSIGNED, value: 1 }]);
  deviceProps.set(PROP.PROTOCOL_REVISION, [{ type: TAG.UNSIGNED, value: 14 }]);
  deviceProps.set(PROP.MAX_APDU, [{ type: TAG.UNSIGNED, value: device.maxApdu ?? 1476 }]);
  // §12.11.17: 1 segmented-transmit, 3 no-segmentation.
  deviceProps.set(PROP.SEGMENTATION_SUPPORTED, [{ type: TAG.ENUMERATED, value: device.segmentation === true ? 1 : 3 }]);
  deviceProps.set(PROP.DESCRIPTION, [{ type: TAG.CHARACTER_STRING, value: profile.name }]);
  deviceProps.set(PROP.OBJECT_LIST, ids.map((value) => ({ type: TAG.OBJECT_ID, value })));
  objects.set(key(8, deviceInstance), { type: 8, typeName: 'device', instance: deviceInstance, family: 'device', name: deviceName, value: 0, props: deviceProps, points: [] });
  return objects;
}

/** status-flags (BACnetStatusFlags, §21: in-alarm, fault, overridden, out-of-service), all clear. */
export const STATUS_FLAGS_CLEAR: AppData = { type: TAG.BIT_STRING, value: { bitsUsed: 4, value: [0] } };

/** The value of `prop` of `obj` now (present-value and priority array are live). */
export function readProp(obj: SimObject, prop: number): AppData[] | undefined {
  if (obj.family !== 'device') {
    if (prop === PROP.PRESENT_VALUE) return [encodeValue(obj.family, obj.value)];
    if (prop === PROP.STATUS_FLAGS) return [STATUS_FLAGS_CLEAR];
    if (prop === PROP.PRIORITY_ARRAY && obj.priorityArray !== undefined) return obj.priorityArray.map((v) => (v === null ? { type: TAG.NULL, value: null } : encodeValue(obj.family, v)));
    if (prop === PROP.RELINQUISH_DEFAULT && obj.relinquishDefault !== undefined) return [encodeValue(obj.family, obj.relinquishDefault)];
  }
  return obj.props.get(prop);
}

/** The properties an RPM of ALL returns (§15.7.3.1.2). */
export function allProps(obj: SimObject): number[] {
  const ids = [...obj.props.keys()];
  if (obj.family !== 'device') {
    ids.push(PROP.PRESENT_VALUE, PROP.STATUS_FLAGS);
    if (obj.priorityArray !== undefined) ids.push(PROP.PRIORITY_ARRAY, PROP.RELINQUISH_DEFAULT);
  }
  return ids;
}

/** §19.2.1: present-value is the highest-priority command, else relinquish-default. */
export function resolveCommand(obj: SimObject): void {
  if (obj.priorityArray === undefined) return;
  const top = obj.priorityArray.find((v) => v !== null);
  obj.value = top ?? obj.relinquishDefault ?? obj.value;
}
