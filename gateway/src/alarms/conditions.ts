/**
 * The alarm condition of a rule from its point's readings: limits with deadband
 * (hysteresis, ISA-18.2 §10.4.2), coded states, rate of change, staleness. This is the
 * hot path — every reading of a point with rules passes here — so it allocates nothing
 * and keeps its memory in the rule's state object.
 *
 * A reading of bad or stale quality holds the condition where it was (a value that could
 * not be read says nothing about the process); staleness is the `stale` rules' business,
 * and the device's communication alarm says why.
 */
import type { Reading, Value } from '../core/model.js';
import type { AlarmRecord } from '../store/alarms.js';
import type { CompiledRule } from './rules.js';

/** The mutable evaluation state of one rule (and its alarm, once it has one). */
export class RuleState {
  /** The condition (after hysteresis), before the on/off delays. */
  cond = false;
  /** When `cond` last changed (ms epoch): the delays count from here. */
  since = 0;
  /** The last value seen (what the alarm reports). */
  value: Value | null = null;
  /** The alarm of this rule, once it was raised (or restored from the store). */
  alarm: AlarmRecord | undefined;
  /** In the engine's timed set (a delay or auto-clear is running). */
  timed = false;
  /** rate: reference sample. */
  refValue = Number.NaN;
  refTs = 0;
  /** stale: when the value last changed; whether the last reading was of good quality. */
  lastChange = 0;
  lastGood = true;
  /** event rules: when the raising event last came (gateway clock). */
  lastEventAt = 0;

  constructor(readonly rule: CompiledRule) {}
}

/** Compares a reading with a state rule's value across the types YAML and devices use (true ~ 1, "3" ~ 3). */
export function sameValue(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (typeof a === 'boolean') return typeof b === 'number' ? (a ? 1 : 0) === b : String(a) === b;
  if (typeof b === 'boolean') return typeof a === 'number' ? (b ? 1 : 0) === a : String(b) === a;
  if (typeof a === 'number' && typeof b === 'string') return b !== '' && Number(b) === a;
  if (typeof a === 'string' && typeof b === 'number') return a !== '' && Number(a) === b;
  return false;
}

/**
 * The new condition of a (non-stale) point rule after `r`, or undefined to hold it.
 * For `stale` rules see `staleAfterReading`.
 */
export function conditionOf(s: RuleState, r: Reading): boolean | undefined {
  const v = r.value;
  if (r.quality !== 'good' || v === null) return undefined;
  const rule = s.rule;
  switch (rule.kind) {
    case 'high':
      if (typeof v !== 'number') return undefined;
      return s.cond ? v > rule.limit - rule.deadband : v > rule.limit;
    case 'low':
      if (typeof v !== 'number') return undefined;
      return s.cond ? v < rule.limit + rule.deadband : v < rule.limit;
    case 'state': {
      const hit = sameValue(v, rule.stateValue as Value);
      return rule.op === 'eq' ? hit : !hit;
    }
    case 'rate': {
      if (typeof v !== 'number') return undefined;
      if (Number.isNaN(s.refValue)) {
        s.refValue = v;
        s.refTs = r.ts;
        return undefined;
      }
      const dt = r.ts - s.refTs;
      if (dt < rule.windowMs) return undefined;
      const perMin = ((v - s.refValue) * 60_000) / dt;
      s.refValue = v;
      s.refTs = r.ts;
      const magnitude = rule.direction === 'rise' ? perMin : rule.direction === 'fall' ? -perMin : Math.abs(perMin);
      return s.cond ? magnitude > rule.limit - rule.deadband : magnitude > rule.limit;
    }
    default:
      return undefined;
  }
}

/** Notes a reading for a stale rule (the condition itself is decided by `staleCondition`). */
export function noteStale(s: RuleState, r: Reading): void {
  const good = r.quality === 'good' && r.value !== null;
  if (good && (s.value === null || !sameValue(r.value as Value, s.value))) s.lastChange = r.ts;
  if (good) s.value = r.value;
  s.lastGood = good;
}

/** A stale rule's condition at `now`: no new value for staleMs, or (staleMs 0) a reading that is not good. */
export function staleCondition(s: RuleState, now: number): boolean {
  return s.rule.staleMs > 0 ? now - s.lastChange >= s.rule.staleMs : !s.lastGood;
}
