/**
 * Flood control (ISA-18.2 §10.4.3 "designed suppression", EEMUA 191 "alarm floods"): when
 * one root cause raises many alarms — a switchgear breaker trips and the pumps and lifts
 * it feeds go offline — the consequences are grouped under the first (root) alarm and not
 * annunciated, and the grouping stays visible (`groupId`, `rootId`).
 *
 * Causality comes from the site config only: `devices[].dependsOn` (the power feed, the
 * controller a device hangs off), followed transitively. Location or system alone is not
 * used: two pumps in one plant room fail for different reasons, and a guess that hides a
 * real alarm is worse than a flood (docs/alarms.md "Decisions").
 */
import type { AlarmRecord } from '../store/alarms.js';

/** Who depends on whom, with the transitive closures computed once. */
export class DependencyGraph {
  private readonly up = new Map<string, ReadonlySet<string>>();
  private readonly down = new Map<string, Set<string>>();

  constructor(devices: readonly { readonly id: string; readonly dependsOn?: readonly string[] | undefined }[]) {
    const direct = new Map(devices.map((d) => [d.id, d.dependsOn ?? []]));
    for (const d of devices) {
      const seen = new Set<string>();
      const stack = [...(direct.get(d.id) ?? [])];
      while (stack.length > 0) {
        const x = stack.pop()!;
        if (x === d.id || seen.has(x)) continue;
        seen.add(x);
        stack.push(...(direct.get(x) ?? []));
      }
      this.up.set(d.id, seen);
      for (const x of seen) {
        let s = this.down.get(x);
        if (s === undefined) this.down.set(x, (s = new Set()));
        s.add(d.id);
      }
    }
  }

  /** The devices `device` depends on, directly or not. */
  upstream(device: string): ReadonlySet<string> {
    return this.up.get(device) ?? new Set();
  }

  /** The devices that depend on `device`, directly or not. */
  downstream(device: string): ReadonlySet<string> {
    return this.down.get(device) ?? new Set();
  }
}

function isActive(a: AlarmRecord): boolean {
  return a.state === 'unack_active' || a.state === 'ack_active';
}

export interface FloodOptions {
  /** Consequences raised up to this long after the root are grouped, ms. */
  readonly windowMs: number;
  /** …and those raised up to this long before it (poll order is arbitrary), ms. */
  readonly lookbackMs: number;
}

/**
 * Decides groupings; the engine applies them. A consequence is (1) an alarm of a device
 * whose upstream device has an active root alarm raised within `windowMs` before it, or
 * (2) a stale-data alarm of a device whose own communication alarm is active (no window:
 * a device that is not answering explains every frozen value of it).
 */
export class FloodControl {
  constructor(
    private readonly graph: DependencyGraph,
    private readonly options: FloodOptions,
  ) {}

  /**
   * The alarm `alarm` is a consequence of, among `live` alarms, if any (the earliest
   * raised). It may itself be a consequence: then its group and root are the ones to join.
   */
  rootOf(alarm: AlarmRecord, live: Iterable<AlarmRecord>, now: number): AlarmRecord | undefined {
    if (alarm.device === null) return undefined;
    const up = this.graph.upstream(alarm.device);
    let best: AlarmRecord | undefined;
    for (const c of live) {
      // A consequence may be the nearest cause too (a pump's comm alarm for its stale values): its group is taken.
      if (c.id === alarm.id || !isActive(c) || c.device === null) continue;
      const sameDevice = c.device === alarm.device && c.kind === 'comm' && alarm.kind === 'stale';
      const upstream = up.has(c.device) && c.raisedAt !== null && now - c.raisedAt <= this.options.windowMs;
      if (!sameDevice && !upstream) continue;
      if (best === undefined || (c.raisedAt ?? 0) < (best.raisedAt ?? 0)) best = c;
    }
    return best;
  }

  /** Alarms raised just before `root` (within the lookback) that it explains: to be grouped under it. */
  adoptable(root: AlarmRecord, live: Iterable<AlarmRecord>, now: number): AlarmRecord[] {
    if (root.device === null) return [];
    const down = this.graph.downstream(root.device);
    const out: AlarmRecord[] = [];
    for (const c of live) {
      if (c.id === root.id || !isActive(c) || c.rootId !== null || c.device === null) continue;
      const sameDevice = c.device === root.device && root.kind === 'comm' && c.kind === 'stale';
      const downstream = down.has(c.device) && c.raisedAt !== null && now - c.raisedAt <= this.options.lookbackMs;
      if (sameDevice || downstream) out.push(c);
    }
    return out;
  }

  /** True when a consequence may be annunciated again: its root is gone, and has been for the window. */
  mayRelease(root: AlarmRecord | undefined, now: number): boolean {
    if (root === undefined) return true;
    if (isActive(root)) return false;
    return now - (root.clearedAt ?? 0) >= this.options.windowMs;
  }
}
