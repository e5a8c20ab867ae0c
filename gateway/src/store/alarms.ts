/**
 * The alarm tables of the gateway database (migration 4): one row per alarm — per
 * (source, rule) — holding its ISA-18.2 state, and the history of every transition.
 *
 * Each transition is written in ONE SQLite transaction with its `alarm.*` event and that
 * event's outbox item in lane 0 (the transactional outbox, DESIGN.md "Sync"): a crash
 * cannot leave an alarm changed without the cloud hearing of it, nor the reverse. Knows
 * nothing of rules or of the engine: it keeps what it is given.
 */
import { uuidv7 } from '../../../protocol/uuid.js';
import { GatewayError } from '../core/errors.js';
import type { GatewayEvent, Severity, Value } from '../core/model.js';
import type { GatewayStore } from './store.js';

/** ISA-18.2 alarm states (§5.3, figure 5.2) this gateway keeps; shelving, out-of-service and suppression are flags beside them. */
export type AlarmState = 'normal' | 'unack_active' | 'ack_active' | 'unack_rtn';
export type AlarmSeverity = 'critical' | 'major' | 'minor' | 'warning';
export type AlarmPriority = 'P1' | 'P2' | 'P3' | 'P4';
export type AlarmKind = 'high' | 'low' | 'state' | 'rate' | 'stale' | 'event' | 'comm' | 'external';

/** What an alarm's transition is called as an event (and in the history). */
export type AlarmTransitionType =
  | 'alarm.raised'
  | 'alarm.cleared'
  | 'alarm.acked'
  | 'alarm.shelved'
  | 'alarm.unshelved'
  | 'alarm.grouped'
  | 'alarm.unsuppressed'
  | 'alarm.out_of_service'
  | 'alarm.in_service';

/** An alarm as stored, and as the API shows it. Times are ms epoch. */
export interface AlarmRecord {
  /** `<source>:<rule>`, e.g. `pump-1:outlet_pressure.low`. */
  readonly id: string;
  readonly source: string;
  readonly rule: string;
  readonly device: string | null;
  readonly system: string | null;
  readonly point: string | null;
  readonly kind: AlarmKind;
  severity: AlarmSeverity;
  priority: AlarmPriority;
  message: string;
  /** UUIDv7 of the current raise → normal cycle; null before the first raise. */
  occurrence: string | null;
  state: AlarmState;
  /** The value that raised it (or the last one seen while active). */
  value: Value | null;
  raisedAt: number | null;
  clearedAt: number | null;
  ackedAt: number | null;
  ackedBy: string | null;
  ackNote: string | null;
  /** Shelved (ISA-18.2 §11.4) until then; null when not shelved. */
  shelvedUntil: number | null;
  shelvedBy: string | null;
  shelveNote: string | null;
  /** Removed from service (ISA-18.2 §11.6): not evaluated until returned. */
  outOfService: boolean;
  /** A flood consequence: recorded but not annunciated (docs/alarms.md "Flood control"). */
  suppressed: boolean;
  /** The occurrence of the group's root (its own occurrence for a root). */
  groupId: string | null;
  /** The id of the root alarm for a consequence; null for a root. */
  rootId: string | null;
  updatedAt: number;
}

/** One transition as the history keeps it. */
export interface AlarmHistoryEntry {
  /** The history's cursor: later transitions have higher numbers. */
  readonly seq: number;
  /** Id of the `alarm.*` event. */
  readonly event: string;
  readonly ts: number;
  readonly alarm: string;
  readonly occurrence: string | null;
  readonly type: AlarmTransitionType;
  readonly device: string | null;
  readonly system: string | null;
  readonly severity: AlarmSeverity;
  readonly priority: AlarmPriority;
  /** The state after the transition. */
  readonly state: AlarmState;
  readonly actor: string | null;
  readonly note: string | null;
  readonly body: Readonly<Record<string, unknown>>;
}

export interface AlarmHistoryQuery {
  readonly alarm?: string;
  readonly device?: string;
  readonly system?: string;
  readonly severity?: AlarmSeverity;
  /** An exact type (`alarm.acked`). */
  readonly type?: string;
  /** ts ≥ from (ms epoch). */
  readonly from?: number;
  /** ts < to (ms epoch). */
  readonly to?: number;
  /** Only entries older than this cursor (the `nextCursor` of the previous page). */
  readonly before?: number;
  /** 1–1000, default 100. */
  readonly limit?: number;
}

/** What a transition adds to the row change. */
export interface AlarmTransitionInput {
  readonly type: AlarmTransitionType;
  readonly ts: number;
  readonly actor?: string;
  readonly note?: string;
  /** Extra fields of the event's body (reason, durationMs, …). */
  readonly detail?: Readonly<Record<string, unknown>>;
}

type Row = {
  id: string;
  source: string;
  rule: string;
  device: string | null;
  system: string | null;
  point: string | null;
  kind: AlarmKind;
  severity: AlarmSeverity;
  priority: AlarmPriority;
  message: string;
  occurrence: string | null;
  state: AlarmState;
  value: string | null;
  raised_at: number | null;
  cleared_at: number | null;
  acked_at: number | null;
  acked_by: string | null;
  ack_note: string | null;
  shelved_until: number | null;
  shelved_by: string | null;
  shelve_note: string | null;
  out_of_service: number;
  suppressed: number;
  group_id: string | null;
  root_id: string | null;
  updated_at: number;
};

/** What defines an alarm before it was ever raised: its identity and its rule's settings. */
export type AlarmIdentity = Pick<AlarmRecord, 'id' | 'source' | 'rule' | 'device' | 'system' | 'point' | 'kind' | 'severity' | 'priority' | 'message'>;

/** A never-raised alarm (state normal, no history). */
export function blankAlarm(identity: AlarmIdentity): AlarmRecord {
  return {
    ...identity,
    occurrence: null,
    state: 'normal',
    value: null,
    raisedAt: null,
    clearedAt: null,
    ackedAt: null,
    ackedBy: null,
    ackNote: null,
    shelvedUntil: null,
    shelvedBy: null,
    shelveNote: null,
    outOfService: false,
    suppressed: false,
    groupId: null,
    rootId: null,
    updatedAt: 0,
  };
}

function fromRow(r: Row): AlarmRecord {
  return {
    id: r.id,
    source: r.source,
    rule: r.rule,
    device: r.device,
    system: r.system,
    point: r.point,
    kind: r.kind,
    severity: r.severity,
    priority: r.priority,
    message: r.message,
    occurrence: r.occurrence,
    state: r.state,
    value: r.value === null ? null : (JSON.parse(r.value) as Value),
    raisedAt: r.raised_at,
    clearedAt: r.cleared_at,
    ackedAt: r.acked_at,
    ackedBy: r.acked_by,
    ackNote: r.ack_note,
    shelvedUntil: r.shelved_until,
    shelvedBy: r.shelved_by,
    shelveNote: r.shelve_note,
    outOfService: r.out_of_service === 1,
    suppressed: r.suppressed === 1,
    groupId: r.group_id,
    rootId: r.root_id,
    updatedAt: r.updated_at,
  };
}

/** The severity of the event of a transition: a raise carries the alarm's, the rest are information. */
function eventSeverity(type: AlarmTransitionType, alarm: AlarmRecord): Severity {
  return type === 'alarm.raised' || type === 'alarm.unsuppressed' ? alarm.severity : 'info';
}

export class AlarmStore {
  private readonly stmts;

  constructor(private readonly store: GatewayStore) {
    const db = store.db;
    this.stmts = {
      upsert: db.prepare(`INSERT INTO alarms (id, source, rule, device, system, point, kind, severity, priority, message, occurrence, state, value,
          raised_at, cleared_at, acked_at, acked_by, ack_note, shelved_until, shelved_by, shelve_note, out_of_service, suppressed, group_id, root_id, updated_at)
        VALUES (@id, @source, @rule, @device, @system, @point, @kind, @severity, @priority, @message, @occurrence, @state, @value,
          @raised_at, @cleared_at, @acked_at, @acked_by, @ack_note, @shelved_until, @shelved_by, @shelve_note, @out_of_service, @suppressed, @group_id, @root_id, @updated_at)
        ON CONFLICT(id) DO UPDATE SET severity = excluded.severity, priority = excluded.priority, message = excluded.message, occurrence = excluded.occurrence,
          state = excluded.state, value = excluded.value, raised_at = excluded.raised_at, cleared_at = excluded.cleared_at, acked_at = excluded.acked_at,
          acked_by = excluded.acked_by, ack_note = excluded.ack_note, shelved_until = excluded.shelved_until, shelved_by = excluded.shelved_by,
          shelve_note = excluded.shelve_note, out_of_service = excluded.out_of_service, suppressed = excluded.suppressed, group_id = excluded.group_id,
          root_id = excluded.root_id, updated_at = excluded.updated_at`),
      history: db.prepare(`INSERT INTO alarm_history (event, ts, alarm, occurrence, type, device, system, severity, priority, state, actor, note, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      all: db.prepare('SELECT * FROM alarms'),
      one: db.prepare('SELECT * FROM alarms WHERE id = ?'),
    };
  }

  /** Every alarm row (the engine restores its state from them at start). */
  load(): AlarmRecord[] {
    return (this.stmts.all.all() as Row[]).map(fromRow);
  }

  get(id: string): AlarmRecord | undefined {
    const row = this.stmts.one.get(id) as Row | undefined;
    return row === undefined ? undefined : fromRow(row);
  }

  /**
   * Writes the alarm's new row, its history entry and its `alarm.*` event with the outbox
   * item (lane 0) in one transaction; returns the event. Throws GW_ERR_STORE_IO when the
   * disk fails, and then nothing of it was written.
   */
  commit(alarm: AlarmRecord, t: AlarmTransitionInput): GatewayEvent {
    const body: Record<string, unknown> = {
      alarm: { ...alarm },
      ...(t.actor === undefined ? {} : { actor: t.actor }),
      ...(t.note === undefined ? {} : { note: t.note }),
      ...t.detail,
    };
    const db = this.store.db;
    try {
      return this.write(db, alarm, t, body);
    } catch (cause) {
      if (cause instanceof GatewayError) throw cause;
      throw new GatewayError('GW_ERR_STORE_IO', `gateway database: recording ${t.type} of alarm ${alarm.id} failed: ${(cause as Error).message}`, { cause, details: { sqlite: (cause as { code?: string }).code ?? '' } });
    }
  }

  private write(db: GatewayStore['db'], alarm: AlarmRecord, t: AlarmTransitionInput, body: Record<string, unknown>): GatewayEvent {
    return db.transaction(() => {
      this.stmts.upsert.run({
        id: alarm.id,
        source: alarm.source,
        rule: alarm.rule,
        device: alarm.device,
        system: alarm.system,
        point: alarm.point,
        kind: alarm.kind,
        severity: alarm.severity,
        priority: alarm.priority,
        message: alarm.message,
        occurrence: alarm.occurrence,
        state: alarm.state,
        value: alarm.value === null ? null : JSON.stringify(alarm.value),
        raised_at: alarm.raisedAt,
        cleared_at: alarm.clearedAt,
        acked_at: alarm.ackedAt,
        acked_by: alarm.ackedBy,
        ack_note: alarm.ackNote,
        shelved_until: alarm.shelvedUntil,
        shelved_by: alarm.shelvedBy,
        shelve_note: alarm.shelveNote,
        out_of_service: alarm.outOfService ? 1 : 0,
        suppressed: alarm.suppressed ? 1 : 0,
        group_id: alarm.groupId,
        root_id: alarm.rootId,
        updated_at: alarm.updatedAt,
      });
      // The history row first and the event last: recordEvent tells the store's event
      // listeners (the MQTT bus) at once, so nothing may fail after it in this transaction.
      const eventId = uuidv7(t.ts);
      this.stmts.history.run(
        eventId,
        t.ts,
        alarm.id,
        alarm.occurrence,
        t.type,
        alarm.device,
        alarm.system,
        alarm.severity,
        alarm.priority,
        alarm.state,
        t.actor ?? null,
        t.note ?? null,
        JSON.stringify(body),
      );
      const event = this.store.recordEvent({
        id: eventId,
        ts: t.ts,
        ...(alarm.device === null ? {} : { device: alarm.device }),
        type: t.type,
        severity: eventSeverity(t.type, alarm),
        body,
      });
      return event;
    })();
  }

  /** Transitions, newest first, a page at a time: pass `nextCursor` as `before` for the next page. */
  history(q: AlarmHistoryQuery = {}): { items: AlarmHistoryEntry[]; nextCursor: number | null } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const eq = (col: string, v: string | undefined) => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      args.push(v);
    };
    eq('alarm', q.alarm);
    eq('device', q.device);
    eq('system', q.system);
    eq('severity', q.severity);
    eq('type', q.type);
    if (q.from !== undefined) {
      where.push('ts >= ?');
      args.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('ts < ?');
      args.push(q.to);
    }
    if (q.before !== undefined) {
      where.push('seq < ?');
      args.push(q.before);
    }
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const sql = `SELECT * FROM alarm_history ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ${limit + 1}`;
    const rows = this.store.db.prepare(sql).all(...args) as (Omit<AlarmHistoryEntry, 'body'> & { body: string })[];
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map((r) => ({ ...r, body: JSON.parse(r.body) as Record<string, unknown> }));
    return { items, nextCursor: more ? (items[items.length - 1]?.seq ?? null) : null };
  }
}
