/**
 * Work-order routes of the gateway API (docs/gateway-api.md "Work orders"). Operators
 * create and update work orders here, online or not; each answer shows what the cloud
 * has not confirmed yet (`sync.pending`) and what it refused (`sync.rejected`).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { CATEGORIES, PRIORITIES, WO_OPS, WO_STATUSES, allowedOps, type WorkOrderOpKind } from '../../../protocol/work-orders.js';
import { GatewayError } from '../core/errors.js';
import type { WorkOrderStore } from '../store/work-orders.js';
import type { CreateInput, WorkOrderService } from '../workorders/service.js';
import type { Role, Session } from './auth.js';

export interface WorkOrderRoutesOptions {
  readonly service: WorkOrderService;
  readonly store: WorkOrderStore;
  authorize(req: { headers: Record<string, unknown> }, role: Role): Session;
}

const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });

const CreateBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: 200 }),
    priority: Type.Enum([...PRIORITIES]),
    category: Type.Optional(Type.Enum([...CATEGORIES])),
    description: Type.Optional(Type.String({ maxLength: 4000 })),
    device: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 })),
    alarm: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    dueAt: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

const OpBody = Type.Object(
  {
    op: Type.Enum(WO_OPS.filter((o) => o !== 'create')),
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);

const ListQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ pattern: `^(${WO_STATUSES.join('|')})(,(${WO_STATUSES.join('|')}))*$` })),
    open: Type.Optional(Type.Boolean()),
    device: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$' })),
    alarm: Type.Optional(Type.String({ maxLength: 200 })),
    before: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

export async function workOrderRoutes(app: FastifyInstance, opts: WorkOrderRoutesOptions): Promise<void> {
  const { service, store, authorize } = opts;

  app.get('/api/v1/work-orders', { schema: { querystring: ListQuery } }, async (req) => {
    const q = req.query as { status?: string; open?: boolean; device?: string; alarm?: string; before?: number; limit?: number };
    const items = store.list({
      ...(q.status === undefined ? {} : { status: q.status.split(',') }),
      ...(q.open === undefined ? {} : { open: q.open }),
      ...(q.device === undefined ? {} : { device: q.device }),
      ...(q.alarm === undefined ? {} : { alarm: q.alarm }),
      ...(q.before === undefined ? {} : { before: q.before }),
      limit: q.limit ?? 100,
    });
    const last = items[items.length - 1];
    return { items, next: items.length === (q.limit ?? 100) && last !== undefined ? last.createdAt : null };
  });

  app.get('/api/v1/work-orders/:id', { schema: { params: Type.Object({ id: Uuid }) } }, async (req) => {
    const { id } = req.params as { id: string };
    const view = service.get(id);
    return { ...view, allowed: allowedOps(view.status), ops: store.ops(id) };
  });

  app.post('/api/v1/work-orders', { schema: { body: CreateBody } }, async (req, reply) => {
    const session = authorize(req, 'operator');
    const view = service.create({ ...(req.body as CreateInput), source: 'operator' }, session.name);
    return reply.status(201).send(view);
  });

  app.post('/api/v1/work-orders/:id/ops', { schema: { params: Type.Object({ id: Uuid }), body: OpBody } }, async (req) => {
    const session = authorize(req, 'operator');
    const { id } = req.params as { id: string };
    const { op, data } = req.body as { op: WorkOrderOpKind; data?: Record<string, unknown> };
    if ((op as string) === 'create') throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', 'create with POST /api/v1/work-orders');
    return service.operate(id, op, data ?? {}, session.name);
  });
}
