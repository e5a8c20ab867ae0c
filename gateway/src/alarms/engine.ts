/**
 * The alarm engine: evaluates the site's rules on readings and device events, and runs
 * each alarm through the ISA-18.2 lifecycle (ANSI/ISA-18.2-2016 §5.3, the alarm state
 * transition diagram):
 *
 *   normal ──raise──▶ unack_active ──ack──▶ ack_active ──clear──▶ normal
 *                        │                                   ▲
 *                      clear                                 │
 *                        ▼                                   │
 *                     unack_rtn ─────────────ack─────────────┘   (raise again → unack_active)
 *
 * beside which an alarm may be shelved until a time (§11.4), out of service (§11.6), or
 * suppressed as a flood consequence (§10.4.3, flood.ts). On- and off-delays and the
 * deadband keep a chattering signal from raising and clearing over and over (§10.4.2).
 *
 * One alarm per (source, rule). Every transition is written with its `alarm.*` event and
 * the event's outbox item (lane 0) in one SQLite transaction (store/alarms.ts), then told
 * to the `onTransition` listeners (work-order rules, the MQTT broker, the panel's stream).
 *
 * Time comes from readings' timestamps and from an injected clock (`now`), never from
 * timers inside the logic: `tick(now)` runs the delays, shelving expiry and stale rules,
 * and `start()` only calls it on an interval — so tests drive it without sleeping.
 */
import { uuidv7 } from '../../../protocol/uuid.js';
import type { AlarmSettingsDoc } from '../core/config/alarms.js';
import type { DeviceConfig } from '../core/config/load.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GatewayEvent, Reading } from '../core/model.js';
import { blankAlarm, type AlarmHistoryEntry, type AlarmHistoryQuery, type AlarmPriority, type AlarmRecord, type AlarmSeverity, type AlarmState, type AlarmStore, type AlarmTransitionInput, type AlarmTransitionType } from '../store/alarms.js';
import { conditionOf, noteStale, RuleState, staleCondition } from './conditions.js';
import { DependencyGraph, FloodControl } from './flood.js';
import { compileRules, COMM_RULE, PRIORITY_OF, type CompiledRule } from './rules.js';

/** A transition as listeners get it: the alarm after it, and the event that was recorded. */
export interface AlarmTransition {
  readonly type: AlarmTransitionType;
  /** A copy of the alarm after the transition. */
  readonly alarm: Readonly<AlarmRecord>;
  /** The `alarm.*` event written with it (already in the outbox, lane 0). */
  readonly event: GatewayEvent;
  readonly actor?: string;
  readonly note?: string;
}

export type AlarmListener = (transition: AlarmTransition) => void;

/** Filters of `list`. */
export interface AlarmFilter {
  readonly state?: AlarmState;
  readonly severity?: AlarmSeverity;
  readonly priority?: AlarmPriority;
  readonly device?: string;
  readonly system?: string;
  /** true: only shelved; false: only not shelved. */
  readonly shelved?: boolean;
  /** true: only flood consequences; false: hide them. */
  readonly suppressed?: boolean;
  readonly groupId?: string;
  /** Include alarms in the normal state too (every alarm that was ever raised). */
  readonly all?: boolean;
}

/** An external alarm, raised or cleared by name (a Node-RED flow, a third-party system). */
export interface ExternalAlarmInput {
  /** A device id (the alarm then belongs to that device) or any other source name. */
  readonly source: string;
  readonly name: string;
  readonly active: boolean;
  readonly severity?: AlarmSeverity;
  readonly priority?: AlarmPriority;
  readonly message?: string;
  readonly actor: string;
}

export interface AlarmEngineOptions {
  readonly store: AlarmStore;
  readonly devices: readonly DeviceConfig[];
  readonly settings: AlarmSettingsDoc;
  /** The clock, ms epoch (tests inject one). */
  readonly now?: () => number;
  readonly log?: Logger;
}

export interface AlarmStats {
  readonly rules: number;
  readonly active: number;
  readonly unacked: number;
  readonly shelved: number;
  readonly suppressed: number;
  readonly transitions: number;
  readonly storeErrors: number;
}

function isActive(a: AlarmRecord | undefined): boolean {
  return a !== undefined && (a.state === 'unack_active' || a.state === 'ack_active');
}

/** True when an alarm is listed without `all`: not normal, or shelved / out of service. */
function isLive(a: AlarmRecord): boolean {
  return a.state !== 'normal' || a.shelvedUntil !== null || a.outOfService;
}

const EXTERNAL_SOURCE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const EXTERNAL_NAME = /^[a-z0-9][a-z0-9_.=-]{0,95}$/;

export class AlarmEngine {
  private readonly store: AlarmStore;
  private readonly settings: AlarmSettingsDoc;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly flood: FloodControl;
  private readonly devices: ReadonlyMap<string, DeviceConfig>;
  /** Rule states by alarm id. */
  private readonly states = new Map<string, RuleState>();
  /** Point rules by `device.point` (the hot path's only lookup). */
  private readonly byPoint = new Map<string, RuleState[]>();
  /** Event rules by `device \u0000 eventType`, raising and clearing. */
  private readonly byEvent = new Map<string, { raise: RuleState[]; clear: RuleState[] }>();
  private readonly comm = new Map<string, RuleState>();
  private readonly stale: RuleState[] = [];
  /** Rule states with a delay or auto-clear running. */
  private readonly timed = new Set<RuleState>();
  /** Every alarm known, by id. */
  private readonly alarms = new Map<string, AlarmRecord>();
  /** Alarms that are not normal, or shelved, or out of service. */
  private readonly live = new Map<string, AlarmRecord>();
  private readonly listeners = new Set<AlarmListener>();
  private timer: NodeJS.Timeout | undefined;
  private transitions = 0;
  private storeErrors = 0;

  constructor(options: AlarmEngineOptions) {
    this.store = options.store;
    this.settings = options.settings;
    this.now = options.now ?? Date.now;
    this.log = options.log;
    this.devices = new Map(options.devices.map((d) => [d.id, d]));
    this.flood = new FloodControl(new DependencyGraph(options.devices), { windowMs: options.settings.floodWindowMs, lookbackMs: options.settings.floodLookbackMs });
    const start = this.now();
    for (const rule of compileRules(options.devices, options.settings)) this.index(new RuleState(rule), start);
    this.restore(start);
  }

  // ── Inputs ────────────────────────────────────────────────────────────────────────

  /**
   * Readings of one device (as the poller hands them over, after its deadbands). The hot
   * path: one map lookup per reading, no allocation unless an alarm changes state.
   */
  readings(device: string, readings: readonly Reading[]): void {
    const comm = this.comm.get(device);
    if (comm !== undefined && comm.cond) {
      // A device whose comm alarm was restored active may come back without a device.online event.
      for (let i = 0; i < readings.length; i++) {
        if (readings[i]!.quality === 'good') {
          this.setCond(comm, false, readings[i]!.ts);
          break;
        }
      }
    }
    for (let i = 0; i < readings.length; i++) {
      const r = readings[i]!;
      const list = this.byPoint.get(r.point);
      if (list === undefined) continue;
      for (let k = 0; k < list.length; k++) {
        const s = list[k]!;
        if (s.rule.kind === 'stale') {
          noteStale(s, r);
          if (s.cond && !staleCondition(s, r.ts)) this.setCond(s, false, r.ts);
          else if (!s.cond && s.rule.staleMs === 0 && !s.lastGood) this.setCond(s, true, r.ts);
          continue;
        }
        const cond = conditionOf(s, r);
        if (r.value !== null && r.quality === 'good') s.value = r.value;
        if (cond === undefined || (cond === s.cond && !s.timed)) continue;
        this.setCond(s, cond, r.ts);
      }
    }
  }

  /** A device event (`fire.alarm`, `camera.tamper`, `device.offline`, …) as the poller records it. */
  event(e: { readonly ts: number; readonly device?: string | undefined; readonly type: string; readonly body?: Readonly<Record<string, unknown>> }): void {
    if (e.device === undefined || e.type.startsWith('alarm.')) return;
    const rules = this.byEvent.get(`${e.device}\u0000${e.type}`);
    if (rules === undefined) return;
    const now = this.now();
    for (const s of rules.clear) this.setCond(s, false, now);
    for (const s of rules.raise) {
      s.lastEventAt = now;
      const v = e.body?.value;
      s.value = typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' ? v : null;
      this.setCond(s, true, now);
      if (s.rule.autoClearMs > 0) this.time(s);
    }
  }

  /** Runs what time alone changes: on/off delays, auto-clear, stale rules, shelving expiry, flood release. */
  tick(now: number = this.now()): void {
    for (const s of this.timed) {
      if (s.rule.autoClearMs > 0 && s.cond && now - s.lastEventAt >= s.rule.autoClearMs) this.setCond(s, false, s.lastEventAt + s.rule.autoClearMs, now);
      else this.settle(s, now);
    }
    for (const s of this.stale) {
      const cond = staleCondition(s, now);
      if (cond !== s.cond) this.setCond(s, cond, cond && s.rule.staleMs > 0 ? s.lastChange + s.rule.staleMs : now, now);
    }
    for (const a of [...this.live.values()]) {
      if (a.shelvedUntil !== null && a.shelvedUntil <= now) this.transition(a, 'alarm.unshelved', now, { shelvedUntil: null, shelvedBy: null, shelveNote: null }, { actor: 'system', detail: { reason: 'expired' } });
      const b = this.alarms.get(a.id)!;
      if (b.suppressed && isActive(b) && this.flood.mayRelease(b.rootId === null ? undefined : this.alarms.get(b.rootId), now)) {
        this.transition(b, 'alarm.unsuppressed', now, { suppressed: false }, { actor: 'system', detail: { reason: 'root cleared' } });
      }
    }
  }

  /** Calls `tick` every `gateway.alarms.tickMs`. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => this.tick(), this.settings.tickMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  // ── Operator actions ──────────────────────────────────────────────────────────────

  /**
   * Acknowledges an alarm (ISA-18.2 §5.3): unack_active → ack_active, unack_rtn → normal.
   * A note is required. With `group` (default true), acknowledging a flood's root
   * acknowledges its unacknowledged consequences too.
   */
  ack(id: string, input: { readonly note: string | undefined; readonly actor: string; readonly group?: boolean }): AlarmRecord {
    const a = this.need(id);
    const note = this.needNote(input.note, 'acknowledging');
    if (a.state !== 'unack_active' && a.state !== 'unack_rtn') {
      throw new GatewayError('GW_ERR_ALARM_STATE', a.state === 'normal' ? `alarm ${id} is normal: there is nothing to acknowledge` : `alarm ${id} was already acknowledged by ${a.ackedBy ?? 'someone'} at ${new Date(a.ackedAt ?? 0).toISOString()}`, { details: { state: a.state } });
    }
    const now = this.now();
    const done = this.acknowledge(a, now, input.actor, note);
    if (input.group !== false && a.occurrence !== null) {
      for (const c of [...this.live.values()]) {
        if (c.id !== a.id && c.rootId === a.id && c.groupId === a.groupId && (c.state === 'unack_active' || c.state === 'unack_rtn')) {
          this.acknowledge(c, now, input.actor, note, { group: a.id });
        }
      }
    }
    return { ...done };
  }

  /** Shelves an alarm for `durationMs` (ISA-18.2 §11.4): recorded, not annunciated, back by itself at expiry. */
  shelve(id: string, input: { readonly durationMs: number | undefined; readonly note: string | undefined; readonly actor: string }): AlarmRecord {
    const a = this.need(id);
    const max = this.settings.maxShelveMs;
    const d = input.durationMs;
    if (d === undefined || !Number.isFinite(d) || d <= 0 || d > max) {
      throw new GatewayError('GW_ERR_ALARM_SHELVE_DURATION', `shelving needs a durationMs between 1 and ${max} (gateway.alarms.maxShelveMs), got ${String(d)}`);
    }
    const note = this.needNote(input.note, 'shelving');
    if (a.outOfService) throw new GatewayError('GW_ERR_ALARM_STATE', `alarm ${id} is out of service: return it to service before shelving it`);
    const now = this.now();
    return { ...this.transition(a, 'alarm.shelved', now, { shelvedUntil: now + d, shelvedBy: input.actor, shelveNote: note }, { actor: input.actor, note, detail: { durationMs: d }, strict: true })! };
  }

  unshelve(id: string, input: { readonly note?: string | undefined; readonly actor: string }): AlarmRecord {
    const a = this.need(id);
    if (a.shelvedUntil === null) throw new GatewayError('GW_ERR_ALARM_STATE', `alarm ${id} is not shelved`);
    const note = input.note?.trim();
    return { ...this.transition(a, 'alarm.unshelved', this.now(), { shelvedUntil: null, shelvedBy: null, shelveNote: null }, { actor: input.actor, ...(note ? { note } : {}), detail: { reason: 'operator' }, strict: true })! };
  }

  /** Takes an alarm out of service (ISA-18.2 §11.6, maintenance): not evaluated until returned. */
  outOfService(id: string, input: { readonly note: string | undefined; readonly actor: string }): AlarmRecord {
    const a = this.need(id);
    const note = this.needNote(input.note, 'taking an alarm out of service');
    if (a.outOfService) throw new GatewayError('GW_ERR_ALARM_STATE', `alarm ${id} is already out of service`);
    const s = this.states.get(id);
    if (s !== undefined) this.untime(s);
    return { ...this.transition(a, 'alarm.out_of_service', this.now(), { outOfService: true }, { actor: input.actor, note, strict: true })! };
  }

  /** Returns an alarm to service; it is evaluated again at once. */
  returnToService(id: string, input: { readonly note?: string | undefined; readonly actor: string }): AlarmRecord {
    const a = this.need(id);
    if (!a.outOfService) throw new GatewayError('GW_ERR_ALARM_STATE', `alarm ${id} is in service`);
    const now = this.now();
    const note = input.note?.trim();
    this.transition(a, 'alarm.in_service', now, { outOfService: false }, { actor: input.actor, ...(note ? { note } : {}), strict: true });
    const s = this.states.get(id);
    if (s !== undefined) this.settle(s, now);
    return { ...this.alarms.get(id)! };
  }

  /**
   * Raises or clears an external alarm by name (POST /api/v1/alarms/external). Raising an
   * active one again, or clearing a normal one, changes nothing.
   */
  external(input: ExternalAlarmInput): AlarmRecord {
    if (!EXTERNAL_SOURCE.test(input.source)) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `external alarm source "${input.source}" must match ${EXTERNAL_SOURCE.source}`);
    if (!EXTERNAL_NAME.test(input.name)) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `external alarm name "${input.name}" must match ${EXTERNAL_NAME.source}`);
    const id = `${input.source}:${input.name}`;
    let s = this.states.get(id);
    if (s !== undefined && s.rule.kind !== 'external') {
      throw new GatewayError('GW_ERR_ALARM_EXTERNAL_CONFLICT', `"${input.name}" is a rule the gateway evaluates itself for ${input.source}: name the external alarm otherwise`);
    }
    const severity = input.severity ?? (s?.rule.severity as AlarmSeverity | undefined) ?? 'major';
    const rule = this.externalRule(input.source, input.name, severity, input.priority ?? PRIORITY_OF[severity], input.message ?? s?.rule.message ?? input.name);
    if (s === undefined) {
      s = new RuleState(rule);
      this.states.set(id, s);
    } else if (!input.active || !s.cond) {
      // A raise takes the severity and message given now; a clear keeps the raise's.
      const next = new RuleState(input.active ? rule : s.rule);
      Object.assign(next, { cond: s.cond, since: s.since, alarm: s.alarm, value: s.value });
      s = next;
      this.states.set(id, s);
    }
    const now = this.now();
    this.setCond(s, input.active, now, now, input.actor);
    return { ...(this.alarms.get(id) ?? this.blank(s.rule)) };
  }

  // ── Reads ─────────────────────────────────────────────────────────────────────────

  get(id: string): AlarmRecord | undefined {
    const a = this.alarms.get(id);
    return a === undefined ? undefined : { ...a };
  }

  /** Alarms that are not normal (or shelved, or out of service) — all with `all` — most urgent first. */
  list(f: AlarmFilter = {}): AlarmRecord[] {
    const out: AlarmRecord[] = [];
    for (const a of (f.all === true ? this.alarms : this.live).values()) {
      if (f.state !== undefined && a.state !== f.state) continue;
      if (f.severity !== undefined && a.severity !== f.severity) continue;
      if (f.priority !== undefined && a.priority !== f.priority) continue;
      if (f.device !== undefined && a.device !== f.device) continue;
      if (f.system !== undefined && a.system !== f.system) continue;
      if (f.shelved !== undefined && (a.shelvedUntil !== null) !== f.shelved) continue;
      if (f.suppressed !== undefined && a.suppressed !== f.suppressed) continue;
      if (f.groupId !== undefined && a.groupId !== f.groupId) continue;
      out.push({ ...a });
    }
    return out.sort((x, y) => x.priority.localeCompare(y.priority) || (y.raisedAt ?? 0) - (x.raisedAt ?? 0) || x.id.localeCompare(y.id));
  }

  history(q: AlarmHistoryQuery): { items: AlarmHistoryEntry[]; nextCursor: number | null } {
    return this.store.history(q);
  }

  /** Listens to every transition (after it is committed); returns the unsubscribe function. */
  onTransition(listener: AlarmListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): AlarmStats {
    let active = 0;
    let unacked = 0;
    let shelved = 0;
    let suppressed = 0;
    for (const a of this.live.values()) {
      if (isActive(a)) active++;
      if (a.state === 'unack_active' || a.state === 'unack_rtn') unacked++;
      if (a.shelvedUntil !== null) shelved++;
      if (a.suppressed && isActive(a)) suppressed++;
    }
    return { rules: this.states.size, active, unacked, shelved, suppressed, transitions: this.transitions, storeErrors: this.storeErrors };
  }

  /** The figures of /metrics, named as main.ts's counters are (`steward_alarms_active`, …). */
  metrics(): Record<string, number> {
    const s = this.stats();
    return {
      alarms_active: s.active,
      alarms_unacked: s.unacked,
      alarms_shelved: s.shelved,
      alarms_suppressed: s.suppressed,
      alarm_transitions_total: s.transitions,
      alarm_store_errors_total: s.storeErrors,
    };
  }

  // ── Lifecycle ─────────────────────────────────────────────────────────────────────

  /** Sets a rule's condition at `ts` (when it became so) and applies the delays at `now`. */
  private setCond(s: RuleState, cond: boolean, ts: number, now: number = ts, actor?: string): void {
    if (cond !== s.cond) {
      s.cond = cond;
      s.since = ts;
    }
    this.settle(s, now, actor);
  }

  /** Applies the on/off delays: raises, clears, or keeps waiting (timed). */
  private settle(s: RuleState, now: number, actor?: string): void {
    const a = s.alarm;
    if (a?.outOfService === true) return this.untime(s);
    const active = isActive(a);
    if (s.cond && !active) {
      if (now - s.since >= s.rule.onDelayMs) {
        if (this.raise(s, now, actor)) this.untime(s);
        else this.time(s);
      } else this.time(s);
    } else if (!s.cond && active) {
      if (now - s.since >= s.rule.offDelayMs) {
        if (this.clear(s, now, actor)) this.untime(s);
        else this.time(s);
      } else this.time(s);
    } else if (s.cond && s.rule.autoClearMs > 0) this.time(s);
    else this.untime(s);
  }

  private time(s: RuleState): void {
    if (!s.timed) {
      s.timed = true;
      this.timed.add(s);
    }
  }

  private untime(s: RuleState): void {
    if (s.timed) {
      s.timed = false;
      this.timed.delete(s);
    }
  }

  /** Raise: normal → unack_active (a new occurrence, maybe grouped), or unack_rtn → unack_active (the same one). */
  private raise(s: RuleState, now: number, actor?: string): boolean {
    const a = s.alarm ?? this.blank(s.rule);
    const again = a.state === 'unack_rtn';
    const r = s.rule;
    const common = { state: 'unack_active' as const, raisedAt: now, clearedAt: null, value: s.value, severity: r.severity, priority: r.priority, message: r.message };
    let change: Partial<AlarmRecord>;
    if (again) change = common;
    else {
      const occurrence = uuidv7(now);
      const root = this.flood.rootOf({ ...a, raisedAt: now }, this.live.values(), now);
      change = {
        ...common,
        occurrence,
        ackedAt: null,
        ackedBy: null,
        ackNote: null,
        suppressed: root !== undefined,
        groupId: root?.groupId ?? occurrence,
        rootId: root === undefined ? null : (root.rootId ?? root.id),
      };
    }
    const done = this.transition(a, 'alarm.raised', now, change, { ...(actor === undefined ? {} : { actor }), detail: { value: s.value, ...(again ? { again: true } : {}) } });
    if (done === undefined) return false;
    s.alarm = done;
    if (!again && done.rootId === null) this.adopt(done, now);
    return true;
  }

  /** A new root takes in the alarms it explains that were raised just before it. */
  private adopt(root: AlarmRecord, now: number): void {
    for (const c of this.flood.adoptable(root, this.live.values(), now)) {
      const regroup = [c, ...[...this.live.values()].filter((x) => x.rootId === c.id)];
      for (const x of regroup) {
        this.transition(x, 'alarm.grouped', now, { suppressed: true, groupId: root.groupId, rootId: root.id }, { actor: 'system', detail: { root: root.id } });
      }
    }
  }

  /** Clear: ack_active → normal, unack_active → unack_rtn (a never-annunciated consequence goes straight to normal). */
  private clear(s: RuleState, now: number, actor?: string): boolean {
    const a = s.alarm!;
    const state: AlarmState = a.state === 'ack_active' || (a.suppressed && a.state === 'unack_active') ? 'normal' : 'unack_rtn';
    const done = this.transition(a, 'alarm.cleared', now, { state, clearedAt: now }, { ...(actor === undefined ? {} : { actor }), detail: { value: s.value } });
    if (done === undefined) return false;
    s.alarm = done;
    return true;
  }

  private acknowledge(a: AlarmRecord, now: number, actor: string, note: string, detail?: Record<string, unknown>): AlarmRecord {
    const state: AlarmState = a.state === 'unack_active' ? 'ack_active' : 'normal';
    const done = this.transition(a, 'alarm.acked', now, { state, ackedAt: now, ackedBy: actor, ackNote: note }, { actor, note, ...(detail === undefined ? {} : { detail }), strict: true })!;
    const s = this.states.get(a.id);
    if (s !== undefined) s.alarm = done;
    return done;
  }

  /**
   * Commits one transition: the new record, its history entry and its event in one
   * transaction; only then is the new record taken and the listeners told. From the hot
   * path (`strict` unset) a store failure is logged and undefined returned (the caller
   * retries on the next tick); from an operator action it is thrown.
   */
  private transition(
    a: AlarmRecord,
    type: AlarmTransitionType,
    now: number,
    change: Partial<AlarmRecord>,
    t: Omit<AlarmTransitionInput, 'type' | 'ts'> & { strict?: boolean },
  ): AlarmRecord | undefined {
    const next: AlarmRecord = { ...a, ...change, updatedAt: now };
    let event: GatewayEvent;
    try {
      event = this.store.commit(next, { type, ts: now, ...(t.actor === undefined ? {} : { actor: t.actor }), ...(t.note === undefined ? {} : { note: t.note }), ...(t.detail === undefined ? {} : { detail: t.detail }) });
    } catch (err) {
      this.storeErrors++;
      if (t.strict === true || !(err instanceof GatewayError)) throw err;
      this.log?.error({ err, alarm: a.id, transition: type }, `alarm ${a.id}: ${type} not recorded: ${err.message}`);
      return undefined;
    }
    this.transitions++;
    this.alarms.set(next.id, next);
    if (isLive(next)) this.live.set(next.id, next);
    else this.live.delete(next.id);
    const s = this.states.get(next.id);
    if (s !== undefined) s.alarm = next;
    if (this.listeners.size > 0) {
      const snapshot = { ...next };
      for (const l of this.listeners) {
        try {
          l({ type, alarm: snapshot, event, ...(t.actor === undefined ? {} : { actor: t.actor }), ...(t.note === undefined ? {} : { note: t.note }) });
        } catch (err) {
          this.log?.error({ err, alarm: a.id }, 'an alarm listener failed');
        }
      }
    }
    return next;
  }

  // ── Building ──────────────────────────────────────────────────────────────────────

  private index(s: RuleState, start: number): void {
    const r = s.rule;
    this.states.set(r.id, s);
    if (r.pointId !== null) {
      let list = this.byPoint.get(r.pointId);
      if (list === undefined) this.byPoint.set(r.pointId, (list = []));
      list.push(s);
      if (r.kind === 'stale') {
        s.lastChange = start;
        this.stale.push(s);
      }
    }
    if (r.event !== null) this.eventSlot(r.device, r.event).raise.push(s);
    if (r.clearEvent !== null) this.eventSlot(r.device, r.clearEvent).clear.push(s);
    if (r.kind === 'comm') this.comm.set(r.device, s);
  }

  private eventSlot(device: string, type: string): { raise: RuleState[]; clear: RuleState[] } {
    const key = `${device}\u0000${type}`;
    let slot = this.byEvent.get(key);
    if (slot === undefined) this.byEvent.set(key, (slot = { raise: [], clear: [] }));
    return slot;
  }

  /** Picks up the alarms of the store: active ones stay active (their condition latched) until the next evaluation says otherwise. */
  private restore(now: number): void {
    for (const a of this.store.load()) {
      this.alarms.set(a.id, a);
      if (isLive(a)) this.live.set(a.id, a);
      let s = this.states.get(a.id);
      if (s === undefined && a.kind === 'external') {
        s = new RuleState(this.externalRule(a.source, a.rule, a.severity, a.priority, a.message));
        this.states.set(a.id, s);
      }
      if (s === undefined) {
        // Its rule is gone from the config: an active alarm can no longer clear by itself.
        if (isActive(a)) this.transition(a, 'alarm.cleared', now, { state: a.state === 'ack_active' ? 'normal' : 'unack_rtn', clearedAt: now }, { actor: 'system', detail: { reason: 'rule removed from the configuration' } });
        continue;
      }
      s.alarm = a;
      if (isActive(a)) {
        s.cond = true;
        s.since = a.raisedAt ?? now;
        if (s.rule.kind === 'stale') s.lastChange = (a.raisedAt ?? now) - s.rule.staleMs;
        if (s.rule.autoClearMs > 0) {
          s.lastEventAt = a.raisedAt ?? now;
          this.time(s);
        }
      }
    }
  }

  private externalRule(source: string, name: string, severity: AlarmSeverity, priority: AlarmPriority, message: string): CompiledRule {
    const device = this.devices.get(source);
    return {
      id: `${source}:${name}`,
      name,
      device: source,
      system: device?.system ?? null,
      point: null,
      pointId: null,
      kind: 'external',
      severity,
      priority,
      message,
      limit: Number.NaN,
      deadband: 0,
      stateValue: undefined,
      op: 'eq',
      onDelayMs: 0,
      offDelayMs: 0,
      windowMs: 0,
      direction: 'both',
      staleMs: 0,
      event: null,
      clearEvent: null,
      autoClearMs: 0,
    };
  }

  /** A never-raised alarm of a rule. */
  private blank(r: CompiledRule): AlarmRecord {
    return blankAlarm({
      id: r.id,
      source: r.device,
      rule: r.name,
      device: this.devices.has(r.device) ? r.device : null,
      system: r.system,
      point: r.point,
      kind: r.kind,
      severity: r.severity,
      priority: r.priority,
      message: r.message,
    });
  }

  private need(id: string): AlarmRecord {
    const a = this.alarms.get(id);
    if (a === undefined) throw new GatewayError('GW_ERR_ALARM_NOT_FOUND', `no alarm "${id}" on this gateway (ids are <source>:<rule>; GET /api/v1/alarms?all=true lists them)`);
    return a;
  }

  private needNote(note: string | undefined, doing: string): string {
    const n = note?.trim() ?? '';
    if (n === '') throw new GatewayError('GW_ERR_ALARM_NOTE_REQUIRED', `${doing} needs a note saying why (ISA-18.2: every acknowledgement is accountable)`);
    if (n.length > 2000) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `the note is ${n.length} characters long; at most 2000`);
    return n;
  }
}

export { COMM_RULE };
