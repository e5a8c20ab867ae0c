/**
 * BACnet's names for object types and properties, as profiles write them (kebab-case,
 * the identifiers of ASHRAE 135 clause 21, e.g. `analog-input`, `present-value`), and the
 * numbers on the wire. Kept free of the protocol stack so that validating a profile loads
 * no BACnet library (schemas.ts).
 */

/** BACnetObjectType (ASHRAE 135 §21): the types a profile may name. */
export const OBJECT_TYPES = {
  'analog-input': 0,
  'analog-output': 1,
  'analog-value': 2,
  'binary-input': 3,
  'binary-output': 4,
  'binary-value': 5,
  calendar: 6,
  command: 7,
  device: 8,
  'event-enrollment': 9,
  file: 10,
  group: 11,
  loop: 12,
  'multi-state-input': 13,
  'multi-state-output': 14,
  'notification-class': 15,
  program: 16,
  schedule: 17,
  averaging: 18,
  'multi-state-value': 19,
  'trend-log': 20,
  accumulator: 23,
  'pulse-converter': 24,
  'characterstring-value': 40,
  'integer-value': 45,
  'large-analog-value': 46,
  'positive-integer-value': 48,
} as const;
export type ObjectTypeName = keyof typeof OBJECT_TYPES;
export const OBJECT_TYPE_NAMES = Object.keys(OBJECT_TYPES) as ObjectTypeName[];

/** BACnetPropertyIdentifier (ASHRAE 135 §21): the common ones by name; others by number. */
export const PROPERTIES = {
  'active-text': 4,
  'cov-increment': 22,
  deadband: 25,
  description: 28,
  'event-state': 36,
  'high-limit': 45,
  'inactive-text': 46,
  'low-limit': 59,
  'max-pres-value': 65,
  'min-pres-value': 69,
  'model-name': 70,
  'number-of-states': 74,
  'object-identifier': 75,
  'object-list': 76,
  'object-name': 77,
  'object-type': 79,
  'out-of-service': 81,
  polarity: 84,
  'present-value': 85,
  'priority-array': 87,
  reliability: 103,
  'relinquish-default': 104,
  'state-text': 110,
  'status-flags': 111,
  'system-status': 112,
  units: 117,
  'vendor-identifier': 120,
  'vendor-name': 121,
  'feedback-value': 40,
  'elapsed-active-time': 33,
  'change-of-state-count': 15,
  setpoint: 108,
  'controlled-variable-value': 21,
  'firmware-revision': 44,
  'application-software-version': 12,
} as const;
export type PropertyName = keyof typeof PROPERTIES;
export const PROPERTY_NAMES = Object.keys(PROPERTIES) as PropertyName[];

/** ASHRAE 135 §12: the 22-bit instance number; 4194303 means "uninitialised / any" and is no object's. */
export const MAX_INSTANCE = 4_194_302;

const TYPE_BY_NUMBER = new Map<number, string>(Object.entries(OBJECT_TYPES).map(([k, v]) => [v, k]));
const PROPERTY_BY_NUMBER = new Map<number, string>(Object.entries(PROPERTIES).map(([k, v]) => [v, k]));

/** `analog-input` for 0; `object-type-123` for a type this table does not name. */
export function objectTypeName(type: number): string {
  return TYPE_BY_NUMBER.get(type) ?? `object-type-${type}`;
}

/** `present-value` for 85; `property-123` for one this table does not name. */
export function propertyName(id: number): string {
  return PROPERTY_BY_NUMBER.get(id) ?? `property-${id}`;
}

/** The property number of a profile's `property` (a name or a number). */
export function propertyId(property: PropertyName | number): number {
  return typeof property === 'number' ? property : PROPERTIES[property];
}

/** Objects with a priority array whose present-value is commanded (§19.2: outputs always, values optionally). */
export const COMMANDABLE: ReadonlySet<ObjectTypeName> = new Set([
  'analog-output',
  'binary-output',
  'multi-state-output',
  'analog-value',
  'binary-value',
  'multi-state-value',
  'integer-value',
  'positive-integer-value',
  'large-analog-value',
  'characterstring-value',
]);

/** Object types whose present-value is read-only unless out-of-service (§12.2.4, §12.6.4, §12.18.4). */
export const INPUTS: ReadonlySet<ObjectTypeName> = new Set(['analog-input', 'binary-input', 'multi-state-input', 'accumulator', 'pulse-converter', 'averaging']);

/** `analog-input:1` — how logs and errors name an object. */
export function objectLabel(type: number, instance: number): string {
  return `${objectTypeName(type)}:${instance}`;
}
