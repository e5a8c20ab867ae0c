/**
 * The device-profile schema: a reusable *type* of device — its protocol, its points and
 * where they live, default alarm rules and the ML models that apply. The keys of
 * DESIGN.md's "Configuration formats" are a contract: add keys, never rename them.
 *
 * The `address` of a point (and the per-protocol block such as `modbus:`) is owned by the
 * protocol's driver, which hands its schema in (CONVENTIONS §5): this file only knows
 * that there is one.
 */
import { Type, type Static } from 'typebox';
// Alarm rules (point rules and event rules) live beside the site's alarm settings.
import { AlarmRule, EventAlarmRule } from './alarms.js';

export const PROFILE_ID_PATTERN = '^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*)+$';
export const POINT_NAME_PATTERN = '^[a-z0-9_]+$';

export const Protocol = Type.Enum(['modbus', 'bacnet', 'onvif']);
export type Protocol = Static<typeof Protocol>;

export const DataType = Type.Enum(['bool', 'int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64', 'string', 'bits']);
export type DataType = Static<typeof DataType>;

export const Order = Type.Enum(['big', 'little']);
export type Order = Static<typeof Order>;

export const Severity = Type.Enum(['critical', 'major', 'minor', 'warning']);

const Point = Type.Object(
  {
    name: Type.String({ pattern: POINT_NAME_PATTERN }),
    description: Type.Optional(Type.String()),
    unit: Type.Optional(Type.String({ maxLength: 32 })),
    type: DataType,
    /** Protocol-specific; checked against the driver's schema after this one. */
    address: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { 'x-expect': 'a mapping' })),
    /** BACnet's way of saying where a point lives (DESIGN.md): checked by the BACnet driver's schema. */
    object: Type.Optional(Type.Unknown({ 'x-expect': 'a BACnet object such as { type: analog-input, instance: 1 }' })),
    property: Type.Optional(Type.Unknown({ 'x-expect': 'a BACnet property such as present-value' })),
    cov: Type.Optional(Type.Unknown({ 'x-expect': 'true or false' })),
    arrayIndex: Type.Optional(Type.Unknown({ 'x-expect': 'an array index' })),
    priority: Type.Optional(Type.Unknown({ 'x-expect': 'a BACnet write priority 1–16' })),
    /** Word order of multi-register values: big = ABCD (high word first), little = CDAB. */
    wordOrder: Type.Optional(Order),
    /** Byte order inside each 16-bit register: big = AB (Modbus standard), little = BA. */
    byteOrder: Type.Optional(Order),
    /** Number of registers a `string` point spans (2 characters each). */
    length: Type.Optional(Type.Integer({ minimum: 1, maximum: 125 })),
    /** value = raw * scale + offset. */
    scale: Type.Number({ default: 1 }),
    offset: Type.Number({ default: 0 }),
    access: Type.Enum(['r', 'rw'], { default: 'r' }),
    /** [min, max] in engineering units: writes outside are refused, readings outside flagged. */
    range: Type.Optional(Type.Array(Type.Number(), { minItems: 2, maxItems: 2 })),
    /** Labels of coded values, e.g. fault codes: { "0": 正常, "3": overcurrent }. */
    states: Type.Optional(Type.Record(Type.String(), Type.String())),
    /** Overrides the device's poll interval for this point (ms). */
    pollIntervalMs: Type.Optional(Type.Integer({ minimum: 50, maximum: 86_400_000 })),
    /**
     * Report by exception: a new value is stored and published only when it differs from
     * the last stored one by more than `deadband` (engineering units) or `deadbandPercent`
     * (of the range span, or of the last value when there is no range) — or when its
     * quality changed, or `maxSilenceMs` passed. Without either, every reading is stored.
     */
    deadband: Type.Optional(Type.Number({ minimum: 0 })),
    deadbandPercent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    /** With a deadband: store the value anyway after this long without storing (ms; default 300000). */
    maxSilenceMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 86_400_000 })),
    /** Streaming anomaly detector on this point (docs/ml.md): default on for read-only numeric points without a model; false = off, true = on even when writable. */
    anomalyDetection: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type PointSpec = Static<typeof Point>;

const DeviceEventRule = Type.Object(
  {
    /** The device's name for the event (ONVIF topic, BACnet event object, …). */
    topic: Type.String({ minLength: 1 }),
    /** Only when this data item has this value (e.g. ONVIF `IsMotion` = true). */
    when: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
    type: Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$', 'x-expect': 'a dotted event type such as camera.motion' }),
    severity: Type.Enum(['critical', 'major', 'minor', 'warning', 'info'], { default: 'info' }),
    /** Fetch a snapshot with the event (cameras). */
    snapshot: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type DeviceEventRuleSpec = Static<typeof DeviceEventRule>;

export const Profile = Type.Object(
  {
    id: Type.String({ pattern: PROFILE_ID_PATTERN }),
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    manufacturer: Type.Optional(Type.String()),
    model: Type.Optional(Type.String()),
    protocol: Protocol,
    /** Protocol blocks (`modbus:`, `bacnet:`, `onvif:`); each checked by its driver's schema. */
    modbus: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { 'x-expect': 'a mapping' })),
    bacnet: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { 'x-expect': 'a mapping' })),
    onvif: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { 'x-expect': 'a mapping' })),
    /** At least one for Modbus and BACnet; an ONVIF camera may have none (events only). */
    points: Type.Array(Point, { default: [] }),
    /** Device events: a device topic (ONVIF `tns1:VideoSource/MotionAlarm`) mapped to an event type. */
    events: Type.Array(DeviceEventRule, { default: [] }),
    alarms: Type.Array(AlarmRule, { default: [] }),
    /** Alarms raised by device events (`camera.tamper`, `access.forced`), cleared by an event or after a while. */
    eventAlarms: Type.Optional(Type.Array(EventAlarmRule)),
    models: Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }), { default: [] }),
    /** false: no streaming anomaly detector on any point of this profile (docs/ml.md). */
    anomalyDetection: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export type { AlarmRuleSpec, EventAlarmRuleSpec } from './alarms.js';

/** A validated profile. `protocolOptions` is the driver-validated protocol block. */
export interface DeviceProfile extends Omit<Static<typeof Profile>, 'points' | 'modbus' | 'bacnet' | 'onvif'> {
  readonly points: readonly PointSpec[];
  readonly protocolOptions: Readonly<Record<string, unknown>>;
  /** The file the profile was loaded from. */
  readonly file: string;
}
