/**
 * Work orders at the edge (issue 6 "Work orders at the edge"): operators, rules and flows
 * make operations here, offline or not; the store keeps them pending until the cloud
 * confirms them (DESIGN.md "Work orders converge").
 */
import { Value } from 'typebox/value';
import { uuidv7 } from '../../../protocol/uuid.js';
import { CATEGORY_OF_SYSTEM, OpData, WO_OPS, type Category, type Priority, type WorkOrderOp, type WorkOrderOpKind } from '../../../protocol/work-orders.js';
import { GatewayError } from '../core/errors.js';
import type { WorkOrderStore, WorkOrderView } from '../store/work-orders.js';

export interface CreateInput {
  readonly title: string;
  readonly priority: Priority;
  readonly category?: Category;
  readonly description?: string;
  readonly device?: string;
  readonly alarm?: string;
  readonly dueAt?: number;
  readonly source?: string;
  readonly attachments?: readonly Record<string, unknown>[];
}

export type WorkOrderListener = (view: WorkOrderView, op: { readonly kind: string; readonly id: string; readonly origin: 'edge' | 'cloud' | 'verdict' }) => void;

export interface WorkOrderServiceOptions {
  readonly site: string;
  readonly store: WorkOrderStore;
  /** The system of a device (site.yaml), to pick a category when none is given. */
  systemOf(device: string): string | undefined;
  readonly now?: () => number;
}

/** Names every schema violation of an operation's data: `data/title must be a string …`. */
function checkData(kind: WorkOrderOpKind, data: Record<string, unknown>): void {
  const schema = OpData[kind];
  if (Value.Check(schema, data)) return;
  const problems = [...Value.Errors(schema, data)].slice(0, 5).map((e) => `data${e.instancePath || ''} ${e.message}`);
  throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `${kind}: ${problems.join('; ')}`);
}

export class WorkOrderService {
  private readonly listeners: WorkOrderListener[] = [];
  private readonly now: () => number;

  constructor(private readonly options: WorkOrderServiceOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Called after every change of a work order (made here, confirmed or refused by the cloud). */
  onChange(listener: WorkOrderListener): void {
    this.listeners.push(listener);
  }

  /** Tells the listeners; the downlink calls it for what it applied. */
  notify(view: WorkOrderView, op: Parameters<WorkOrderListener>[1]): void {
    for (const l of this.listeners) l(view, op);
  }

  create(input: CreateInput, actor: string): WorkOrderView {
    const category = input.category ?? (input.device === undefined ? 'general' : (CATEGORY_OF_SYSTEM[this.options.systemOf(input.device) ?? 'other'] ?? 'general'));
    if (input.device !== undefined && this.options.systemOf(input.device) === undefined) {
      throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `no device "${input.device}" in this site`);
    }
    const data: Record<string, unknown> = { site: this.options.site, category };
    for (const [k, v] of Object.entries(input)) if (v !== undefined && k !== 'category') data[k] = v;
    return this.operate(uuidv7(this.now()), 'create', data, actor);
  }

  /** Applies an operation on a work order (any of protocol/work-orders.ts WO_OPS but create). */
  operate(workOrder: string, kind: WorkOrderOpKind, data: Record<string, unknown>, actor: string): WorkOrderView {
    if (!(WO_OPS as readonly string[]).includes(kind)) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `unknown operation "${kind}": one of ${WO_OPS.join(', ')}`);
    checkData(kind, data);
    if (kind !== 'create' && this.options.store.get(workOrder) === undefined) throw new GatewayError('GW_ERR_WO_NOT_FOUND', `no work order ${workOrder} on this gateway`);
    const ts = this.now();
    const op: WorkOrderOp = { id: uuidv7(ts), workOrder, op: kind, actor, ts, data };
    const view = this.options.store.addLocal(op);
    this.notify(view, { kind, id: op.id, origin: 'edge' });
    return view;
  }

  get(id: string): WorkOrderView {
    const view = this.options.store.get(id);
    if (view === undefined) throw new GatewayError('GW_ERR_WO_NOT_FOUND', `no work order ${id} on this gateway`);
    return view;
  }

  /** Open work orders of a device, newest first. */
  openForDevice(device: string): WorkOrderView[] {
    return this.options.store.openForDevice(device);
  }

  /** The open work order of an alarm (raised from it, or linking it by a note), if one exists. */
  openForAlarm(alarm: string): WorkOrderView | undefined {
    return this.options.store.openForAlarm(alarm);
  }
}
