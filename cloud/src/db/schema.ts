/**
 * The cloud database as Kysely sees it. Column names are snake_case, as both SQLite and
 * PostgreSQL prefer. Conventions that keep one set of queries working on both dialects:
 * times are integer ms since the epoch (`bigint` in PostgreSQL, read back as numbers —
 * see db/open.ts); JSON is stored as text (`*_json` columns) and parsed in the cloud;
 * there are no boolean columns (a nullable timestamp says "done, and when").
 */
export interface SitesTable {
  id: string;
  name: string;
  created_at: number;
}

export interface GatewaysTable {
  id: string;
  site_id: string;
  /** SHA-256 (hex) of the gateway's secret; null until enrolled. */
  secret_hash: string | null;
  /** SHA-256 (hex) of the pending one-time enrolment token; null once used. */
  enrol_token_hash: string | null;
  enrol_expires_at: number | null;
  enrolled_at: number | null;
  last_seen_at: number | null;
  /** serverTime − gateway sentAt of the last batch, ms (positive: the gateway clock is behind). */
  clock_offset_ms: number | null;
  created_at: number;
}

export interface LaneMarksTable {
  gateway_id: string;
  lane: number;
  /** Highest contiguous sequence stored for the lane: everything ≤ it is acknowledged. */
  acked_seq: number;
}

export interface ItemsTable {
  gateway_id: string;
  lane: number;
  seq: number;
  /** The item's UUIDv7, unique across the cloud. */
  id: string;
  kind: string;
  ts: number;
  body_json: string;
  received_at: number;
}

export interface EventsTable {
  id: string;
  site_id: string;
  gateway_id: string;
  device_id: string | null;
  type: string;
  severity: string;
  ts: number;
  body_json: string;
  received_at: number;
}

export interface LatestReadingsTable {
  site_id: string;
  /** `deviceId.pointName`. */
  point_id: string;
  device_id: string;
  point: string;
  value_json: string;
  quality: string;
  ts: number;
  gateway_id: string;
  received_at: number;
}

export interface UsersTable {
  id: string;
  name: string;
  /** `scrypt$N$r$p$salt$hash` (see users/passwords.ts). */
  password_hash: string;
  role: string;
  created_at: number;
}

export interface SessionsTable {
  /** SHA-256 (hex) of the login token. */
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface CloudSchema {
  sites: SitesTable;
  gateways: GatewaysTable;
  lane_marks: LaneMarksTable;
  items: ItemsTable;
  events: EventsTable;
  latest_readings: LatestReadingsTable;
  users: UsersTable;
  sessions: SessionsTable;
}
