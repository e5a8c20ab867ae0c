/**
 * Storing an uplink batch (DESIGN.md "Sync"; docs/sync-protocol.md). All or nothing, in
 * one transaction: the items are stored, the lane marks advanced and the items projected
 * into the query tables together (events, alarms, work orders, latest readings), so a crash
 * between them cannot leave an acknowledged item unprojected — and a refused batch stores
 * nothing. Roll-ups are the exception: ~2,000 rows per item, they are projected after the
 * acknowledgement by sync/projector.ts, from the stored items, with its own cursor.
 *
 * Idempotency rules (the gateway resends until it sees an ack, so every batch may arrive
 * twice, whole or overlapping with the next):
 * - an item whose seq is ≤ its lane's acked mark is a replay: counted as a duplicate,
 *   nothing changes (its id is checked against the stored one, see CS_ERR_BATCH_SEQ_REUSED);
 * - the new items of a lane must be acked+1, acked+2, … without holes, else 409
 *   CS_ERR_BATCH_SEQ_GAP and nothing is stored;
 * - a new item whose id is already stored (under any gateway, lane or seq) is a replay
 *   too: its sequence is acknowledged (so the lane moves on) but it is neither stored again
 *   nor projected again. Refusing it instead would block the lane forever on one item.
 */
import { Compile } from 'typebox/compile';
import type { Transaction } from 'kysely';
import { EventBody, LANES, LIMITS, TelemetryLatestBody, type Batch, type BatchAck, type Lane, type LaneMarks, type OutboxItem } from '../../../protocol/v1.js';
import { WorkOrderOp } from '../../../protocol/work-orders.js';
import { applyEventRules, projectEvent } from '../alarms/project.js';
import { listRules } from '../alarms/rules.js';
import { lockGateway } from '../db/lock.js';
import { Effects } from '../downlink/effects.js';
import { recordConfigApplied } from '../fleet/applied.js';
import { submitOp } from '../workorders/submit.js';
import type { CloudDatabase } from '../db/open.js';
import type { CloudSchema } from '../db/schema.js';
import type { GatewayIdentity } from '../gateways/enrolment.js';
import { laneMarks } from '../gateways/lane-marks.js';
import { CloudError, validationMessage } from '../plugins/errors.js';

const eventBody = Compile(EventBody);
const telemetryLatestBody = Compile(TelemetryLatestBody);
const workOrderOp = Compile(WorkOrderOp);

/** Rows per INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters. */
const CHUNK_ROWS = 500;

/** Per-lane counts of one batch, for /metrics. */
export interface IngestStats {
  accepted: Record<Lane, number>;
  duplicates: Record<Lane, number>;
}

export interface IngestResult {
  ack: BatchAck;
  stats: IngestStats;
  /** The `telemetry.rollup` items this batch stored, parsed: handed to the projector so it need not parse them again. */
  rollups: { seq: number; body: unknown }[];
}

/** An item with its body serialised once (for the size check and for storage). */
interface Prepared {
  item: OutboxItem;
  index: number;
  bodyJson: string;
}

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += CHUNK_ROWS) out.push(rows.slice(i, i + CHUNK_ROWS));
  return out;
}

/**
 * Integers must be exact in JSON and JavaScript (≤ 2^53 − 1) and fit PostgreSQL's bigint.
 * Protocol v1's schemas say `integer, minimum 0` without a maximum, so 1e300 passes them;
 * refuse it here as a contract error rather than let the database fail with a 5xx.
 */
function checkSafe(value: number, path: string): void {
  if (!Number.isSafeInteger(value)) throw new CloudError('CS_ERR_VALIDATION', `${path} must be at most ${Number.MAX_SAFE_INTEGER}`);
}

/** The checks that need no database: identity, sizes, integer ranges, and the bodies of the kinds v1 knows. */
function prepare(gateway: GatewayIdentity, batch: Batch): Prepared[] {
  checkSafe(batch.sentAt, 'body/sentAt');
  if (batch.gateway !== gateway.id) {
    throw new CloudError('CS_ERR_GATEWAY_MISMATCH', `the batch names gateway "${batch.gateway}" but was posted to gateway "${gateway.id}"`);
  }
  if (batch.site !== gateway.site) {
    throw new CloudError('CS_ERR_FORBIDDEN', `gateway "${gateway.id}" belongs to site "${gateway.site}", not "${batch.site}"`);
  }
  return batch.items.map((item, index) => {
    checkSafe(item.seq, `body/items/${index}/seq`);
    checkSafe(item.ts, `body/items/${index}/ts`);
    const bodyJson = JSON.stringify(item.body);
    const bytes = Buffer.byteLength(bodyJson, 'utf8');
    if (bytes > LIMITS.maxItemBytes) {
      throw new CloudError('CS_ERR_BATCH_TOO_LARGE', `body/items/${index}/body is ${bytes} bytes, over the ${LIMITS.maxItemBytes}-byte item limit`);
    }
    if (item.kind === 'event') {
      if (!eventBody.Check(item.body)) throw new CloudError('CS_ERR_VALIDATION', validationMessage(eventBody.Errors(item.body), `body/items/${index}/body`));
      checkSafe((item.body as EventBody).ts, `body/items/${index}/body/ts`);
      const site = (item.body as EventBody).site;
      if (site !== gateway.site) throw new CloudError('CS_ERR_FORBIDDEN', `body/items/${index}/body/site is "${site}": gateway "${gateway.id}" may only report site "${gateway.site}"`);
    } else if (item.kind === 'telemetry.latest') {
      if (!telemetryLatestBody.Check(item.body)) {
        throw new CloudError('CS_ERR_VALIDATION', validationMessage(telemetryLatestBody.Errors(item.body), `body/items/${index}/body`));
      }
      (item.body as TelemetryLatestBody).readings.forEach((r, k) => checkSafe(r.ts, `body/items/${index}/body/readings/${k}/ts`));
    } else if (item.kind === 'workorder.op') {
      // The envelope must be an operation (ids, kind, actor, ts); its data is checked when
      // applied, and a bad one becomes a `workorder.rejected` change rather than a refused
      // batch, which would block lane 0 (alarms) for good.
      if (!workOrderOp.Check(item.body)) throw new CloudError('CS_ERR_VALIDATION', validationMessage(workOrderOp.Errors(item.body), `body/items/${index}/body`));
      checkSafe((item.body as WorkOrderOp).ts, `body/items/${index}/body/ts`);
    }
    return { item, index, bodyJson };
  });
}

/** Splits the items by lane, sorted by seq; the same (lane, seq) twice is a replay if the id agrees, else refused. */
function byLane(prepared: readonly Prepared[]): { lanes: Map<Lane, Prepared[]>; repeats: Prepared[] } {
  const lanes = new Map<Lane, Prepared[]>(LANES.map((l) => [l, []]));
  const repeats: Prepared[] = [];
  const seen = new Map<string, Prepared>();
  for (const p of prepared) {
    const key = `${p.item.lane}:${p.item.seq}`;
    const first = seen.get(key);
    if (first !== undefined) {
      if (first.item.id !== p.item.id) {
        throw new CloudError(
          'CS_ERR_BATCH_SEQ_REPEATED',
          `body/items/${p.index} repeats lane ${p.item.lane} seq ${p.item.seq} of body/items/${first.index} with another id`,
        );
      }
      repeats.push(p);
      continue;
    }
    seen.set(key, p);
    lanes.get(p.item.lane)?.push(p);
  }
  for (const list of lanes.values()) list.sort((a, b) => a.item.seq - b.item.seq);
  return { lanes, repeats };
}

/**
 * Replayed sequences must carry the ids stored under them. If they do not, the gateway has
 * restarted its numbering (a replaced database): taking the items as duplicates would drop
 * them silently, so refuse and say where the lane stands.
 */
async function checkReplays(trx: Transaction<CloudSchema>, gatewayId: string, lane: Lane, replays: readonly Prepared[], acked: LaneMarks): Promise<void> {
  for (const part of chunks(replays)) {
    const stored = await trx
      .selectFrom('items')
      .select(['seq', 'id'])
      .where('gateway_id', '=', gatewayId)
      .where('lane', '=', lane)
      .where(
        'seq',
        'in',
        part.map((p) => p.item.seq),
      )
      .execute();
    const idOf = new Map(stored.map((r) => [r.seq, r.id]));
    for (const p of part) {
      const id = idOf.get(p.item.seq);
      // No row: the seq was acknowledged as a replay of an id stored elsewhere; nothing to compare.
      if (id !== undefined && id !== p.item.id) {
        throw new CloudError(
          'CS_ERR_BATCH_SEQ_REUSED',
          `lane ${lane} seq ${p.item.seq} was acknowledged with item ${id}, not ${p.item.id}: the gateway's numbering restarted; continue lane ${lane} from seq ${acked[lane] + 1}`,
          { reply: { lane, seq: p.item.seq, acked } },
        );
      }
    }
  }
}

/** Inserts the new items; returns those actually stored (an id already stored is skipped). */
async function insertItems(trx: Transaction<CloudSchema>, gatewayId: string, fresh: readonly Prepared[], now: number): Promise<Prepared[]> {
  const storedIds = new Set<string>();
  for (const part of chunks(fresh)) {
    const rows = await trx
      .insertInto('items')
      .values(
        part.map((p) => ({
          gateway_id: gatewayId,
          lane: p.item.lane,
          seq: p.item.seq,
          id: p.item.id,
          kind: p.item.kind,
          ts: p.item.ts,
          body_json: p.bodyJson,
          received_at: now,
        })),
      )
      .onConflict((oc) => oc.column('id').doNothing())
      .returning('id')
      .execute();
    for (const r of rows) storedIds.add(r.id);
  }
  // An id twice among the new items is stored once: keep the first, count the rest as duplicates.
  const taken = new Set<string>();
  return fresh.filter((p) => {
    if (!storedIds.has(p.item.id) || taken.has(p.item.id)) return false;
    taken.add(p.item.id);
    return true;
  });
}

/** Projects stored `event` items into the events table (an event id already there is kept). */
async function projectEvents(trx: Transaction<CloudSchema>, gateway: GatewayIdentity, stored: readonly Prepared[], now: number): Promise<void> {
  const rows = stored
    .filter((p) => p.item.kind === 'event')
    .map((p) => {
      const e = p.item.body as EventBody;
      return {
        id: e.id,
        site_id: e.site,
        gateway_id: gateway.id,
        device_id: e.device ?? null,
        type: e.type,
        severity: e.severity,
        ts: e.ts,
        body_json: JSON.stringify(e.body),
        received_at: now,
      };
    });
  for (const part of chunks(rows)) await trx.insertInto('events').values(part).onConflict((oc) => oc.column('id').doNothing()).execute();
}

/**
 * Projects stored `telemetry.latest` items into latest_readings. A reading overwrites the
 * stored one only if its ts is newer: lanes and retries can deliver an old value late.
 * Within a batch the newest reading of a point wins (PostgreSQL refuses one upsert that
 * touches a row twice, so reduce first).
 */
async function projectLatest(trx: Transaction<CloudSchema>, gateway: GatewayIdentity, stored: readonly Prepared[], now: number): Promise<void> {
  const newest = new Map<string, TelemetryLatestBody['readings'][number]>();
  for (const p of stored) {
    if (p.item.kind !== 'telemetry.latest') continue;
    for (const r of (p.item.body as TelemetryLatestBody).readings) {
      const current = newest.get(r.id);
      if (current === undefined || r.ts >= current.ts) newest.set(r.id, r);
    }
  }
  const rows = [...newest.values()].map((r) => {
    const dot = r.id.indexOf('.');
    return {
      site_id: gateway.site,
      point_id: r.id,
      device_id: r.id.slice(0, dot),
      point: r.id.slice(dot + 1),
      value_json: JSON.stringify(r.v),
      quality: r.q,
      ts: r.ts,
      gateway_id: gateway.id,
      received_at: now,
    };
  });
  for (const part of chunks(rows)) {
    await trx
      .insertInto('latest_readings')
      .values(part)
      .onConflict((oc) =>
        oc
          .columns(['site_id', 'point_id'])
          .doUpdateSet((eb) => ({
            device_id: eb.ref('excluded.device_id'),
            point: eb.ref('excluded.point'),
            value_json: eb.ref('excluded.value_json'),
            quality: eb.ref('excluded.quality'),
            ts: eb.ref('excluded.ts'),
            gateway_id: eb.ref('excluded.gateway_id'),
            received_at: eb.ref('excluded.received_at'),
          }))
          .where((eb) => eb('latest_readings.ts', '<', eb.ref('excluded.ts'))),
      )
      .execute();
  }
}

/**
 * The operations side of a batch, in lane order and seq order: work-order operations
 * (applied by the state machine), alarm lifecycle and work orders by rule, configuration
 * reports.
 */
async function projectOperations(trx: Transaction<CloudSchema>, cdb: CloudDatabase, gateway: GatewayIdentity, stored: readonly Prepared[], now: number, effects: Effects): Promise<void> {
  const events: EventBody[] = [];
  for (const p of stored) {
    if (p.item.kind === 'workorder.op') {
      await submitOp(trx, cdb.dialect, p.item.body as WorkOrderOp, { gateway }, now, effects);
    } else if (p.item.kind === 'event') {
      const e = p.item.body as EventBody;
      if (e.type === 'config.applied') {
        await recordConfigApplied(trx, gateway.id, e, now, effects);
        continue;
      }
      await projectEvent(trx, e, now, effects);
      events.push(e);
    }
  }
  // Rules last: a work order the gateway opened for an alarm follows the alarm in lane 0,
  // usually in the same batch — applied first, it keeps the cloud from opening another.
  if (events.length === 0) return;
  const rules = await listRules(trx);
  for (const e of events) await applyEventRules(trx, cdb.dialect, e, now, effects, rules);
}

/**
 * Stores a validated batch from an authenticated gateway and returns the acknowledgement.
 * Throws CloudError: CS_ERR_GATEWAY_MISMATCH, CS_ERR_FORBIDDEN, CS_ERR_BATCH_TOO_LARGE,
 * CS_ERR_VALIDATION (an event or telemetry body), CS_ERR_BATCH_SEQ_REPEATED,
 * CS_ERR_BATCH_SEQ_GAP, CS_ERR_BATCH_SEQ_REUSED — in every case nothing is stored.
 */
export async function ingestBatch(cdb: CloudDatabase, gateway: GatewayIdentity, batch: Batch, now = Date.now(), effects = new Effects()): Promise<IngestResult> {
  const { lanes, repeats } = byLane(prepare(gateway, batch));
  const stats: IngestStats = { accepted: { 0: 0, 1: 0, 2: 0 }, duplicates: { 0: 0, 1: 0, 2: 0 } };
  for (const p of repeats) stats.duplicates[p.item.lane]++;

  const rollups: IngestResult['rollups'] = [];
  const acked = await cdb.db.transaction().execute(async (trx) => {
    rollups.length = 0; // (a retried callback starts again)
    await lockGateway(trx, cdb.dialect, gateway.id);
    const marks = await laneMarks(trx, gateway.id);
    const before: LaneMarks = { ...marks };

    // Decide every lane before writing anything: a gap in lane 2 refuses lanes 0 and 1 too.
    const plan: { lane: Lane; fresh: Prepared[] }[] = [];
    for (const lane of LANES) {
      const items = lanes.get(lane) ?? [];
      const acked = before[lane];
      const replays = items.filter((p) => p.item.seq <= acked);
      const fresh = items.filter((p) => p.item.seq > acked);
      fresh.forEach((p, k) => {
        const expected = acked + 1 + k;
        if (p.item.seq !== expected) {
          throw new CloudError(
            'CS_ERR_BATCH_SEQ_GAP',
            `lane ${lane}: expected seq ${expected}, got ${p.item.seq} (acknowledged up to ${acked}); nothing of the batch was stored, resend lane ${lane} from seq ${acked + 1}`,
            { reply: { lane, expected, got: p.item.seq, acked: before } },
          );
        }
      });
      if (replays.length > 0) await checkReplays(trx, gateway.id, lane, replays, before);
      stats.duplicates[lane] += replays.length;
      plan.push({ lane, fresh });
    }

    const stored: Prepared[] = [];
    for (const { lane, fresh } of plan) {
      if (fresh.length === 0) continue;
      const kept = await insertItems(trx, gateway.id, fresh, now);
      stats.accepted[lane] += kept.length;
      stats.duplicates[lane] += fresh.length - kept.length;
      stored.push(...kept);
      marks[lane] = fresh[fresh.length - 1]!.item.seq;
      await trx.updateTable('lane_marks').set({ acked_seq: marks[lane] }).where('gateway_id', '=', gateway.id).where('lane', '=', lane).execute();
    }
    for (const p of stored) if (p.item.kind === 'telemetry.rollup') rollups.push({ seq: p.item.seq, body: p.item.body });
    await projectEvents(trx, gateway, stored, now);
    await projectLatest(trx, gateway, stored, now);
    await projectOperations(trx, cdb, gateway, stored, now, effects);
    await trx.updateTable('gateways').set({ last_seen_at: now, clock_offset_ms: now - batch.sentAt }).where('id', '=', gateway.id).execute();
    return marks;
  });

  const total = (r: Record<Lane, number>): number => r[0] + r[1] + r[2];
  return { ack: { acked, accepted: total(stats.accepted), duplicates: total(stats.duplicates), serverTime: now }, stats, rollups };
}
