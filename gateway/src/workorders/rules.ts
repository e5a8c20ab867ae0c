/**
 * Work-order rules (issue 6 "Work orders at the edge", issue 5's examples): open a work
 * order the moment something breaks — an alarm of a matching priority/rule/system, or an
 * event such as `failure.predicted` — on the gateway, so it exists offline and reaches
 * the cloud through lane 0. One open work order per alarm: a repeat raise while it is
 * open opens no second one. Flood consequences (suppressed alarms) open none: their
 * root cause's work order covers them.
 */
import type { WorkOrderRuleDoc } from '../core/config/work-orders.js';
import type { Logger } from '../core/logger.js';
import type { GatewayEvent } from '../core/model.js';
import type { AlarmRecord } from '../store/alarms.js';
import type { WorkOrderService } from './service.js';

export interface DeviceInfo {
  readonly name: string;
  readonly system: string;
}

export interface WorkOrderRulesOptions {
  readonly rules: readonly WorkOrderRuleDoc[];
  readonly service: WorkOrderService;
  deviceInfo(id: string): DeviceInfo | undefined;
  readonly log?: Logger;
  readonly now?: () => number;
  /** A device's open work order this recent takes its further alarms as linked notes, ms (default 1 h). */
  readonly mergeWindowMs?: number;
}

function globToRe(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
}

interface Compiled {
  readonly doc: WorkOrderRuleDoc;
  readonly rules?: readonly RegExp[];
}

function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m).slice(0, 200);
}

export class WorkOrderRules {
  private readonly compiled: Compiled[];
  /** Alarms waiting out a rule's delay: alarm id → when to open, and by which rule. */
  private readonly waiting = new Map<string, { due: number; rule: Compiled; alarm: AlarmRecord }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  /** Work orders opened by the rules since start. */
  opened = 0;
  /** Alarms linked to an open work order of their device instead of opening one. */
  linked = 0;
  private readonly mergeWindowMs: number;

  constructor(private readonly options: WorkOrderRulesOptions) {
    this.now = options.now ?? Date.now;
    this.mergeWindowMs = options.mergeWindowMs ?? 3600_000;
    this.compiled = options.rules.filter((r) => r.enabled).map((doc) => ({ doc, ...(doc.when.rules === undefined ? {} : { rules: doc.when.rules.map(globToRe) }) }));
  }

  start(intervalMs = 1000): void {
    this.timer ??= setInterval(() => this.tick(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** An alarm went active (`alarm.raised`). */
  alarmRaised(alarm: AlarmRecord): void {
    if (alarm.suppressed) return;
    const rule = this.compiled.find((c) => this.matchesAlarm(c, alarm));
    if (rule === undefined) return;
    if (rule.doc.delayMs > 0) {
      if (!this.waiting.has(alarm.id)) this.waiting.set(alarm.id, { due: this.now() + rule.doc.delayMs, rule, alarm });
      return;
    }
    this.openForAlarm(rule, alarm);
  }

  /** An alarm returned to normal or was shelved: a work order still waiting out its delay is not opened. */
  alarmGone(alarm: AlarmRecord): void {
    this.waiting.delete(alarm.id);
  }

  /** Any stored event (only `when.events` rules look at them). */
  event(event: GatewayEvent): void {
    if (event.type.startsWith('alarm.')) return;
    const info = event.device === undefined ? undefined : this.options.deviceInfo(event.device);
    const rule = this.compiled.find(
      (c) =>
        c.doc.when.events?.includes(event.type) === true &&
        (c.doc.when.systems === undefined || (info !== undefined && c.doc.when.systems.includes(info.system))) &&
        (c.doc.when.devices === undefined || (event.device !== undefined && c.doc.when.devices.includes(event.device))),
    );
    if (rule === undefined) return;
    // One open work order per (device, event type): a model repeating its prediction adds none.
    const key = `${event.device ?? 'site'}:${event.type}`;
    if (this.options.service.openForAlarm(key) !== undefined) return;
    const message = typeof event.body.message === 'string' ? event.body.message : event.type;
    this.create(rule, {
      key,
      device: event.device,
      priority: rule.doc.priority ?? 'P3',
      title: fill(rule.doc.title ?? '{deviceName}: {message}', { device: event.device ?? '', deviceName: info?.name ?? event.device ?? 'site', message, rule: rule.doc.name, event: event.type }),
      description: `Opened by rule ${rule.doc.name} from event ${event.type} (${event.id}).\n${JSON.stringify(event.body).slice(0, 2000)}`,
    });
  }

  /** Opens the work orders whose delay has passed with their alarm still active. */
  tick(now: number = this.now()): void {
    for (const [id, w] of this.waiting) {
      if (w.due > now) continue;
      this.waiting.delete(id);
      this.openForAlarm(w.rule, w.alarm);
    }
  }

  private matchesAlarm(c: Compiled, alarm: AlarmRecord): boolean {
    const w = c.doc.when;
    if (w.events !== undefined) return false;
    if (w.priorities !== undefined && !w.priorities.includes(alarm.priority)) return false;
    if (w.severities !== undefined && !w.severities.includes(alarm.severity)) return false;
    if (c.rules !== undefined && !c.rules.some((re) => re.test(alarm.rule))) return false;
    if (w.systems !== undefined && (alarm.system === null || !w.systems.includes(alarm.system))) return false;
    if (w.devices !== undefined && (alarm.device === null || !w.devices.includes(alarm.device))) return false;
    return true;
  }

  private openForAlarm(rule: Compiled, alarm: AlarmRecord): void {
    if (this.options.service.openForAlarm(alarm.id) !== undefined) return;
    const info = alarm.device === null ? undefined : this.options.deviceInfo(alarm.device);
    // One incident, one work order: a second alarm of a device that already has an open
    // work order as urgent (or more), opened within the merge window, is linked to it by a
    // note instead of opening another (an entrapment raises the profile's alarm and the
    // flow's; a breaker trip several alarms of one device).
    const priority = rule.doc.priority ?? alarm.priority;
    if (alarm.device !== null) {
      const now = this.now();
      const same = this.options.service.openForDevice(alarm.device).find((w) => w.priority <= priority && now - w.createdAt <= this.mergeWindowMs);
      if (same !== undefined) {
        try {
          this.options.service.operate(same.id, 'note', { text: `Also alarm ${alarm.id} (${alarm.priority}): ${alarm.message}`.slice(0, 4000), alarm: alarm.id }, `rule:${rule.doc.name}`);
          this.linked++;
        } catch (err) {
          this.options.log?.error({ err, workOrder: same.id, alarm: alarm.id }, 'could not link an alarm to its open work order');
        }
        return;
      }
    }
    this.create(rule, {
      key: alarm.id,
      device: alarm.device ?? undefined,
      priority,
      title: fill(rule.doc.title ?? '{deviceName}: {message}', { device: alarm.device ?? '', deviceName: info?.name ?? alarm.source, message: alarm.message, rule: alarm.rule, event: 'alarm.raised' }),
      description: `Opened by rule ${rule.doc.name} from alarm ${alarm.id} (${alarm.severity}, ${alarm.priority}) raised at ${new Date(alarm.raisedAt ?? this.now()).toISOString()}; value ${JSON.stringify(alarm.value)}.`,
    });
  }

  private create(rule: Compiled, wo: { key: string; device: string | undefined; priority: 'P1' | 'P2' | 'P3' | 'P4'; title: string; description: string }): void {
    try {
      const known = wo.device !== undefined && this.options.deviceInfo(wo.device) !== undefined;
      const view = this.options.service.create(
        {
          title: wo.title,
          priority: wo.priority,
          ...(rule.doc.category === undefined ? {} : { category: rule.doc.category }),
          ...(known ? { device: wo.device } : {}),
          alarm: wo.key,
          description: wo.description,
          source: `rule:${rule.doc.name}`,
        },
        `rule:${rule.doc.name}`,
      );
      this.opened++;
      this.options.log?.info({ workOrder: view.id, rule: rule.doc.name, alarm: wo.key, priority: wo.priority }, 'work order opened by rule');
    } catch (err) {
      this.options.log?.error({ err, rule: rule.doc.name, alarm: wo.key }, 'work-order rule could not open a work order');
    }
  }
}
