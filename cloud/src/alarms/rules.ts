/**
 * Work orders by rule: an event synced from a gateway (an alarm raised, a failure
 * predicted, a fire alarm) opens a work order when a rule matches. Rules are data
 * (`wo_rules`, `GET/PUT /v1/rules`), tried in `position` order; the first match wins.
 * The defaults below are installed when the table is empty.
 *
 * A rule does not open a second work order while one for the same alarm, or for the same
 * device and trade, is still open. Rules run after every operation of the batch is
 * applied (sync/ingest.ts), so a work order the gateway opened for the alarm — its rules
 * do, offline too, and its operation follows the alarm in lane 0 — is seen and the cloud
 * opens none.
 */
import type { Transaction } from 'kysely';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { EventBody } from '../../../protocol/v1.js';
import { CATEGORIES, CATEGORY_OF_SYSTEM, PRIORITIES, type Category, type Priority, type WorkOrderOp } from '../../../protocol/work-orders.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema, WoRulesTable } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { slaPolicy } from '../workorders/sla.js';
import { submitOp } from '../workorders/submit.js';

const SEVERITY_RANK: Readonly<Record<string, number>> = { info: 0, warning: 1, minor: 2, major: 3, critical: 4 };

/** What an event must have for a rule to match (every given condition). */
export interface RuleMatch {
  /** Text the alarm's rule, point or body text contains (case-insensitive), e.g. `entrapment`. */
  text?: string;
  /** The device's system (site.yaml `system`), when the event carries it. */
  system?: string;
  /** At least this severity. */
  minSeverity?: 'info' | 'warning' | 'minor' | 'major' | 'critical';
  /** Device id prefix, e.g. `elev-`. */
  devicePrefix?: string;
}

export interface WoRule {
  id: string;
  name: string;
  /** Event type, exact (`alarm.raised`, `failure.predicted`, `fire.alarm`). */
  eventType: string;
  match: RuleMatch;
  priority: Priority;
  /** The trade; default: from the event's system, else `general`. */
  category?: Category;
  /** `{device}`, `{rule}` and `{site}` are replaced. */
  title: string;
  enabled: boolean;
}

export const DEFAULT_RULES: readonly WoRule[] = [
  { id: 'elevator-entrapment', name: 'Elevator entrapment → P1', eventType: 'alarm.raised', match: { text: 'entrapment' }, priority: 'P1', category: 'elevator', title: 'Entrapment: {device}', enabled: true },
  { id: 'fire-alarm', name: 'Fire alarm → P1', eventType: 'fire.alarm', match: {}, priority: 'P1', category: 'fire', title: 'Fire alarm: {device}', enabled: true },
  { id: 'failure-predicted', name: 'Failure predicted → preventive P3', eventType: 'failure.predicted', match: {}, priority: 'P3', title: 'Preventive maintenance: {device} failure predicted', enabled: true },
  { id: 'critical-alarm', name: 'Critical alarm → P2', eventType: 'alarm.raised', match: { minSeverity: 'critical' }, priority: 'P2', title: 'Critical alarm {rule} on {device}', enabled: true },
];

function fromRow(r: WoRulesTable): WoRule {
  return {
    id: r.id,
    name: r.name,
    eventType: r.event_type,
    match: JSON.parse(r.match_json) as RuleMatch,
    priority: (PRIORITIES as readonly string[]).includes(r.priority) ? (r.priority as Priority) : 'P3',
    ...(r.category !== null && (CATEGORIES as readonly string[]).includes(r.category) ? { category: r.category as Category } : {}),
    title: r.title,
    enabled: r.enabled === 1,
  };
}

/** The rules in order; the defaults when none are stored. */
export async function listRules(db: Pick<Transaction<CloudSchema>, 'selectFrom'>): Promise<WoRule[]> {
  const rows = await db.selectFrom('wo_rules').selectAll().orderBy('position').execute();
  return rows.length === 0 ? DEFAULT_RULES.map((r) => ({ ...r, match: { ...r.match } })) : rows.map(fromRow);
}

/**
 * Replaces the rules. An empty table means the defaults, so the route refuses an empty list
 * (`minItems: 1`): rules are turned off by sending them with `enabled: false`.
 */
export async function replaceRules(trx: Transaction<CloudSchema>, rules: readonly WoRule[]): Promise<void> {
  await trx.deleteFrom('wo_rules').execute();
  for (const [position, r] of rules.entries()) {
    await trx
      .insertInto('wo_rules')
      .values({ id: r.id, name: r.name, event_type: r.eventType, match_json: JSON.stringify(r.match), priority: r.priority, category: r.category ?? null, title: r.title, position, enabled: r.enabled ? 1 : 0 })
      .execute();
  }
}

/**
 * The alarm a gateway's `alarm.*` event is about. A Steward gateway sends the whole alarm
 * record as `body.alarm` (`{ id: "<source>:<rule>", rule, point, system, message, … }`,
 * gateway/src/store/alarms.ts); other senders may put `alarm` (an id), `rule`, `point`,
 * `system`, `message` at the top of the body.
 */
export function alarmFields(e: EventBody): { id?: string; rule?: string; point?: string; system?: string; message?: string } {
  const b = e.body;
  const rec = b['alarm'] !== null && typeof b['alarm'] === 'object' ? (b['alarm'] as Record<string, unknown>) : {};
  const pick = (k: string): string | undefined => (typeof rec[k] === 'string' ? (rec[k] as string) : typeof b[k] === 'string' ? (b[k] as string) : undefined);
  const id = typeof b['alarm'] === 'string' ? b['alarm'] : typeof rec['id'] === 'string' ? rec['id'] : typeof b['alarmId'] === 'string' ? b['alarmId'] : undefined;
  const out: { id?: string; rule?: string; point?: string; system?: string; message?: string } = {};
  if (id !== undefined) out.id = id;
  for (const k of ['rule', 'point', 'system', 'message'] as const) {
    const v = pick(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

function textOf(e: EventBody): string {
  const a = alarmFields(e);
  return [a.rule, a.point, a.message, a.id, e.body['text'], e.device].filter((v) => typeof v === 'string').join(' ').toLowerCase();
}

export function ruleMatches(rule: WoRule, e: EventBody): boolean {
  if (!rule.enabled || rule.eventType !== e.type) return false;
  const m = rule.match;
  if (m.text !== undefined && !textOf(e).includes(m.text.toLowerCase())) return false;
  if (m.system !== undefined && alarmFields(e).system !== m.system) return false;
  if (m.minSeverity !== undefined && (SEVERITY_RANK[e.severity] ?? 0) < (SEVERITY_RANK[m.minSeverity] ?? 0)) return false;
  if (m.devicePrefix !== undefined && !(e.device ?? '').startsWith(m.devicePrefix)) return false;
  return true;
}

/** The alarm id an event refers to (the gateway's, when it sends one). */
export function alarmKey(e: EventBody): string {
  const a = alarmFields(e);
  if (a.id !== undefined) return a.id;
  return `${e.device ?? '-'}:${a.rule ?? a.point ?? 'alarm'}`;
}

/** Opens a work order for `e` if a rule matches and no open one covers it. Returns the work order id or null. */
export async function applyRules(trx: Transaction<CloudSchema>, dialect: Dialect, e: EventBody, now: number, effects: Effects, known?: readonly WoRule[]): Promise<string | null> {
  const rules = known ?? (await listRules(trx));
  const rule = rules.find((r) => ruleMatches(r, e));
  if (rule === undefined) return null;
  const system = alarmFields(e).system;
  const category: Category = rule.category ?? (system === undefined ? undefined : CATEGORY_OF_SYSTEM[system]) ?? 'general';
  const alarm = alarmKey(e);
  let open = trx
    .selectFrom('work_orders')
    .select('id')
    .where('site_id', '=', e.site)
    .where('status', 'not in', ['resolved', 'closed', 'cancelled']);
  open = open.where((eb) => eb.or([eb('alarm_id', '=', alarm), ...(e.device === undefined ? [] : [eb.and([eb('device_id', '=', e.device), eb('category', '=', category)])])]));
  if ((await open.executeTakeFirst()) !== undefined) return null;

  const sla = (await slaPolicy(trx))[rule.priority];
  const rawRule = alarmFields(e).rule ?? e.type;
  const title = rule.title.replaceAll('{device}', e.device ?? 'site').replaceAll('{rule}', rawRule).replaceAll('{site}', e.site).slice(0, 200);
  const op: WorkOrderOp = {
    id: uuidv7(now),
    workOrder: uuidv7(now),
    op: 'create',
    actor: `rule:${rule.id}`.slice(0, 100),
    ts: now,
    data: {
      site: e.site,
      title,
      category,
      priority: rule.priority,
      ...(e.device === undefined ? {} : { device: e.device }),
      alarm: alarm.slice(0, 200),
      dueAt: now + sla.resolveMs,
      source: `rule:${rule.id}`.slice(0, 100),
      description: `Opened by rule "${rule.name}" from event ${e.type} (${e.severity}) ${e.id}.`,
    },
  };
  const r = await submitOp(trx, dialect, op, {}, now, effects);
  return r.outcome === 'accepted' ? op.workOrder : null;
}
