/** Work orders as the API shows them: the state machine's state plus the cloud's SLA and residents' fields. */
import { Type, type Static } from 'typebox';
import type { WorkOrdersTable } from '../db/schema.js';
import { stateOf } from './submit.js';

const Int = Type.Integer();
const NInt = Type.Union([Type.Integer(), Type.Null()]);

export const WorkOrderView = Type.Object(
  {
    id: Type.String(),
    site: Type.String(),
    title: Type.String(),
    category: Type.String(),
    priority: Type.String(),
    status: Type.String(),
    description: Type.Optional(Type.String()),
    device: Type.Optional(Type.String()),
    alarm: Type.Optional(Type.String()),
    source: Type.Optional(Type.String()),
    assignee: Type.Optional(Type.String()),
    dueAt: Type.Integer({ description: 'SLA resolution deadline, ms epoch' }),
    responseDueAt: Type.Integer({ description: 'SLA response deadline (accepted or started by), ms epoch' }),
    respondedAt: NInt,
    createdAt: Int,
    createdBy: Type.String(),
    updatedAt: Int,
    startedAt: Type.Optional(Int),
    resolvedAt: Type.Optional(Int),
    closedAt: Type.Optional(Int),
    resolution: Type.Optional(Type.String()),
    holdReason: Type.Optional(Type.String()),
    attachments: Type.Array(Type.Record(Type.String(), Type.Unknown())),
    notes: Type.Array(
      Type.Object(
        { op: Type.String(), actor: Type.String(), ts: Int, text: Type.String(), attachments: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))) },
        { additionalProperties: false },
      ),
    ),
    version: Int,
    escalated: Type.Object({ response: NInt, resolve: NInt }, { additionalProperties: false }),
    rating: NInt,
    ratingComment: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type WorkOrderView = Static<typeof WorkOrderView>;

export function workOrderView(row: WorkOrdersTable): WorkOrderView {
  const s = stateOf(row);
  return {
    ...s,
    notes: s.notes.map((n) => ({ ...n, attachments: n.attachments === undefined ? undefined : [...n.attachments] })).map(({ attachments, ...n }) => (attachments === undefined ? n : { ...n, attachments })),
    attachments: [...s.attachments],
    responseDueAt: row.response_due_at,
    respondedAt: row.responded_at,
    escalated: { response: row.response_escalated_at, resolve: row.resolve_escalated_at },
    rating: row.rating,
    ratingComment: row.rating_comment,
  };
}
