/**
 * The alarm routes of the gateway's HTTP API (docs/gateway-api.md "Alarms"): the alarm
 * list and history for the control room, and the operator actions of ISA-18.2 —
 * acknowledge (with a note), shelve for a time, unshelve, out of service and back — plus
 * external alarms raised or cleared by name (Node-RED flows). Every action needs a login:
 * operator for acknowledge, shelve and external alarms, technician for out of service.
 *
 * The routes know the alarm engine only through `AlarmService` (the engine fits it), so
 * the API does not import the alarms part (test/boundaries.test.ts); main.ts hands it in.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { GatewayError } from '../core/errors.js';
import type { AlarmHistoryEntry, AlarmHistoryQuery, AlarmPriority, AlarmRecord, AlarmSeverity, AlarmState } from '../store/alarms.js';
import type { Role } from './auth.js';

/** What the routes need of the alarm engine (gateway/src/alarms/engine.ts implements it). */
export interface AlarmService {
  list(filter: {
    state?: AlarmState;
    severity?: AlarmSeverity;
    priority?: AlarmPriority;
    device?: string;
    system?: string;
    shelved?: boolean;
    suppressed?: boolean;
    groupId?: string;
    all?: boolean;
  }): AlarmRecord[];
  get(id: string): AlarmRecord | undefined;
  history(q: AlarmHistoryQuery): { items: AlarmHistoryEntry[]; nextCursor: number | null };
  ack(id: string, input: { note: string | undefined; actor: string; group?: boolean }): AlarmRecord;
  shelve(id: string, input: { durationMs: number | undefined; note: string | undefined; actor: string }): AlarmRecord;
  unshelve(id: string, input: { note?: string | undefined; actor: string }): AlarmRecord;
  outOfService(id: string, input: { note: string | undefined; actor: string }): AlarmRecord;
  returnToService(id: string, input: { note?: string | undefined; actor: string }): AlarmRecord;
  external(input: { source: string; name: string; active: boolean; severity?: AlarmSeverity; priority?: AlarmPriority; message?: string; actor: string }): AlarmRecord;
}

type Authorize = (req: FastifyRequest, role: Role) => { readonly name: string };

const ID_PATTERN = '^[a-z0-9][a-z0-9_.-]*:[a-z0-9][a-z0-9_.=-]*$';
const Id = Type.String({ pattern: ID_PATTERN, maxLength: 200 });
const Severity = Type.Enum(['critical', 'major', 'minor', 'warning']);
const Priority = Type.Enum(['P1', 'P2', 'P3', 'P4']);
const DeviceId = Type.String({ pattern: '^[a-z0-9][a-z0-9-]*$', maxLength: 64 });
const System = Type.Enum(['elevator', 'water', 'power', 'hvac', 'lighting', 'fire', 'access', 'camera', 'other']);
const Note = Type.String({ maxLength: 2000 });

const ListQuery = Type.Object(
  {
    state: Type.Optional(Type.Enum(['normal', 'unack_active', 'ack_active', 'unack_rtn'])),
    severity: Type.Optional(Severity),
    priority: Type.Optional(Priority),
    device: Type.Optional(DeviceId),
    system: Type.Optional(System),
    shelved: Type.Optional(Type.Boolean()),
    suppressed: Type.Optional(Type.Boolean()),
    group: Type.Optional(Type.String({ maxLength: 64 })),
    /** Every alarm ever raised, the normal ones too. */
    all: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const HistoryQuery = Type.Object(
  {
    alarm: Type.Optional(Id),
    device: Type.Optional(DeviceId),
    system: Type.Optional(System),
    severity: Type.Optional(Severity),
    type: Type.Optional(Type.String({ pattern: '^alarm\\.[a-z_]+$', maxLength: 40 })),
    from: Type.Optional(Type.Integer({ minimum: 0 })),
    to: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The `nextCursor` of the previous page. */
    cursor: Type.Optional(Type.Integer({ minimum: 1 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
  },
  { additionalProperties: false },
);

// Notes are optional in the schemas so that a missing one gets the alarm's own error
// (GW_ERR_ALARM_NOTE_REQUIRED, which says why) rather than a generic validation message.
const AckBody = Type.Object({ note: Type.Optional(Note), group: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
const ShelveBody = Type.Object({ durationMs: Type.Optional(Type.Integer({ minimum: 1 })), note: Type.Optional(Note) }, { additionalProperties: false });
const NoteBody = Type.Object({ note: Type.Optional(Note) }, { additionalProperties: false });
const ExternalBody = Type.Object(
  {
    source: Type.String({ minLength: 1, maxLength: 64 }),
    name: Type.String({ minLength: 1, maxLength: 96 }),
    active: Type.Boolean(),
    severity: Type.Optional(Severity),
    priority: Type.Optional(Priority),
    message: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

/** An alarm as the API shows it: the record, plus whether the control room should see and hear it now. */
function view(a: AlarmRecord): AlarmRecord & { annunciated: boolean } {
  return { ...a, annunciated: a.state !== 'normal' && !a.suppressed && a.shelvedUntil === null && !a.outOfService };
}

/** The routes, for `ApiContext.routes` (main.ts). */
export function alarmRoutes(alarms: AlarmService) {
  return async (app: FastifyInstance, authorize: Authorize): Promise<void> => {
    const idRe = new RegExp(ID_PATTERN);
    const idOf = (req: { params: unknown }): string => {
      const { id } = req.params as { id: string };
      if (!idRe.test(id)) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `"${id}" is not an alarm id: expected <source>:<rule>, e.g. pump-1:outlet_pressure.low`);
      return id;
    };

    app.get('/api/v1/alarms', { schema: { querystring: ListQuery } }, async (req) => {
      const { group, ...q } = req.query as Parameters<AlarmService['list']>[0] & { group?: string };
      return alarms.list({ ...q, ...(group === undefined ? {} : { groupId: group }) }).map(view);
    });

    app.get('/api/v1/alarms/history', { schema: { querystring: HistoryQuery } }, async (req) => {
      const { cursor, ...q } = req.query as AlarmHistoryQuery & { cursor?: number };
      if (q.from !== undefined && q.to !== undefined && q.from >= q.to) throw new GatewayError('GW_ERR_HTTP_BAD_REQUEST', `from (${q.from}) must be before to (${q.to})`);
      return alarms.history({ ...q, ...(cursor === undefined ? {} : { before: cursor }) });
    });

    app.get('/api/v1/alarms/:id', async (req) => {
      const id = idOf(req);
      const a = alarms.get(id);
      if (a === undefined) throw new GatewayError('GW_ERR_ALARM_NOT_FOUND', `no alarm "${id}" on this gateway (GET /api/v1/alarms?all=true lists them)`);
      return view(a);
    });

    app.post('/api/v1/alarms/:id/ack', { schema: { body: AckBody } }, async (req) => {
      const session = authorize(req, 'operator');
      const { note, group } = (req.body ?? {}) as { note?: string; group?: boolean };
      return view(alarms.ack(idOf(req), { note, actor: session.name, ...(group === undefined ? {} : { group }) }));
    });

    app.post('/api/v1/alarms/:id/shelve', { schema: { body: ShelveBody } }, async (req) => {
      const session = authorize(req, 'operator');
      const { durationMs, note } = (req.body ?? {}) as { durationMs?: number; note?: string };
      return view(alarms.shelve(idOf(req), { durationMs, note, actor: session.name }));
    });

    app.post('/api/v1/alarms/:id/unshelve', { schema: { body: NoteBody } }, async (req) => {
      const session = authorize(req, 'operator');
      const { note } = (req.body ?? {}) as { note?: string };
      return view(alarms.unshelve(idOf(req), { note, actor: session.name }));
    });

    app.post('/api/v1/alarms/:id/out-of-service', { schema: { body: NoteBody } }, async (req) => {
      const session = authorize(req, 'technician');
      const { note } = (req.body ?? {}) as { note?: string };
      return view(alarms.outOfService(idOf(req), { note, actor: session.name }));
    });

    app.post('/api/v1/alarms/:id/return-to-service', { schema: { body: NoteBody } }, async (req) => {
      const session = authorize(req, 'technician');
      const { note } = (req.body ?? {}) as { note?: string };
      return view(alarms.returnToService(idOf(req), { note, actor: session.name }));
    });

    app.post('/api/v1/alarms/external', { schema: { body: ExternalBody } }, async (req) => {
      const session = authorize(req, 'operator');
      const b = req.body as { source: string; name: string; active: boolean; severity?: AlarmSeverity; priority?: AlarmPriority; message?: string };
      return view(alarms.external({ ...b, actor: session.name }));
    });
  };
}
