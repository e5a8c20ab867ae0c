/**
 * The wire contract between a Steward gateway and the Steward cloud, version 1.
 * Gateway and cloud share nothing else (DESIGN.md "Sync"). Schemas are TypeBox (JSON
 * Schema); the cloud validates with them, the gateway builds its requests from the types.
 * Documented in docs/sync-protocol.md — change both together, and only by adding.
 */
import { Type, type Static } from 'typebox';

export const PROTOCOL_VERSION = 1 as const;

/** Outbox lanes, each with its own sequence: a telemetry backlog never delays an alarm. */
export const LANES = [0, 1, 2] as const;
export type Lane = (typeof LANES)[number];
export const LANE_NAMES: Readonly<Record<Lane, string>> = { 0: 'alarms and work-order operations', 1: 'events', 2: 'telemetry' };

export const ID_PATTERN = '^[a-z0-9][a-z0-9-]*$';
export const UUID_PATTERN = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';

/** Limits both sides hold to. The cloud refuses more with 413; the gateway never sends more. */
export const LIMITS = {
  /** Most items in one batch. */
  maxItems: 5000,
  /** Largest batch body after decompression, in bytes. */
  maxBatchBytes: 8 * 1024 * 1024,
  /** Largest compressed request body, in bytes. */
  maxCompressedBytes: 2 * 1024 * 1024,
  /** Largest single item body once serialised, in bytes. */
  maxItemBytes: 256 * 1024,
} as const;

/** A point reading as synced: `id` is `deviceId.pointName`. */
export const WireReading = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*\\.[a-z0-9_]+$', maxLength: 160 }),
    v: Type.Union([Type.Number(), Type.Boolean(), Type.String({ maxLength: 1024 }), Type.Null()]),
    ts: Type.Integer({ minimum: 0 }),
    q: Type.Union([Type.Literal('good'), Type.Literal('bad'), Type.Literal('stale')]),
  },
  { additionalProperties: false },
);
export type WireReading = Static<typeof WireReading>;

/** kind `telemetry.latest` (lane 2): the latest value of every point that changed since the last one. */
export const TelemetryLatestBody = Type.Object({ readings: Type.Array(WireReading, { maxItems: 10_000 }) }, { additionalProperties: false });
export type TelemetryLatestBody = Static<typeof TelemetryLatestBody>;

/** kind `event` (lane 0 for alarm.*, lane 1 otherwise): an event as DESIGN.md's data model has it. */
export const EventBody = Type.Object(
  {
    id: Type.String({ pattern: UUID_PATTERN }),
    ts: Type.Integer({ minimum: 0 }),
    site: Type.String({ pattern: ID_PATTERN }),
    device: Type.Optional(Type.String({ pattern: ID_PATTERN })),
    type: Type.String({ pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$', maxLength: 64 }),
    severity: Type.Union([Type.Literal('critical'), Type.Literal('major'), Type.Literal('minor'), Type.Literal('warning'), Type.Literal('info')]),
    body: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type EventBody = Static<typeof EventBody>;

/** One point's roll-up of one minute. */
export const WireRollup = Type.Object(
  {
    id: Type.String({ pattern: '^[a-z0-9][a-z0-9-]*\\.[a-z0-9_]+$', maxLength: 160 }),
    /** ms epoch of the minute's start. */
    minute: Type.Integer({ minimum: 0 }),
    min: Type.Number(),
    max: Type.Number(),
    avg: Type.Number(),
    count: Type.Integer({ minimum: 1 }),
    last: Type.Number(),
  },
  { additionalProperties: false },
);
export type WireRollup = Static<typeof WireRollup>;

/** kind `telemetry.rollup` (lane 2): 1-minute roll-ups of good numeric samples (booleans as 0/1). */
export const TelemetryRollupBody = Type.Object({ rollups: Type.Array(WireRollup, { maxItems: 10_000 }) }, { additionalProperties: false });
export type TelemetryRollupBody = Static<typeof TelemetryRollupBody>;

/**
 * kind `telemetry.evicted` (lane 2): an item the gateway dropped to stay within its disk
 * budget before it was sent; its sequence is kept so the lane has no gap. `evicted`
 * names the original kind.
 */
export const TelemetryEvictedBody = Type.Object({ evicted: Type.String() }, { additionalProperties: false });

/**
 * Item kinds of v1. `workorder.op` (lane 0) carries a work-order operation made at the
 * edge (protocol/work-orders.ts `WorkOrderOp`). A cloud that meets an unknown kind stores
 * the item and acknowledges it (forward compatibility).
 */
export const ITEM_KINDS = ['telemetry.latest', 'telemetry.rollup', 'telemetry.evicted', 'event', 'workorder.op'] as const;
export type ItemKind = (typeof ITEM_KINDS)[number];

export const OutboxItem = Type.Object(
  {
    lane: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
    /** 1, 2, 3, … per lane, without gaps. */
    seq: Type.Integer({ minimum: 1 }),
    /** UUIDv7 of the item; a second item with the same id is a replay. */
    id: Type.String({ pattern: UUID_PATTERN }),
    kind: Type.String({ pattern: '^[a-z][a-z0-9_.]*$', maxLength: 64 }),
    /** When the change happened on the gateway (ms epoch, gateway clock). */
    ts: Type.Integer({ minimum: 0 }),
    body: Type.Record(Type.String(), Type.Unknown()),
  },
  { additionalProperties: false },
);
export type OutboxItem = Static<typeof OutboxItem>;

/** `POST /v1/gateways/:id/batches` request body (JSON, optionally `Content-Encoding: gzip`). */
export const Batch = Type.Object(
  {
    v: Type.Literal(PROTOCOL_VERSION),
    gateway: Type.String({ pattern: ID_PATTERN }),
    site: Type.String({ pattern: ID_PATTERN }),
    /** Gateway clock when sent (ms epoch): the cloud estimates the clock offset from it. */
    sentAt: Type.Integer({ minimum: 0 }),
    items: Type.Array(OutboxItem, { minItems: 1, maxItems: LIMITS.maxItems }),
  },
  { additionalProperties: false },
);
export type Batch = Static<typeof Batch>;

/** Per lane: the highest sequence the cloud has stored, so everything ≤ it is acknowledged. */
export const LaneMarks = Type.Object(
  { '0': Type.Integer({ minimum: 0 }), '1': Type.Integer({ minimum: 0 }), '2': Type.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);
export type LaneMarks = Static<typeof LaneMarks>;

/** The answer to a batch (200): the high-water marks after it, and the cloud's clock. */
export const BatchAck = Type.Object(
  {
    acked: LaneMarks,
    /** Items of this batch newly stored (0 for a pure replay). */
    accepted: Type.Integer({ minimum: 0 }),
    /** Items of this batch already stored before (replays). */
    duplicates: Type.Integer({ minimum: 0 }),
    serverTime: Type.Integer({ minimum: 0 }),
  },
  { additionalProperties: false },
);
export type BatchAck = Static<typeof BatchAck>;

/**
 * The answer to a batch whose first new item of a lane is not acked+1 (409,
 * code CS_ERR_BATCH_SEQ_GAP): the gateway must resume each lane from `acked[lane] + 1`.
 */
export const SeqGapError = Type.Object({
  statusCode: Type.Literal(409),
  code: Type.Literal('CS_ERR_BATCH_SEQ_GAP'),
  error: Type.String(),
  message: Type.String(),
  lane: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
  expected: Type.Integer({ minimum: 1 }),
  got: Type.Integer({ minimum: 1 }),
  acked: LaneMarks,
});
export type SeqGapError = Static<typeof SeqGapError>;

/**
 * The answer to a batch that resends an acknowledged sequence with a different item id
 * (409, code CS_ERR_BATCH_SEQ_REUSED): the gateway's numbering restarted (e.g. its database
 * was replaced). Taking such items as replays would drop them silently, so nothing of the
 * batch is stored: the gateway renumbers each lane from `acked[lane] + 1`.
 */
export const SeqReusedError = Type.Object({
  statusCode: Type.Literal(409),
  code: Type.Literal('CS_ERR_BATCH_SEQ_REUSED'),
  error: Type.String(),
  message: Type.String(),
  lane: Type.Union([Type.Literal(0), Type.Literal(1), Type.Literal(2)]),
  seq: Type.Integer({ minimum: 1 }),
  acked: LaneMarks,
});
export type SeqReusedError = Static<typeof SeqReusedError>;

/** Every error answer of the cloud has this shape (fastify's, plus our code). */
export const ErrorReply = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});
export type ErrorReply = Static<typeof ErrorReply>;

/** `POST /v1/gateways/:id/enrol` — trade the one-time enrolment token for the gateway's credential. */
export const EnrolRequest = Type.Object(
  {
    token: Type.String({ minLength: 8, maxLength: 256 }),
    /**
     * The gateway's own secret, made and stored by the gateway *before* it asks (≥ 256
     * random bits, `stg_` + base64url). Optional; when given the cloud keeps its hash
     * instead of making one. This makes enrolment crash-safe: a gateway that dies after
     * the cloud spent the token but before it heard the answer still holds a secret the
     * cloud knows.
     */
    secret: Type.Optional(Type.String({ pattern: '^stg_[A-Za-z0-9_-]{43,200}$' })),
  },
  { additionalProperties: false },
);
export type EnrolRequest = Static<typeof EnrolRequest>;
export const EnrolReply = Type.Object(
  {
    gateway: Type.String(),
    site: Type.String(),
    /** The gateway's secret: shown once, kept hashed by the cloud; send as `Authorization: Bearer <secret>`. */
    secret: Type.String(),
    acked: LaneMarks,
    serverTime: Type.Integer(),
  },
  { additionalProperties: false },
);
export type EnrolReply = Static<typeof EnrolReply>;

/** Which lane an item of a kind travels in. */
export function laneOf(kind: string, eventType?: string): Lane {
  if (kind === 'event') return eventType !== undefined && eventType.startsWith('alarm.') ? 0 : 1;
  if (kind.startsWith('workorder.')) return 0;
  return 2;
}
