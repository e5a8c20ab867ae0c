/**
 * Compiles the alarm rules of a site — each device's profile rules, its site.yaml
 * overrides and extra rules, its event rules and its communication-failure rule — into
 * flat, frozen rules the engine indexes by point and by event type. Every problem is
 * found here, at start, never at evaluation time (CONVENTIONS §4).
 */
import type { AlarmSettingsDoc, AlarmRuleSpec, EventAlarmRuleSpec } from '../core/config/alarms.js';
import type { DeviceConfig } from '../core/config/load.js';
import { GatewayError } from '../core/errors.js';
import type { Value } from '../core/model.js';
import type { AlarmKind, AlarmPriority, AlarmSeverity } from '../store/alarms.js';

/** ISA-18.2 §6.5 asks for few priorities with a defined response: severity → P1–P4 unless the rule says otherwise. */
export const PRIORITY_OF: Readonly<Record<AlarmSeverity, AlarmPriority>> = { critical: 'P1', major: 'P2', minor: 'P3', warning: 'P4' };

/** The name of the communication-failure rule every device gets. */
export const COMM_RULE = 'comm';

/** A rule ready to evaluate. Times in ms; limits in the point's engineering units. */
export interface CompiledRule {
  /** The alarm's id: `<device>:<name>`. */
  readonly id: string;
  readonly name: string;
  readonly device: string;
  readonly system: string | null;
  /** The point's name within the device (point rules). */
  readonly point: string | null;
  /** `device.point` (point rules), the key readings are matched on. */
  readonly pointId: string | null;
  readonly kind: AlarmKind;
  readonly severity: AlarmSeverity;
  readonly priority: AlarmPriority;
  readonly message: string;
  /** high/low: the limit; rate: units per minute. NaN when not used. */
  readonly limit: number;
  readonly deadband: number;
  /** state: the value compared with. */
  readonly stateValue: Value | undefined;
  readonly op: 'eq' | 'ne';
  readonly onDelayMs: number;
  readonly offDelayMs: number;
  /** rate: measurement window. */
  readonly windowMs: number;
  readonly direction: 'rise' | 'fall' | 'both';
  /** stale: how long without a new value (0: only while the quality is not good). */
  readonly staleMs: number;
  /** event rules: the raising and the clearing event types. */
  readonly event: string | null;
  readonly clearEvent: string | null;
  readonly autoClearMs: number;
}

function fail(device: string, where: string, what: string): never {
  throw new GatewayError('GW_ERR_ALARM_RULE_INVALID', `alarm rules of device ${device}: ${where}: ${what}`, { details: { device, where } });
}

function show(v: Value | undefined): string {
  return typeof v === 'string' ? `"${v}"` : String(v);
}

/** The default name of a point rule: `<point>.<kind>`, plus the value of a state rule. */
export function defaultRuleName(rule: AlarmRuleSpec): string {
  if (rule.kind !== 'state') return `${rule.point}.${rule.kind}`;
  return `${rule.point}.state${rule.op === 'ne' ? '.ne' : ''}.${String(rule.value)}`;
}

function pointMessage(rule: AlarmRuleSpec, unit: string, label: string | undefined): string {
  const u = unit === '' ? '' : ` ${unit}`;
  switch (rule.kind) {
    case 'high':
      return `${rule.point} above ${rule.limit}${u}`;
    case 'low':
      return `${rule.point} below ${rule.limit}${u}`;
    case 'rate':
      return `${rule.point} changing faster than ${rule.limit}${u}/min`;
    case 'stale':
      return rule.delayMs > 0 ? `${rule.point}: no new value for ${Math.round(rule.delayMs / 60_000)} min` : `${rule.point} cannot be read`;
    case 'state':
      return rule.op === 'ne' ? `${rule.point} is not ${label ?? show(rule.value)}` : `${rule.point} is ${label ?? show(rule.value)}`;
  }
}

function compilePointRule(device: DeviceConfig, rule: AlarmRuleSpec, where: string): CompiledRule {
  const spec = device.profile.points.find((p) => p.name === rule.point);
  if (spec === undefined) fail(device.id, where, `point "${rule.point}" is not a point of profile ${device.profile.id}`);
  const needsLimit = rule.kind === 'high' || rule.kind === 'low' || rule.kind === 'rate';
  if (needsLimit && rule.limit === undefined) fail(device.id, where, `a ${rule.kind} rule needs a limit`);
  if (rule.kind === 'state' && rule.value === undefined) fail(device.id, where, 'a state rule needs a value');
  const name = rule.name ?? defaultRuleName(rule);
  const stale = rule.kind === 'stale';
  return {
    id: `${device.id}:${name}`,
    name,
    device: device.id,
    system: device.system,
    point: rule.point,
    pointId: `${device.id}.${rule.point}`,
    kind: rule.kind,
    severity: rule.severity,
    priority: rule.priority ?? PRIORITY_OF[rule.severity],
    message: rule.message ?? pointMessage(rule, spec.unit ?? '', rule.value === undefined ? undefined : spec.states?.[String(rule.value)]),
    limit: rule.limit ?? Number.NaN,
    deadband: rule.deadband,
    stateValue: rule.value,
    op: rule.op ?? 'eq',
    // For a stale rule delayMs is the staleness itself, not an on-delay on top of it.
    onDelayMs: stale ? 0 : rule.delayMs,
    offDelayMs: rule.offDelayMs ?? 0,
    windowMs: rule.windowMs ?? 60_000,
    direction: rule.direction ?? 'both',
    staleMs: stale ? rule.delayMs : 0,
    event: null,
    clearEvent: null,
    autoClearMs: 0,
  };
}

function compileEventRule(device: DeviceConfig, rule: EventAlarmRuleSpec, kind: 'event' | 'comm', name: string): CompiledRule {
  return {
    id: `${device.id}:${name}`,
    name,
    device: device.id,
    system: device.system,
    point: null,
    pointId: null,
    kind,
    severity: rule.severity,
    priority: rule.priority ?? PRIORITY_OF[rule.severity],
    message: rule.message ?? (kind === 'comm' ? 'device offline (communication failure)' : rule.event),
    limit: Number.NaN,
    deadband: 0,
    stateValue: undefined,
    op: 'eq',
    onDelayMs: rule.delayMs,
    offDelayMs: rule.offDelayMs ?? 0,
    windowMs: 0,
    direction: 'both',
    staleMs: 0,
    event: rule.event,
    clearEvent: rule.clearEvent ?? null,
    autoClearMs: rule.autoClearMs ?? 0,
  };
}

/**
 * Every rule of every enabled device. A site.yaml rule replaces the profile's rule of the
 * same name; `disableAlarms` and `enabled: false` drop rules. Throws
 * GW_ERR_ALARM_RULE_INVALID naming the device and the rule.
 */
export function compileRules(devices: readonly DeviceConfig[], settings: AlarmSettingsDoc): CompiledRule[] {
  const ids = new Set(devices.map((d) => d.id));
  const out: CompiledRule[] = [];
  for (const device of devices) {
    if (!device.enabled) continue;
    for (const dep of device.dependsOn ?? []) {
      if (dep === device.id) fail(device.id, 'dependsOn', 'a device cannot depend on itself');
      if (!ids.has(dep)) fail(device.id, 'dependsOn', `"${dep}" is not a device of this site`);
    }
    const rules = new Map<string, CompiledRule | null>();
    const add = (name: string, compile: () => CompiledRule, where: string, fromSite: boolean, enabled: boolean | undefined) => {
      if (rules.has(name) && !fromSite) fail(device.id, where, `two rules are named "${name}": give one of them a name:`);
      rules.set(name, enabled === false ? null : compile());
    };
    device.profile.alarms.forEach((r, i) => add(r.name ?? defaultRuleName(r), () => compilePointRule(device, r, `profile ${device.profile.id} alarms[${i}]`), `profile ${device.profile.id} alarms[${i}]`, false, r.enabled));
    (device.profile.eventAlarms ?? []).forEach((r, i) => add(r.name ?? r.event, () => compileEventRule(device, r, 'event', r.name ?? r.event), `profile ${device.profile.id} eventAlarms[${i}]`, false, r.enabled));
    if (settings.deviceOffline.enabled) {
      add(COMM_RULE, () => compileEventRule(device, { event: 'device.offline', clearEvent: 'device.online', severity: settings.deviceOffline.severity, delayMs: settings.deviceOffline.delayMs }, 'comm', COMM_RULE), 'gateway.alarms.deviceOffline', false, true);
    }
    const siteNames = new Set<string>();
    const site = (name: string, where: string) => {
      if (siteNames.has(name)) fail(device.id, where, `two site rules are named "${name}"`);
      siteNames.add(name);
    };
    (device.alarms ?? []).forEach((r, i) => {
      const name = r.name ?? defaultRuleName(r);
      site(name, `site.yaml devices.${device.id}.alarms[${i}]`);
      add(name, () => compilePointRule(device, r, `site.yaml devices.${device.id}.alarms[${i}]`), '', true, r.enabled);
    });
    (device.eventAlarms ?? []).forEach((r, i) => {
      const name = r.name ?? r.event;
      site(name, `site.yaml devices.${device.id}.eventAlarms[${i}]`);
      add(name, () => compileEventRule(device, r, 'event', name), '', true, r.enabled);
    });
    for (const name of device.disableAlarms ?? []) {
      if (!rules.has(name)) fail(device.id, 'disableAlarms', `no rule is named "${name}" (rules: ${[...rules.keys()].join(', ')})`);
      rules.set(name, null);
    }
    for (const r of rules.values()) if (r !== null) out.push(r);
  }
  return out;
}
