/**
 * Work orders in the gateway's database (migration 3): every operation, and each work
 * order's projection. The edge is optimistic: an operation made here is applied at once
 * and shown as pending until the cloud echoes it back on the downlink (confirmed) or
 * refuses it (rejected, with the reason); the cloud is the authority on order (DESIGN.md
 * "Work orders converge").
 *
 * The projection folds, with the shared state machine (protocol/work-orders.ts):
 * confirmed operations in the cloud's order, then local/pending ones in the order they
 * were made here. A pending operation that no longer applies after the cloud's view
 * moved on is skipped and listed as a conflict until the cloud's verdict arrives.
 */
import { applyOp, type WorkOrder, type WorkOrderOp } from '../../../protocol/work-orders.js';
import { GatewayError } from '../core/errors.js';
import type { GatewayStore } from './store.js';

export type OpSync = 'local' | 'pending' | 'confirmed' | 'rejected';

/** An operation as the gateway keeps it. */
export interface StoredOp extends WorkOrderOp {
  readonly origin: 'edge' | 'cloud';
  readonly sync: OpSync;
  readonly cloudSeq: number | null;
  readonly reason: string | null;
}

/** A work order as the API shows it: its state plus where its operations stand with the cloud. */
export interface WorkOrderView extends WorkOrder {
  readonly sync: {
    /** Operations made here that the cloud has not confirmed yet. */
    readonly pending: number;
    /** Operations the cloud refused, with its reasons. */
    readonly rejected: readonly { readonly op: string; readonly kind: string; readonly actor: string; readonly reason: string }[];
    /** Pending operations that no longer apply to the cloud's view (awaiting its verdict). */
    readonly conflicts: readonly { readonly op: string; readonly kind: string; readonly reason: string }[];
  };
}

export interface WorkOrderQuery {
  readonly status?: readonly string[];
  readonly device?: string;
  readonly alarm?: string;
  /** Only open ones (not resolved, closed or cancelled). */
  readonly open?: boolean;
  readonly limit?: number;
  /** Created before this ms epoch (cursor for the next page, newest first). */
  readonly before?: number;
}

interface OpRow {
  n: number;
  id: string;
  work_order: string;
  op: string;
  actor: string;
  ts: number;
  data: string;
  origin: 'edge' | 'cloud';
  sync: OpSync;
  cloud_seq: number | null;
  reason: string | null;
}

const OPEN_STATUSES = ['open', 'assigned', 'in_progress', 'on_hold'];

function toOp(r: OpRow): StoredOp {
  return {
    id: r.id,
    workOrder: r.work_order,
    op: r.op as WorkOrderOp['op'],
    actor: r.actor,
    ts: r.ts,
    data: JSON.parse(r.data) as Record<string, unknown>,
    origin: r.origin,
    sync: r.sync,
    cloudSeq: r.cloud_seq,
    reason: r.reason,
  };
}

export class WorkOrderStore {
  private readonly stmts;

  /**
   * @param syncing true when a cloud is configured: operations made here are queued in
   *   lane 0 and stay pending until confirmed; false: they are final at once (`local`).
   */
  constructor(
    private readonly store: GatewayStore,
    private readonly syncing: boolean,
  ) {
    const db = store.db;
    this.stmts = {
      opById: db.prepare('SELECT * FROM work_order_ops WHERE id = ?'),
      opsOf: db.prepare(
        // Confirmed in the cloud's order, then the rest in local order.
        `SELECT * FROM work_order_ops WHERE work_order = ?
         ORDER BY CASE WHEN sync = 'confirmed' THEN 0 ELSE 1 END, cloud_seq, n`,
      ),
      insertOp: db.prepare('INSERT INTO work_order_ops (id, work_order, op, actor, ts, data, origin, sync, cloud_seq, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      confirmOp: db.prepare("UPDATE work_order_ops SET sync = 'confirmed', cloud_seq = ?, reason = NULL WHERE id = ?"),
      rejectOp: db.prepare("UPDATE work_order_ops SET sync = 'rejected', reason = ? WHERE id = ?"),
      upsert: db.prepare(
        `INSERT INTO work_orders (id, status, priority, device, alarm, created_at, updated_at, state, pending, rejected)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, priority = excluded.priority, device = excluded.device,
           alarm = excluded.alarm, created_at = excluded.created_at, updated_at = excluded.updated_at, state = excluded.state,
           pending = excluded.pending, rejected = excluded.rejected`,
      ),
      remove: db.prepare('DELETE FROM work_orders WHERE id = ?'),
      get: db.prepare('SELECT state FROM work_orders WHERE id = ?'),
      // The alarm it was raised from, or one a note linked to it (one incident, many alarms).
      openForAlarm: db.prepare(
        `SELECT state FROM work_orders WHERE (alarm = @alarm OR EXISTS (SELECT 1 FROM json_each(state, '$.notes') WHERE json_extract(value, '$.alarm') = @alarm))
           AND status IN (${OPEN_STATUSES.map((st) => `'${st}'`).join(', ')}) ORDER BY created_at DESC LIMIT 1`,
      ),
      openForDevice: db.prepare(`SELECT state FROM work_orders WHERE device = ? AND status IN (${OPEN_STATUSES.map((st) => `'${st}'`).join(', ')}) ORDER BY created_at DESC`),
    };
  }

  /**
   * Applies an operation made at this gateway: checked against the work order as the
   * gateway sees it now (refused with the state machine's reason), stored, projected and,
   * with a cloud, queued in lane 0 — all in one durable transaction.
   */
  addLocal(op: WorkOrderOp): WorkOrderView {
    return this.store.durably(() => {
      if (this.stmts.opById.get(op.id) !== undefined) throw new GatewayError('GW_ERR_WO_REFUSED', `operation ${op.id} was already applied`);
      const current = this.get(op.workOrder);
      const check = applyOp(current, op);
      if (!check.ok) throw new GatewayError('GW_ERR_WO_REFUSED', check.reason, { details: { workOrder: op.workOrder, op: op.op } });
      this.stmts.insertOp.run(op.id, op.workOrder, op.op, op.actor, op.ts, JSON.stringify(op.data), 'edge', this.syncing ? 'pending' : 'local', null, null);
      if (this.syncing) this.store.appendOutbox(0, 'workorder.op', op.ts, { ...op });
      const view = this.project(op.workOrder);
      if (view === undefined) throw new GatewayError('GW_ERR_WO_NOT_FOUND', `work order ${op.workOrder} has no applicable operations`);
      return view;
    });
  }

  /**
   * An operation the cloud accepted, at `cloudSeq` of this gateway's feed: confirms one
   * made here, or adds one made elsewhere (dispatch, staff). Replays change nothing.
   * Call inside the downlink's transaction.
   */
  applyConfirmed(op: WorkOrderOp, cloudSeq: number): WorkOrderView | undefined {
    const known = this.stmts.opById.get(op.id) as OpRow | undefined;
    if (known !== undefined) {
      if (known.sync === 'confirmed') return undefined;
      this.stmts.confirmOp.run(cloudSeq, op.id);
    } else {
      this.stmts.insertOp.run(op.id, op.workOrder, op.op, op.actor, op.ts, JSON.stringify(op.data), 'cloud', 'confirmed', cloudSeq, null);
    }
    return this.project(op.workOrder);
  }

  /** An operation of ours the cloud refused. Call inside the downlink's transaction. */
  applyRejected(opId: string, reason: string): WorkOrderView | undefined {
    const known = this.stmts.opById.get(opId) as OpRow | undefined;
    if (known === undefined || known.sync === 'rejected') return undefined;
    this.stmts.rejectOp.run(reason, opId);
    return this.project(known.work_order);
  }

  get(id: string): WorkOrderView | undefined {
    const row = this.stmts.get.get(id) as { state: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.state) as WorkOrderView);
  }

  /** The open work order raised from an alarm, if any (so a rule does not open a second one). */
  openForAlarm(alarm: string): WorkOrderView | undefined {
    const row = this.stmts.openForAlarm.get({ alarm }) as { state: string } | undefined;
    return row === undefined ? undefined : (JSON.parse(row.state) as WorkOrderView);
  }

  /** Open work orders of a device, newest first. */
  openForDevice(device: string): WorkOrderView[] {
    return (this.stmts.openForDevice.all(device) as { state: string }[]).map((r) => JSON.parse(r.state) as WorkOrderView);
  }

  /** Newest first. */
  list(q: WorkOrderQuery = {}): WorkOrderView[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const statuses = q.open === true ? OPEN_STATUSES : q.status;
    if (statuses !== undefined && statuses.length > 0) {
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      args.push(...statuses);
    }
    if (q.device !== undefined) {
      where.push('device = ?');
      args.push(q.device);
    }
    if (q.alarm !== undefined) {
      where.push("(alarm = ? OR EXISTS (SELECT 1 FROM json_each(state, '$.notes') WHERE json_extract(value, '$.alarm') = ?))");
      args.push(q.alarm, q.alarm);
    }
    if (q.before !== undefined) {
      where.push('created_at < ?');
      args.push(q.before);
    }
    const sql = `SELECT state FROM work_orders ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id DESC LIMIT ?`;
    args.push(Math.min(q.limit ?? 100, 1000));
    return (this.store.db.prepare(sql).all(...args) as { state: string }[]).map((r) => JSON.parse(r.state) as WorkOrderView);
  }

  /** Every operation of a work order, in the order the projection applies them. */
  ops(id: string): StoredOp[] {
    return (this.stmts.opsOf.all(id) as OpRow[]).map(toOp);
  }

  /** Recomputes a work order's projection from its operations; undefined when none applies (e.g. its create was refused). */
  private project(id: string): WorkOrderView | undefined {
    const rows = this.stmts.opsOf.all(id) as OpRow[];
    let state: WorkOrder | undefined;
    let pending = 0;
    const rejected: { op: string; kind: string; actor: string; reason: string }[] = [];
    const conflicts: { op: string; kind: string; reason: string }[] = [];
    for (const row of rows) {
      if (row.sync === 'rejected') {
        rejected.push({ op: row.id, kind: row.op, actor: row.actor, reason: row.reason ?? '' });
        continue;
      }
      if (row.sync === 'pending') pending++;
      const r = applyOp(state, toOp(row));
      if (r.ok) state = r.state;
      else conflicts.push({ op: row.id, kind: row.op, reason: r.reason });
    }
    if (state === undefined) {
      // Only refused operations (e.g. a create the cloud refused): nothing to show as a work order.
      this.stmts.remove.run(id);
      return undefined;
    }
    const view: WorkOrderView = { ...state, sync: { pending, rejected, conflicts } };
    this.stmts.upsert.run(id, state.status, state.priority, state.device ?? null, state.alarm ?? null, state.createdAt, state.updatedAt, JSON.stringify(view), pending, rejected.length);
    return view;
  }
}
