/**
 * Schemas of the cloud's read API and shared pieces of every route schema. The uplink's
 * schemas are protocol v1's (protocol/v1.ts): this file holds what only people and tools
 * read, so it may grow without touching the wire contract.
 */
import { Type, type Static, type TSchema } from 'typebox';
import { ErrorReply, ID_PATTERN } from '../../../../protocol/v1.js';
import { MAX_ID_LENGTH } from '../../gateways/enrolment.js';
import { USER_NAME_PATTERN } from '../../users/users.js';

/** A site or gateway id in a path or query. */
export const Id = Type.String({ pattern: ID_PATTERN, maxLength: MAX_ID_LENGTH });

export const GatewayIdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const SiteParams = Type.Object({ site: Id }, { additionalProperties: false });

/** `{ 400: ErrorReply, 401: ErrorReply, … }` for the statuses a route can answer with an error. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ErrorReply } {
  return Object.fromEntries(statuses.map((s) => [s, ErrorReply])) as { [K in S[number]]: typeof ErrorReply };
}

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const LaneStatus = Type.Object({ ackedSeq: Type.Integer({ minimum: 0, description: 'Highest sequence stored: everything ≤ it is acknowledged.' }) }, { additionalProperties: false });

export const GatewayStatus = Type.Object(
  {
    id: Type.String(),
    site: Type.String(),
    enrolled: Type.Boolean({ description: 'True once the gateway traded its enrolment token for a secret.' }),
    enrolledAt: Nullable(Type.Integer({ description: 'ms epoch' })),
    lastSeenAt: Nullable(Type.Integer({ description: 'Last authenticated batch or enrolment, ms epoch (cloud clock).' })),
    clockOffsetMs: Nullable(Type.Integer({ description: 'Cloud clock − gateway clock at the last batch, ms (transit time included): positive means the gateway clock is behind.' })),
    lanes: Type.Object({ '0': LaneStatus, '1': LaneStatus, '2': LaneStatus }, { additionalProperties: false }),
    downlink: Type.Object(
      {
        cursor: Type.Integer({ minimum: 0, description: 'The `after` of its last GET …/changes: every change ≤ it is acknowledged.' }),
        lastSeq: Type.Integer({ minimum: 0, description: 'The seq of the newest change in its feed.' }),
        polledAt: Nullable(Type.Integer({ description: 'Its last GET …/changes, ms epoch.' })),
      },
      { additionalProperties: false },
    ),
    config: Type.Object(
      {
        desiredVersion: Nullable(Type.Integer()),
        appliedVersion: Nullable(Type.Integer()),
        appliedStatus: Nullable(Type.String()),
        appliedError: Nullable(Type.String()),
        appliedAt: Nullable(Type.Integer()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type GatewayStatus = Static<typeof GatewayStatus>;

/** `GET /v1/gateways/:id`: the status plus the cloud's clock, so a gateway's check-in can estimate its clock offset. */
export const GatewayStatusReply = Type.Object(
  { ...GatewayStatus.properties, serverTime: Type.Integer({ description: 'The cloud clock when answering, ms epoch.' }) },
  { additionalProperties: false },
);

export const Site = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    gateways: Type.Array(Type.String()),
    region: Type.Optional(Type.String({ description: 'The region the site belongs to (`PATCH /v1/sites/:site`); absent: none.' })),
    regionName: Type.Optional(Type.String()),
    lat: Type.Optional(Type.Number({ description: 'Where the community is, WGS84 degrees; absent: not set.' })),
    lon: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);
export type Site = Static<typeof Site>;

export const PointsQuery = Type.Object({ device: Type.Optional(Id) }, { additionalProperties: false });

export const Point = Type.Object(
  {
    id: Type.String({ description: '`deviceId.pointName`' }),
    device: Type.String(),
    point: Type.String(),
    value: Type.Union([Type.Number(), Type.Boolean(), Type.String(), Type.Null()]),
    quality: Type.Union([Type.Literal('good'), Type.Literal('bad'), Type.Literal('stale')]),
    ts: Type.Integer({ description: 'When the gateway read it, ms epoch (gateway clock).' }),
    receivedAt: Type.Integer({ description: 'When the cloud stored it, ms epoch.' }),
  },
  { additionalProperties: false },
);
export type Point = Static<typeof Point>;

/** Event types are dotted; `alarm.*` selects every type under `alarm.`. */
export const EVENT_TYPE_FILTER = '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)*(\\.\\*)?$';
export const EVENTS_MAX_LIMIT = 1000;

export const EventsQuery = Type.Object(
  {
    site: Type.Optional(Id),
    type: Type.Optional(Type.String({ pattern: EVENT_TYPE_FILTER, maxLength: 66, description: 'An exact type (`alarm.raised`) or a prefix (`alarm.*`).' })),
    since: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Only events with ts ≥ since (ms epoch).' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: EVENTS_MAX_LIMIT, default: 100 })),
    after: Type.Optional(
      Type.String({ pattern: '^[0-9]{1,16}_[0-9a-f-]{36}$', description: 'Cursor: the `x-next-cursor` header of the previous page.' }),
    ),
  },
  { additionalProperties: false },
);
export type EventsQuery = Static<typeof EventsQuery>;

export const CloudEvent = Type.Object(
  {
    id: Type.String(),
    site: Type.String(),
    gateway: Type.String(),
    device: Type.Optional(Type.String()),
    type: Type.String(),
    severity: Type.String(),
    ts: Type.Integer(),
    body: Type.Record(Type.String(), Type.Unknown()),
    receivedAt: Type.Integer(),
  },
  { additionalProperties: false },
);
export type CloudEvent = Static<typeof CloudEvent>;

export const LoginRequest = Type.Object(
  { name: Type.String({ pattern: USER_NAME_PATTERN }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
  { additionalProperties: false },
);
export const LoginReply = Type.Object(
  { token: Type.String({ description: 'Send as `Authorization: Bearer <token>`.' }), expiresAt: Type.Integer({ description: 'ms epoch' }) },
  { additionalProperties: false },
);

/** Security requirement for OpenAPI: a bearer token. */
export const bearer = [{ bearer: [] }];
