import t from 'tap';
import { Value } from 'typebox/value';
import { uuidv7 } from '../uuid.js';
import { allowedOps, applyOp, DEFAULT_SLA, foldOps, OpData, WO_OPS, WO_STATUSES, WorkOrderOp, canonicalJson, type WorkOrder, type WorkOrderOpKind, type WorkOrderStatus } from '../work-orders.js';

const WO = uuidv7();
let clock = 1_700_000_000_000;
const DATA: Record<WorkOrderOpKind, Record<string, unknown>> = {
  create: { site: 'sz-garden-01', title: 'Pump P-2 low outlet pressure', category: 'plumbing', priority: 'P2', device: 'pump-2' },
  assign: { assignee: 'li.wei' },
  start: {},
  hold: { reason: 'waiting for a spare seal' },
  resume: {},
  note: { text: 'seal ordered' },
  resolve: { resolution: 'seal replaced' },
  close: {},
  cancel: { reason: 'duplicate' },
  reopen: { reason: 'leaking again' },
};
const op = (kind: WorkOrderOpKind, data: Record<string, unknown> = DATA[kind]): WorkOrderOp => ({ id: uuidv7(), workOrder: WO, op: kind, actor: 'tester', ts: (clock += 1000), data });

/** A work order brought to each status by a legal path. */
const PATHS: Record<WorkOrderStatus, WorkOrderOpKind[]> = {
  open: ['create'],
  assigned: ['create', 'assign'],
  in_progress: ['create', 'assign', 'start'],
  on_hold: ['create', 'assign', 'start', 'hold'],
  resolved: ['create', 'assign', 'start', 'resolve'],
  closed: ['create', 'assign', 'start', 'resolve', 'close'],
  cancelled: ['create', 'cancel'],
};
const at = (status: WorkOrderStatus): WorkOrder => {
  const r = foldOps(PATHS[status].map((k) => op(k)));
  if (!r.ok) throw new Error(r.reason);
  return r.state;
};

t.test('every sample operation satisfies its own schema', async (t) => {
  for (const kind of WO_OPS) t.ok(Value.Check(OpData[kind], DATA[kind]), kind);
  t.ok(Value.Check(WorkOrderOp, op('create')));
  t.notOk(Value.Check(OpData.create, { ...DATA.create, priority: 'P9' }), 'unknown priority refused');
  t.notOk(Value.Check(OpData.assign, { assignee: '' }), 'empty assignee refused');
});

t.test('each legal path reaches its status', async (t) => {
  for (const status of WO_STATUSES) t.equal(at(status).status, status, status);
});

t.test('every illegal transition is refused with a reason naming the status', async (t) => {
  let refused = 0;
  for (const status of WO_STATUSES) {
    const state = at(status);
    const allowed = new Set(allowedOps(status));
    for (const kind of WO_OPS) {
      if (kind === 'create') {
        const r = applyOp(state, op('create'));
        t.notOk(r.ok, `create on an existing work order (${status})`);
        continue;
      }
      const r = applyOp(state, op(kind));
      t.equal(r.ok, allowed.has(kind), `${kind} from ${status}`);
      if (!r.ok) {
        refused++;
        t.match(r.reason, new RegExp(`cannot ${kind} a work order that is ${status}`));
      }
    }
  }
  t.ok(refused > 20, `many combinations refused (${refused})`);
});

t.test('operations on an unknown work order are refused', async (t) => {
  const r = applyOp(undefined, op('assign'));
  t.notOk(r.ok);
  if (!r.ok) t.match(r.reason, /does not exist/);
});

t.test('create sets the SLA deadline from the priority unless given', async (t) => {
  const c = op('create');
  const r = applyOp(undefined, c);
  t.ok(r.ok);
  if (r.ok) t.equal(r.state.dueAt, c.ts + DEFAULT_SLA.P2.resolveMs);
  const r2 = applyOp(undefined, op('create', { ...DATA.create, dueAt: 42 }));
  if (r2.ok) t.equal(r2.state.dueAt, 42);
});

t.test('notes merge in time order whatever order they arrive in, in any status', async (t) => {
  let s = at('closed');
  const late = op('note', { text: 'second' });
  const early = { ...op('note', { text: 'first' }), ts: late.ts - 5000 };
  for (const n of [late, early]) {
    const r = applyOp(s, n);
    t.ok(r.ok);
    if (r.ok) s = r.state;
  }
  t.same(
    s.notes.map((n) => n.text),
    ['first', 'second'],
  );
  t.equal(s.status, 'closed', 'a note does not change the status');
});

t.test('assign keeps the status except from open; reopen goes back to assigned', async (t) => {
  t.equal(applyOp(at('open'), op('assign')).ok && (applyOp(at('open'), op('assign')) as { state: WorkOrder }).state.status, 'assigned');
  const r = applyOp(at('in_progress'), op('assign', { assignee: 'zhang.min' }));
  t.ok(r.ok && r.state.status === 'in_progress' && r.state.assignee === 'zhang.min');
  const re = applyOp(at('closed'), op('reopen'));
  t.ok(re.ok && re.state.status === 'assigned' && re.state.closedAt === undefined);
});

t.test('canonical JSON sorts keys at every depth', async (t) => {
  t.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' } }), '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}');
});
