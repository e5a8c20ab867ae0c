/**
 * The gateway's alarms (GET /api/v1/alarms, gateway/src/api/alarms.ts; ISA-18.2 states) as
 * the panel keeps them: reloaded when an `alarm.*` event comes over the live stream, sorted
 * by priority then time, consequences grouped under their root. Tells the live state which
 * devices are in alarm (their overview tiles turn red).
 */
import { api, ApiError, type Value } from './api.js';
import { live } from './live.js';

export type AlarmState = 'normal' | 'unack_active' | 'ack_active' | 'unack_rtn';

export interface Alarm {
  readonly id: string;
  readonly source: string;
  readonly rule: string;
  readonly device: string | null;
  readonly system: string | null;
  readonly point: string | null;
  readonly kind: string;
  readonly severity: string;
  readonly priority: 'P1' | 'P2' | 'P3' | 'P4';
  readonly message: string;
  readonly occurrence: string | null;
  readonly state: AlarmState;
  readonly value: Value | null;
  readonly raisedAt: number | null;
  readonly clearedAt: number | null;
  readonly ackedAt: number | null;
  readonly ackedBy: string | null;
  readonly ackNote: string | null;
  readonly shelvedUntil: number | null;
  readonly shelvedBy: string | null;
  readonly outOfService: boolean;
  readonly suppressed: boolean;
  readonly groupId: string | null;
  readonly rootId: string | null;
}

export interface AlarmGroup {
  readonly root: Alarm;
  readonly consequences: readonly Alarm[];
}

/** Active or not yet acknowledged: what the control room must see. */
export function needsAttention(a: Alarm): boolean {
  return a.state !== 'normal';
}

export function byPriorityThenTime(a: Alarm, b: Alarm): number {
  return a.priority.localeCompare(b.priority) || (b.raisedAt ?? 0) - (a.raisedAt ?? 0);
}

/** Roots sorted by priority and time, each with its consequences (ISA-18.2 §5.2 — the operator acts on the cause). */
export function groupAlarms(alarms: readonly Alarm[]): AlarmGroup[] {
  const ids = new Set(alarms.map((a) => a.id));
  const roots = alarms.filter((a) => a.rootId === null || !ids.has(a.rootId)).sort(byPriorityThenTime);
  return roots.map((root) => ({ root, consequences: alarms.filter((a) => a.rootId === root.id).sort(byPriorityThenTime) }));
}

function listOf<T>(data: unknown): T[] {
  if (Array.isArray(data)) return data as T[];
  const o = data as { items?: T[]; alarms?: T[] };
  return o.items ?? o.alarms ?? [];
}

class AlarmList {
  /** undefined until loaded; null when this gateway has no alarm service. */
  alarms: Alarm[] | null | undefined;
  private loading: Promise<void> | undefined;
  private again = false;
  private readonly seenP1 = new Set<string>();
  /** New P1 alarms since the page loaded (the cue). */
  newP1: Alarm[] = [];

  constructor() {
    live.subscribe('alarms', () => void this.load());
    live.subscribe('devices', () => {
      if (this.alarms === undefined) void this.load();
    });
  }

  async load(): Promise<void> {
    if (this.loading !== undefined) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        const list = listOf<Alarm>(await api('./api/v1/alarms'));
        const first = this.alarms === undefined;
        this.alarms = list;
        for (const a of list) {
          // Only what the gateway annunciates: not suppressed (a flood consequence), shelved or out of service.
          if (a.priority !== 'P1' || a.state !== 'unack_active' || a.suppressed || a.outOfService || (a.shelvedUntil ?? 0) > Date.now() || a.occurrence === null) continue;
          const key = a.occurrence;
          if (!this.seenP1.has(key)) {
            this.seenP1.add(key);
            if (!first) this.newP1 = [a, ...this.newP1].slice(0, 5);
          }
        }
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) this.alarms = null;
        else if (this.alarms === undefined) this.alarms = null;
      } finally {
        live.alarmed = new Set((this.alarms ?? []).filter((a) => a.state === 'unack_active' || a.state === 'ack_active').flatMap((a) => (a.device === null ? [] : [a.device])));
        this.loading = undefined;
        live.touch('devices');
        live.touch('alarms');
        if (this.again) {
          this.again = false;
          void this.load();
        }
      }
    })();
    return this.loading;
  }

  dismissCue(): void {
    this.newP1 = [];
    live.touch('alarms');
  }

  async ack(id: string, note: string): Promise<void> {
    await api(`./api/v1/alarms/${encodeURIComponent(id)}/ack`, { method: 'POST', body: note === '' ? {} : { note } });
    await this.load();
  }

  async shelve(id: string, minutes: number, note: string): Promise<void> {
    await api(`./api/v1/alarms/${encodeURIComponent(id)}/shelve`, { method: 'POST', body: { durationMs: minutes * 60_000, ...(note === '' ? {} : { note }) } });
    await this.load();
  }

  async unshelve(id: string): Promise<void> {
    await api(`./api/v1/alarms/${encodeURIComponent(id)}/unshelve`, { method: 'POST', body: {} });
    await this.load();
  }
}

export const alarmList = new AlarmList();
