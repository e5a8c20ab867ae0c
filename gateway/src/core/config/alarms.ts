/**
 * The alarm keys of the configuration (gateway/src/alarms/, docs/alarms.md): the rule
 * schemas shared by device profiles (`alarms:`, `eventAlarms:`) and site.yaml
 * (`devices[].alarms`, `devices[].eventAlarms`, `devices[].dependsOn`), and the site-wide
 * settings `gateway.alarms`. Every key here is added beside DESIGN.md's contract, none
 * renamed: the original rule keys (`point`, `kind`, `limit`, `value`, `deadband`,
 * `severity`, `delayMs`, `message`) keep their meaning.
 *
 * Terms after ANSI/ISA-18.2-2016: on-delay and off-delay (§10.4.2, "alarm deadband and
 * delay"), priority (§6.5), shelving (§11.4) and out-of-service (§11.6).
 */
import { Type, type Static } from 'typebox';

export const AlarmSeverity = Type.Enum(['critical', 'major', 'minor', 'warning']);
/** ISA-18.2 §6.5: few priorities, P1 the most urgent. */
export const AlarmPriority = Type.Enum(['P1', 'P2', 'P3', 'P4']);
const RuleName = Type.String({ pattern: '^[a-z0-9][a-z0-9_.=-]*$', maxLength: 96, 'x-expect': 'a rule name such as outlet_pressure.low' });
const EventType = Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$', 'x-expect': 'a dotted event type such as camera.tamper' });

/** A rule on a point's readings. */
export const AlarmRule = Type.Object(
  {
    point: Type.String({ pattern: '^[a-z0-9_]+$' }),
    /** high: value > limit; low: value < limit; state: value = (or ≠, op: ne) `value`; rate: |change per minute| > limit; stale: no new value for delayMs (or quality not good). */
    kind: Type.Enum(['high', 'low', 'state', 'rate', 'stale']),
    /** high/low: the limit in engineering units; rate: engineering units per minute. */
    limit: Type.Optional(Type.Number()),
    /** For `state`: the coded value that is abnormal (or, with op: ne, the one normal value). */
    value: Type.Optional(Type.Union([Type.Number(), Type.Boolean(), Type.String()])),
    /** Hysteresis in engineering units: a high alarm clears below limit − deadband (ISA-18.2 §10.4.2). */
    deadband: Type.Number({ minimum: 0, default: 0 }),
    severity: AlarmSeverity,
    /** On-delay, ms: the condition must hold this long before the alarm is raised. For `stale`: how long without a new value. */
    delayMs: Type.Integer({ minimum: 0, default: 0 }),
    message: Type.Optional(Type.String()),
    /** Added keys. The rule's id within its device; default `<point>.<kind>` (+ `.<value>` for state). A site rule with the same name replaces the profile's. */
    name: Type.Optional(RuleName),
    /** For `state`: eq (default) raises on `value`; ne raises on anything else (fault code ≠ 0). */
    op: Type.Optional(Type.Enum(['eq', 'ne'])),
    /** Off-delay, ms: the condition must be gone this long before the alarm clears. */
    offDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Overrides the severity's priority (critical P1, major P2, minor P3, warning P4). */
    priority: Type.Optional(AlarmPriority),
    /** For `rate`: the window the change is measured over, ms (default 60000). */
    windowMs: Type.Optional(Type.Integer({ minimum: 100 })),
    /** For `rate`: rise, fall or both (default). */
    direction: Type.Optional(Type.Enum(['rise', 'fall', 'both'])),
    /** False switches the rule off (a site rule of the same name switches a profile rule off). */
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type AlarmRuleSpec = Static<typeof AlarmRule>;

/** A rule on device events: `fire.alarm`, `camera.tamper`, `access.forced`, `device.offline`. */
export const EventAlarmRule = Type.Object(
  {
    /** The event type that raises the alarm. */
    event: EventType,
    /** The event type that clears it (e.g. device.online for device.offline). */
    clearEvent: Type.Optional(EventType),
    /** Without a clearing event: the condition is gone this long after the last raising event, ms. */
    autoClearMs: Type.Optional(Type.Integer({ minimum: 0 })),
    severity: AlarmSeverity,
    priority: Type.Optional(AlarmPriority),
    /** On-delay, ms (the clearing event must not come within it). */
    delayMs: Type.Integer({ minimum: 0, default: 0 }),
    offDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
    message: Type.Optional(Type.String()),
    /** Default: the event type (`camera.tamper`). */
    name: Type.Optional(RuleName),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type EventAlarmRuleSpec = Static<typeof EventAlarmRule>;

/** `gateway.alarms` of site.yaml. */
export const AlarmSettings = Type.Object(
  {
    /**
     * Flood control: an alarm raised on a device within this long after an alarm of a
     * device it depends on (`dependsOn`, transitively) is grouped under it and not
     * annunciated; consequences stay suppressed until this long after the root cleared, ms.
     */
    floodWindowMs: Type.Integer({ minimum: 0, default: 60_000 }),
    /** A root also adopts the consequences raised up to this long before it (poll order is arbitrary), ms. */
    floodLookbackMs: Type.Integer({ minimum: 0, default: 10_000 }),
    /** Longest shelving an operator may ask for, ms (ISA-18.2 §11.4: shelving is always time-limited). */
    maxShelveMs: Type.Integer({ minimum: 60_000, default: 8 * 3600_000 }),
    /** How often delays, shelving expiry and stale rules are looked at, ms. */
    tickMs: Type.Integer({ minimum: 50, maximum: 10_000, default: 1_000 }),
    /** The communication-failure alarm every device gets (rule `comm`, from device.offline / device.online). */
    deviceOffline: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        severity: Type.Enum(['critical', 'major', 'minor', 'warning'], { default: 'major' }),
        /** On-delay against a device that drops one poll and comes back, ms. */
        delayMs: Type.Integer({ minimum: 0, default: 10_000 }),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false, default: {} },
);
export type AlarmSettingsDoc = Static<typeof AlarmSettings>;

/** Keys added to a device of site.yaml. */
export const DeviceAlarmKeys = {
  /** Devices this one depends on (its power feed: the breaker or switchgear that supplies it). Flood control groups under them. */
  dependsOn: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' }), { maxItems: 32 })),
  /** Extra rules for this device, or replacements of the profile's (same name), or `enabled: false` to drop one. */
  alarms: Type.Optional(Type.Array(AlarmRule)),
  eventAlarms: Type.Optional(Type.Array(EventAlarmRule)),
  /** Names of the profile's rules this device does without (e.g. `spring_charged.state.false`, `comm`). */
  disableAlarms: Type.Optional(Type.Array(RuleName)),
};
