/**
 * `gateway.workOrders` of site.yaml (docs/configuration.md "Work orders"): the rules that
 * open a work order at the edge when an alarm is raised or an event arrives — e.g. an
 * elevator entrapment (a P1 alarm) becomes a P1 work order at once, a predicted pump
 * failure a preventive P3 one. Added beside DESIGN.md's contract keys.
 */
import { Type, type Static } from 'typebox';

const Priority = Type.Enum(['P1', 'P2', 'P3', 'P4']);
const Category = Type.Enum(['elevator', 'electrical', 'plumbing', 'hvac', 'fire', 'security', 'general']);

export const WorkOrderRule = Type.Object(
  {
    /** Names the rule in the work order's `source` (`rule:<name>`). */
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]*$', maxLength: 64 }),
    /** What triggers it; every key given must match (lists match any of their entries). */
    when: Type.Object(
      {
        /** Alarm priorities (an alarm rule). */
        priorities: Type.Optional(Type.Array(Priority, { minItems: 1 })),
        /** Alarm severities (an alarm rule). */
        severities: Type.Optional(Type.Array(Type.Enum(['critical', 'major', 'minor', 'warning']), { minItems: 1 })),
        /** Alarm rule names, `*` as a wildcard (`outlet_pressure.*`, `*.entrapment`). */
        rules: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 96 }), { minItems: 1 })),
        /** Event types instead of alarms (`failure.predicted`, `anomaly.detected`). */
        events: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' }), { minItems: 1 })),
        /** Device systems (elevator, water, …) and device ids. */
        systems: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
        devices: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
      },
      { additionalProperties: false },
    ),
    /** Default: the alarm's priority (P3 for an event). */
    priority: Type.Optional(Priority),
    /** Default: from the device's system. */
    category: Type.Optional(Category),
    /** `{device}`, `{deviceName}`, `{message}`, `{rule}`, `{event}` are filled in. Default: the alarm's message. */
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** The alarm must still be active this long before the work order is opened, ms (a transient alarm opens none). */
    delayMs: Type.Integer({ minimum: 0, default: 0 }),
    enabled: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);
export type WorkOrderRuleDoc = Static<typeof WorkOrderRule>;

/** Used when site.yaml has no `gateway.workOrders.rules`. */
export const DEFAULT_WORK_ORDER_RULES: readonly WorkOrderRuleDoc[] = [
  { name: 'p1-alarms', when: { priorities: ['P1'] }, delayMs: 0, enabled: true },
  { name: 'predicted-failure', when: { events: ['failure.predicted'] }, priority: 'P3', title: 'Preventive: {deviceName} — {message}', delayMs: 0, enabled: true },
];

export const WorkOrderSettings = Type.Object(
  {
    /** Rules in order; the first that matches opens the work order. Absent: DEFAULT_WORK_ORDER_RULES; `[]`: none. */
    rules: Type.Optional(Type.Array(WorkOrderRule)),
    /** A device's open work order opened this recently (and as urgent) takes its further alarms as linked notes instead of a new work order, ms; 0 = always a new one. */
    mergeWindowMs: Type.Integer({ minimum: 0, default: 3_600_000 }),
  },
  { additionalProperties: false },
);
export type WorkOrderSettingsDoc = Static<typeof WorkOrderSettings>;
