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
  /** The region the site belongs to (company → region → site → gateway); null: none yet. */
  region_id: string | null;
  /** Where the community is (WGS84 degrees), for dispatch distances. */
  lat: number | null;
  lon: number | null;
}

export interface RegionsTable {
  id: string;
  name: string;
  created_at: number;
}

/** What a non-admin user may see: sites, or whole regions. */
export interface UserScopesTable {
  user_id: string;
  scope_kind: 'site' | 'region';
  scope_id: string;
}

/** One gateway's downlink: the last seq given to a change and the cursor the gateway last asked after. */
export interface DownlinkTable {
  gateway_id: string;
  last_seq: number;
  cursor: number;
  polled_at: number | null;
}

export interface ChangesTable {
  gateway_id: string;
  seq: number;
  kind: string;
  ts: number;
  body_json: string;
}

export interface WorkOrdersTable {
  id: string;
  site_id: string;
  status: string;
  priority: string;
  category: string;
  assignee: string | null;
  device_id: string | null;
  alarm_id: string | null;
  source: string | null;
  created_by: string;
  created_at: number;
  updated_at: number;
  /** SLA resolution deadline (ms epoch). */
  due_at: number;
  /** SLA response deadline (ms epoch): accepted or started by then. */
  response_due_at: number;
  /** First accept or start. */
  responded_at: number | null;
  resolved_at: number | null;
  closed_at: number | null;
  version: number;
  /** protocol WorkOrder, as applyOp made it. */
  state_json: string;
  response_escalated_at: number | null;
  resolve_escalated_at: number | null;
  /** SHA-256 of the resident's link token; null: no link issued. */
  resident_token_hash: string | null;
  rating: number | null;
  rating_comment: string | null;
  rated_at: number | null;
}

export interface WorkOrderOpsTable {
  id: string;
  work_order_id: string;
  site_id: string | null;
  op: string;
  actor: string;
  ts: number;
  data_json: string;
  /** `accepted` or `rejected`. */
  outcome: string;
  reason: string | null;
  /** The work order's version after the operation (accepted only). */
  version: number | null;
  /** The gateway that sent it; null when made in the cloud. */
  gateway_id: string | null;
  /** Dispatch's explanation of an assign operation. */
  explain_json: string | null;
  received_at: number;
}

export interface AlarmsTable {
  id: string;
  site_id: string;
  device_id: string | null;
  rule: string;
  system: string | null;
  severity: string;
  /** `active` | `cleared`. */
  state: string;
  acked_at: number | null;
  acked_by: string | null;
  raised_at: number;
  cleared_at: number | null;
  shelved_until: number | null;
  raise_count: number;
  last_event_id: string;
  updated_at: number;
  work_order_id: string | null;
}

export interface WoRulesTable {
  id: string;
  name: string;
  event_type: string;
  match_json: string;
  priority: string;
  category: string | null;
  title: string;
  position: number;
  enabled: number;
}

export interface SlaPoliciesTable {
  priority: string;
  response_ms: number;
  resolve_ms: number;
}

export interface EscalationsTable {
  id: string;
  work_order_id: string;
  site_id: string;
  /** `response` | `resolve`. */
  kind: string;
  due_at: number;
  at: number;
}

export interface TechniciansTable {
  /** The technician's user name. */
  name: string;
  skills_json: string;
  phone: string | null;
  lat: number | null;
  lon: number | null;
  /** Site checked in at, if any. */
  site_id: string | null;
  located_at: number | null;
  created_at: number;
}

export interface ShiftsTable {
  id: string;
  technician: string;
  start_at: number;
  end_at: number;
}

export interface AssignmentsTable {
  id: string;
  work_order_id: string;
  technician: string;
  /** `offered` | `accepted` | `declined` | `expired` | `superseded`. */
  status: string;
  offered_at: number;
  accept_by: number;
  answered_at: number | null;
  explain_json: string;
}

export interface AttachmentsTable {
  id: string;
  work_order_id: string;
  content_type: string;
  bytes: number;
  data: Buffer;
  uploaded_by: string;
  created_at: number;
}

export interface WebhooksTable {
  id: string;
  url: string;
  secret: string;
  events_json: string;
  site_id: string | null;
  created_at: number;
}

export interface WebhookDeliveriesTable {
  id: string;
  webhook_id: string;
  event: string;
  body_json: string;
  /** `pending` | `delivered` | `failed` (gave up). */
  status: string;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface RollupsTable {
  site_id: string;
  point_id: string;
  minute: number;
  min: number;
  max: number;
  avg: number;
  count: number;
  last: number;
}

export interface ConfigReleasesTable {
  version: number;
  checksum: string;
  parts_json: string;
  note: string | null;
  created_by: string;
  created_at: number;
}

export interface GatewayConfigTable {
  gateway_id: string;
  desired_version: number | null;
  previous_version: number | null;
  desired_at: number | null;
  applied_version: number | null;
  applied_checksum: string | null;
  applied_status: string | null;
  applied_error: string | null;
  applied_at: number | null;
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

/** The roll-up projector's cursor (sync/projector.ts): items of the lane up to `projected_seq` are projected. */
export interface ProjectionMarksTable {
  gateway_id: string;
  lane: number;
  projected_seq: number;
}

export interface CloudSchema {
  sites: SitesTable;
  gateways: GatewaysTable;
  lane_marks: LaneMarksTable;
  projection_marks: ProjectionMarksTable;
  items: ItemsTable;
  events: EventsTable;
  latest_readings: LatestReadingsTable;
  users: UsersTable;
  sessions: SessionsTable;
  regions: RegionsTable;
  user_scopes: UserScopesTable;
  downlink: DownlinkTable;
  changes: ChangesTable;
  work_orders: WorkOrdersTable;
  work_order_ops: WorkOrderOpsTable;
  alarms: AlarmsTable;
  wo_rules: WoRulesTable;
  sla_policies: SlaPoliciesTable;
  escalations: EscalationsTable;
  technicians: TechniciansTable;
  shifts: ShiftsTable;
  assignments: AssignmentsTable;
  attachments: AttachmentsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  rollups: RollupsTable;
  config_releases: ConfigReleasesTable;
  gateway_config: GatewayConfigTable;
}
