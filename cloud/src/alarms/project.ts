/**
 * Alarms as the cloud keeps them (ISA-18.2 lifecycle, as the gateway reports it): one row
 * per (site, alarm), updated by the `alarm.raised|acked|cleared|shelved` events synced in
 * lane 0 — active/cleared × acked/unacked, shelving, how often it was raised, and the work
 * order a rule opened for it. Events of any type may open a work order by rule
 * (alarms/rules.ts), e.g. `failure.predicted` (lane 1) → preventive P3.
 */
import type { Transaction } from 'kysely';
import type { EventBody } from '../../../protocol/v1.js';
import type { Dialect } from '../db/migrations.js';
import type { CloudSchema } from '../db/schema.js';
import type { Effects } from '../downlink/effects.js';
import { enqueueWebhook } from '../webhooks/queue.js';
import { alarmFields, alarmKey, applyRules, type WoRule } from './rules.js';

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Projects one newly stored event's alarm lifecycle (rules run after the batch: `applyEventRules`). */
export async function projectEvent(trx: Transaction<CloudSchema>, e: EventBody, now: number, effects: Effects): Promise<void> {
  if (e.type.startsWith('alarm.')) {
    const alarmId = `${e.site}/${alarmKey(e)}`.slice(0, 400);
    const existing = await trx.selectFrom('alarms').selectAll().where('id', '=', alarmId).executeTakeFirst();
    const fields = alarmFields(e);
    const rule = (fields.rule ?? fields.point ?? e.type).slice(0, 200);
    const system = fields.system ?? null;
    if (e.type === 'alarm.raised') {
      // Two gateways of a site may raise the same alarm in batches committing at once: the
      // insert does nothing if the other got there first (PostgreSQL waits for its commit),
      // and the raise counts against that row instead of failing the batch.
      const inserted =
        existing === undefined
          ? await trx
              .insertInto('alarms')
              .values({
                id: alarmId,
                site_id: e.site,
                device_id: e.device ?? null,
                rule,
                system,
                severity: e.severity,
                state: 'active',
                acked_at: null,
                acked_by: null,
                raised_at: e.ts,
                cleared_at: null,
                shelved_until: null,
                raise_count: 1,
                last_event_id: e.id,
                updated_at: now,
                work_order_id: null,
              })
              .onConflict((oc) => oc.column('id').doNothing())
              .returning('id')
              .executeTakeFirst()
          : undefined;
      if (inserted === undefined) {
        await trx
          .updateTable('alarms')
          .set((eb) => ({ state: 'active', severity: e.severity, raised_at: e.ts, cleared_at: null, acked_at: null, acked_by: null, raise_count: eb('raise_count', '+', 1), last_event_id: e.id, updated_at: now, ...(system === null ? {} : { system }) }))
          .where('id', '=', alarmId)
          .execute();
      }
      await enqueueWebhook(trx, 'alarm.raised', e.site, { alarm: alarmId, device: e.device ?? null, rule, severity: e.severity, ts: e.ts }, now, effects);
    } else if (existing !== undefined) {
      if (e.type === 'alarm.cleared') await trx.updateTable('alarms').set({ state: 'cleared', cleared_at: e.ts, last_event_id: e.id, updated_at: now }).where('id', '=', alarmId).execute();
      else if (e.type === 'alarm.acked') {
        await trx.updateTable('alarms').set({ acked_at: e.ts, acked_by: (str(e.body['by']) ?? str(e.body['user']) ?? str(e.body['actor']) ?? 'gateway').slice(0, 100), last_event_id: e.id, updated_at: now }).where('id', '=', alarmId).execute();
      } else if (e.type === 'alarm.shelved') {
        const until = typeof e.body['until'] === 'number' && Number.isSafeInteger(e.body['until']) ? e.body['until'] : null;
        await trx.updateTable('alarms').set({ shelved_until: until, last_event_id: e.id, updated_at: now }).where('id', '=', alarmId).execute();
      }
    }
  }
}

/** Opens a work order for the event by rule, if one matches and none covers it yet. */
export async function applyEventRules(trx: Transaction<CloudSchema>, dialect: Dialect, e: EventBody, now: number, effects: Effects, rules: readonly WoRule[]): Promise<void> {
  if (!rules.some((r) => r.enabled && r.eventType === e.type)) return;
  const wo = await applyRules(trx, dialect, e, now, effects, rules);
  if (wo !== null && e.type.startsWith('alarm.')) await trx.updateTable('alarms').set({ work_order_id: wo }).where('id', '=', `${e.site}/${alarmKey(e)}`.slice(0, 400)).execute();
}
