/**
 * Work orders (工单), as gateway and cloud both keep them (DESIGN.md "Data model" and
 * "Work orders converge"). A work order changes only by **operations**, each with a
 * UUIDv7, an actor and a timestamp; its state is what the operations, applied in order,
 * make of it. This file holds the schemas of those operations and the one state machine
 * both sides run, so that the gateway (offline, optimistic) and the cloud (the authority)
 * can never disagree on what an operation means.
 *
 * Sync: an operation made at the edge travels as an outbox item of kind `workorder.op`
 * (lane 0); the cloud applies it in its own order and echoes every accepted operation of
 * the site on the downlink, or answers `workorder.rejected` with the reason. See
 * docs/sync-protocol.md.
 */
import { Type, type Static } from 'typebox';
import { ID_PATTERN, UUID_PATTERN } from './v1.js';

export const WO_STATUSES = ['open', 'assigned', 'in_progress', 'on_hold', 'resolved', 'closed', 'cancelled'] as const;
export type WorkOrderStatus = (typeof WO_STATUSES)[number];

export const WO_OPS = ['create', 'assign', 'start', 'hold', 'resume', 'note', 'resolve', 'close', 'cancel', 'reopen'] as const;
export type WorkOrderOpKind = (typeof WO_OPS)[number];

/** P1 most urgent (e.g. elevator entrapment) … P4 routine. */
export const PRIORITIES = ['P1', 'P2', 'P3', 'P4'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** Trades, matching technicians' skills in the cloud (issue 5). */
export const CATEGORIES = ['elevator', 'electrical', 'plumbing', 'hvac', 'fire', 'security', 'general'] as const;
export type Category = (typeof CATEGORIES)[number];

/** The trade a device's system calls for (site.yaml `system`). */
export const CATEGORY_OF_SYSTEM: Readonly<Record<string, Category>> = {
  elevator: 'elevator',
  water: 'plumbing',
  power: 'electrical',
  lighting: 'electrical',
  hvac: 'hvac',
  fire: 'fire',
  access: 'security',
  camera: 'security',
  other: 'general',
};

/**
 * Default service levels per priority, in ms: time to respond (accept/start) and to resolve.
 * The cloud may configure its own; the gateway uses these to set `dueAt` offline.
 */
export const DEFAULT_SLA: Readonly<Record<Priority, { readonly responseMs: number; readonly resolveMs: number }>> = {
  P1: { responseMs: 15 * 60_000, resolveMs: 4 * 3600_000 },
  P2: { responseMs: 60 * 60_000, resolveMs: 24 * 3600_000 },
  P3: { responseMs: 4 * 3600_000, resolveMs: 3 * 86_400_000 },
  P4: { responseMs: 24 * 3600_000, resolveMs: 7 * 86_400_000 },
};

const Text = (maxLength: number) => Type.String({ minLength: 1, maxLength });
const Uuid = Type.String({ pattern: UUID_PATTERN });

/** What each operation carries besides the common fields. */
export const OpData = {
  create: Type.Object(
    {
      site: Type.String({ pattern: ID_PATTERN }),
      title: Text(200),
      category: Type.Enum([...CATEGORIES]),
      priority: Type.Enum([...PRIORITIES]),
      description: Type.Optional(Type.String({ maxLength: 4000 })),
      device: Type.Optional(Type.String({ pattern: ID_PATTERN, maxLength: 64 })),
      /** The alarm it was raised from (the gateway's alarm id). */
      alarm: Type.Optional(Type.String({ maxLength: 200 })),
      /** SLA resolution deadline, ms epoch; default createdAt + DEFAULT_SLA[priority].resolveMs. */
      dueAt: Type.Optional(Type.Integer({ minimum: 0 })),
      /** Who asked: `operator`, `rule:<name>`, `resident`, `flow:<node>`, `model:<name>`. */
      source: Type.Optional(Type.String({ maxLength: 100 })),
      /** Attachments known at creation, e.g. a camera snapshot: `{ kind, url | file }`. */
      attachments: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 20 })),
    },
    { additionalProperties: false },
  ),
  assign: Type.Object({ assignee: Text(100) }, { additionalProperties: false }),
  start: Type.Object({}, { additionalProperties: false }),
  hold: Type.Object({ reason: Text(1000) }, { additionalProperties: false }),
  resume: Type.Object({}, { additionalProperties: false }),
  note: Type.Object(
    {
      text: Text(4000),
      attachments: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()), { maxItems: 20 })),
      /** An alarm this note links to the work order (another alarm of the same incident): one work order, many alarms. */
      alarm: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    },
    { additionalProperties: false },
  ),
  resolve: Type.Object({ resolution: Text(4000) }, { additionalProperties: false }),
  close: Type.Object({}, { additionalProperties: false }),
  cancel: Type.Object({ reason: Text(1000) }, { additionalProperties: false }),
  reopen: Type.Object({ reason: Text(1000) }, { additionalProperties: false }),
} as const;

/** One operation on one work order. `id` is a UUIDv7; a second operation with the same id is a replay. */
export const WorkOrderOp = Type.Object(
  {
    id: Uuid,
    workOrder: Uuid,
    op: Type.Enum([...WO_OPS]),
    /** User name, `gateway:<id>`, `rule:<name>`, `dispatch` … */
    actor: Text(100),
    /** When it was made, ms epoch, on the clock of the side that made it. */
    ts: Type.Integer({ minimum: 0 }),
    data: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type WorkOrderOp = Static<typeof WorkOrderOp>;

export interface WorkOrderNote {
  readonly op: string;
  readonly actor: string;
  readonly ts: number;
  readonly text: string;
  readonly attachments?: readonly Record<string, unknown>[];
  /** An alarm linked to the work order by this note. */
  readonly alarm?: string;
}

/** A work order's state: what its operations, applied in order, make. */
export interface WorkOrder {
  readonly id: string;
  readonly site: string;
  readonly title: string;
  readonly category: Category;
  readonly priority: Priority;
  readonly status: WorkOrderStatus;
  readonly description?: string;
  readonly device?: string;
  readonly alarm?: string;
  readonly source?: string;
  readonly assignee?: string;
  readonly dueAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
  readonly startedAt?: number;
  readonly resolvedAt?: number;
  readonly closedAt?: number;
  readonly resolution?: string;
  readonly holdReason?: string;
  readonly attachments: readonly Record<string, unknown>[];
  readonly notes: readonly WorkOrderNote[];
  /** Operations applied so far (1 after create). */
  readonly version: number;
}

export type ApplyResult = { readonly ok: true; readonly state: WorkOrder } | { readonly ok: false; readonly reason: string };

/** Where each operation may be applied from, and where it leads (`same` keeps the status). */
const TRANSITIONS: Readonly<Record<Exclude<WorkOrderOpKind, 'create'>, { from: readonly WorkOrderStatus[]; to: WorkOrderStatus | 'same' | 'open-or-assigned' }>> = {
  assign: { from: ['open', 'assigned', 'in_progress', 'on_hold'], to: 'same' },
  start: { from: ['assigned'], to: 'in_progress' },
  hold: { from: ['in_progress'], to: 'on_hold' },
  resume: { from: ['on_hold'], to: 'in_progress' },
  note: { from: WO_STATUSES, to: 'same' },
  resolve: { from: ['in_progress', 'on_hold'], to: 'resolved' },
  close: { from: ['resolved'], to: 'closed' },
  cancel: { from: ['open', 'assigned', 'in_progress', 'on_hold'], to: 'cancelled' },
  reopen: { from: ['resolved', 'closed'], to: 'open-or-assigned' },
};

/** Statuses from which an operation kind is allowed (for UIs: which buttons to show). */
export function allowedOps(status: WorkOrderStatus): WorkOrderOpKind[] {
  return (Object.keys(TRANSITIONS) as Exclude<WorkOrderOpKind, 'create'>[]).filter((k) => TRANSITIONS[k].from.includes(status));
}

function str(data: Record<string, unknown>, key: string): string | undefined {
  const v = data[key];
  return typeof v === 'string' ? v : undefined;
}

/**
 * The state machine (DESIGN.md: `open → assigned → in_progress ⇄ on_hold → resolved →
 * closed`, or `cancelled`). Pure: returns the new state or the reason the operation is
 * refused. `data` must already satisfy `OpData[op]` (both sides validate it on entry).
 */
export function applyOp(state: WorkOrder | undefined, op: WorkOrderOp): ApplyResult {
  const data = op.data;
  if (op.op === 'create') {
    if (state !== undefined) return { ok: false, reason: `work order ${op.workOrder} already exists` };
    const priority = data.priority as Priority;
    return {
      ok: true,
      state: {
        id: op.workOrder,
        site: data.site as string,
        title: data.title as string,
        category: data.category as Category,
        priority,
        status: 'open',
        ...(str(data, 'description') === undefined ? {} : { description: str(data, 'description') }),
        ...(str(data, 'device') === undefined ? {} : { device: str(data, 'device') }),
        ...(str(data, 'alarm') === undefined ? {} : { alarm: str(data, 'alarm') }),
        ...(str(data, 'source') === undefined ? {} : { source: str(data, 'source') }),
        dueAt: typeof data.dueAt === 'number' ? data.dueAt : op.ts + DEFAULT_SLA[priority].resolveMs,
        createdAt: op.ts,
        createdBy: op.actor,
        updatedAt: op.ts,
        attachments: Array.isArray(data.attachments) ? (data.attachments as Record<string, unknown>[]) : [],
        notes: [],
        version: 1,
      },
    };
  }
  if (state === undefined) return { ok: false, reason: `work order ${op.workOrder} does not exist (its create operation has not been applied)` };
  const rule = TRANSITIONS[op.op];
  if (!rule.from.includes(state.status)) {
    return { ok: false, reason: `cannot ${op.op} a work order that is ${state.status} (allowed from: ${rule.from.join(', ')})` };
  }
  const base = { ...state, updatedAt: Math.max(state.updatedAt, op.ts), version: state.version + 1 };
  switch (op.op) {
    case 'assign': {
      const assignee = data.assignee as string;
      return { ok: true, state: { ...base, assignee, status: state.status === 'open' ? 'assigned' : state.status } };
    }
    case 'start':
      return { ok: true, state: { ...base, status: 'in_progress', startedAt: state.startedAt ?? op.ts } };
    case 'hold':
      return { ok: true, state: { ...base, status: 'on_hold', holdReason: data.reason as string } };
    case 'resume': {
      const { holdReason: _dropped, ...rest } = base;
      return { ok: true, state: { ...rest, status: 'in_progress' } };
    }
    case 'note': {
      const note: WorkOrderNote = {
        op: op.id,
        actor: op.actor,
        ts: op.ts,
        text: data.text as string,
        ...(Array.isArray(data.attachments) ? { attachments: data.attachments as Record<string, unknown>[] } : {}),
        ...(typeof data.alarm === 'string' ? { alarm: data.alarm } : {}),
      };
      // Notes always merge (DESIGN.md): kept in time order whatever order they arrive in.
      const notes = [...state.notes, note].sort((a, b) => a.ts - b.ts || (a.op < b.op ? -1 : 1));
      return { ok: true, state: { ...base, notes } };
    }
    case 'resolve':
      return { ok: true, state: { ...base, status: 'resolved', resolvedAt: op.ts, resolution: data.resolution as string } };
    case 'close':
      return { ok: true, state: { ...base, status: 'closed', closedAt: op.ts } };
    case 'cancel':
      return { ok: true, state: { ...base, status: 'cancelled', closedAt: op.ts, resolution: data.reason as string } };
    case 'reopen': {
      const { resolvedAt: _r, closedAt: _c, resolution: _s, ...rest } = base;
      return { ok: true, state: { ...rest, status: state.assignee === undefined ? 'open' : 'assigned' } };
    }
  }
}

/** Every alarm a work order covers: the one it was raised from and those its notes link. */
export function alarmsOf(wo: Pick<WorkOrder, 'alarm' | 'notes'>): string[] {
  const out = wo.alarm === undefined ? [] : [wo.alarm];
  for (const n of wo.notes) if (n.alarm !== undefined && !out.includes(n.alarm)) out.push(n.alarm);
  return out;
}

/** Replays operations from nothing; stops at the first refused one (returns its reason). */
export function foldOps(ops: readonly WorkOrderOp[]): ApplyResult {
  let state: WorkOrder | undefined;
  for (const op of ops) {
    const r = applyOp(state, op);
    if (!r.ok) return r;
    state = r.state;
  }
  return state === undefined ? { ok: false, reason: 'no operations' } : { ok: true, state };
}

// ── Downlink (DESIGN.md "Sync"): GET /v1/gateways/:id/changes?after=CURSOR&waitMs=N ──

/** kind `workorder.op`: an operation the cloud accepted (including the gateway's own, as confirmation). */
export const WorkOrderOpChange = WorkOrderOp;

/** kind `workorder.rejected`: an operation the cloud's state machine refused; the edge shows it with the reason. */
export const WorkOrderRejected = Type.Object(
  { opId: Uuid, workOrder: Uuid, op: Type.String(), reason: Type.String({ maxLength: 1000 }) },
  { additionalProperties: false },
);
export type WorkOrderRejected = Static<typeof WorkOrderRejected>;

/**
 * kind `config.desired`: the configuration the cloud wants this gateway to run. `parts`
 * holds whole documents by name: `site` (site.yaml text), `profiles/<id>` (profile YAML
 * text), `flows` (Node-RED flows JSON text), `models/<name>` (a manifest JSON text). The
 * checksum is sha256 (hex) of the canonical JSON of `parts` with keys sorted. The gateway
 * answers with an event `config.applied` (lane 1) `{ version, checksum, status: applied |
 * staged | failed, error? }`.
 */
export const ConfigDesired = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    checksum: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    parts: Type.Record(Type.String({ maxLength: 200 }), Type.String({ maxLength: 2 * 1024 * 1024 })),
  },
  { additionalProperties: false },
);
export type ConfigDesired = Static<typeof ConfigDesired>;

export const CHANGE_KINDS = ['workorder.op', 'workorder.rejected', 'config.desired'] as const;

export const Change = Type.Object(
  {
    /** Position in this gateway's feed: strictly increasing, may have gaps. */
    seq: Type.Integer({ minimum: 1 }),
    kind: Type.String({ pattern: '^[a-z][a-z0-9_.]*$', maxLength: 64 }),
    ts: Type.Integer({ minimum: 0 }),
    body: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type Change = Static<typeof Change>;

/**
 * The answer to `GET /v1/gateways/:id/changes?after=CURSOR&waitMs=N` (200). Asking with
 * `after=CURSOR` acknowledges every change ≤ CURSOR: the cloud records it as the gateway's
 * downlink cursor. With nothing newer the cloud holds the request up to `waitMs` (≤ 30000)
 * and answers with `changes: []`. A gateway that meets an unknown kind skips it and moves on.
 */
export const ChangesReply = Type.Object(
  {
    changes: Type.Array(Change, { maxItems: 1000 }),
    /** Cursor to ask after next time (the last change's seq, or `after` when none). */
    cursor: Type.Integer({ minimum: 0 }),
    /** True when more changes wait: ask again at once. */
    more: Type.Boolean(),
    serverTime: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type ChangesReply = Static<typeof ChangesReply>;

/** Canonical JSON (keys sorted) — what `ConfigDesired.checksum` is computed over. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
