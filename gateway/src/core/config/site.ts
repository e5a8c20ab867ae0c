/**
 * The site-config schema (`site.yaml`): one community's gateway — the site, the
 * gateway's own listeners and folders, the optional cloud link, and the device
 * *instances* (which profile, where, how to reach them). The keys of DESIGN.md's
 * "Configuration formats" are a contract: add keys, never rename them.
 *
 * A device's `connection` is owned by the driver of its protocol and checked against
 * that driver's schema after this one (CONVENTIONS §5).
 */
import { Type, type Static } from 'typebox';
import { AlarmSettings, DeviceAlarmKeys } from './alarms.js';
import { WorkOrderSettings } from './work-orders.js';
import { Mqtt } from './mqtt.js';

export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9-]*$';

export const SystemKind = Type.Enum(['elevator', 'water', 'power', 'hvac', 'lighting', 'fire', 'access', 'camera', 'other']);
export type SystemKind = Static<typeof SystemKind>;

const Store = Type.Object(
  {
    /** Raw samples are kept this many days (1-minute roll-ups outlive them). */
    rawRetentionDays: Type.Number({ exclusiveMinimum: 0, default: 7 }),
    /** 1-minute roll-ups are kept this many days. */
    rollupRetentionDays: Type.Number({ exclusiveMinimum: 0, default: 365 }),
    /** Events, alarm history and the audit log are kept this long on the gateway (the cloud keeps its own copy). */
    eventRetentionDays: Type.Number({ exclusiveMinimum: 0, default: 365 }),
    /** Size budget of the gateway database in MiB; past it telemetry is evicted (lanes 0/1 never). */
    maxSizeMb: Type.Number({ exclusiveMinimum: 0, default: 2048 }),
    /**
     * Readings of all devices are written together every flushIntervalMs (one transaction);
     * a crash loses at most this much telemetry. 0 writes each poll cycle at once.
     */
    flushIntervalMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 250 }),
    /** How often roll-ups, retention and the size budget are looked after, ms. */
    maintenanceIntervalMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
  },
  { additionalProperties: false, default: {} },
);

/** A clock time of day, HH:MM (24 h; 24:00 is the end of the day). */
const TimeOfDay = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$', 'x-expect': 'a time HH:MM' });

/**
 * Node-RED, run by the gateway as a supervised child process (gateway/src/flows/,
 * docs/node-red.md). The blocks `lighting`, `pump` and `elevator` bind the default flows of
 * flows/ to this site's devices; left out, they are derived from the devices' profiles.
 */
const NodeRed = Type.Object(
  {
    enabled: Type.Boolean({ default: false }),
    /** The editor and Node-RED's own HTTP endpoints; keep it on 127.0.0.1 behind a proxy. */
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1880 }),
    /** Load the default flows of flows/ when the user directory has none yet. */
    defaultFlows: Type.Boolean({ default: true }),
    /** First and longest wait before restarting a Node-RED that died, ms (doubling in between). */
    restartMinMs: Type.Integer({ minimum: 10, default: 1_000 }),
    restartMaxMs: Type.Integer({ minimum: 10, default: 60_000 }),
    /** Node-RED's heap limit, MiB (--max-old-space-size): a runaway flow dies alone. */
    maxHeapMb: Type.Integer({ minimum: 64, default: 256 }),
    /** How many flow versions are kept for rollback. */
    keepVersions: Type.Integer({ minimum: 2, default: 100 }),
    /** Default lighting flow: public lights by illuminance and timetable, with hysteresis. */
    lighting: Type.Optional(
      Type.Object(
        {
          device: Type.String({ pattern: DEVICE_ID_PATTERN }),
          /** Lights go on below onBelowLux and off above offAboveLux (hysteresis). */
          onBelowLux: Type.Number({ minimum: 0, default: 30 }),
          offAboveLux: Type.Number({ minimum: 0, default: 80 }),
          /** The illuminance must stay past a threshold this long before a switch, ms. */
          confirmMs: Type.Integer({ minimum: 0, default: 60_000 }),
          /** Channels switched, each within its timetable window (from–to, may span midnight). */
          channels: Type.Array(
            Type.Object({ point: Type.String({ pattern: '^[a-z0-9_]+$' }), from: TimeOfDay, to: TimeOfDay }, { additionalProperties: false }),
            { minItems: 1 },
          ),
        },
        { additionalProperties: false },
      ),
    ),
    /** Default pump flow: low outlet pressure while running → alarm → work order. */
    pump: Type.Optional(
      Type.Object(
        {
          devices: Type.Array(Type.String({ pattern: DEVICE_ID_PATTERN }), { minItems: 1 }),
          lowPressureBar: Type.Number({ minimum: 0, default: 1.5 }),
          deadbandBar: Type.Number({ minimum: 0, default: 0.2 }),
          delayMs: Type.Integer({ minimum: 0, default: 10_000 }),
        },
        { additionalProperties: false },
      ),
    ),
    /** Default elevator flow: entrapment → P1 alarm and work order with a camera snapshot. */
    elevator: Type.Optional(
      Type.Object(
        {
          devices: Type.Array(Type.String({ pattern: DEVICE_ID_PATTERN }), { minItems: 1 }),
          /** The boolean point that says a passenger called for help (the controller's trapped-passenger flag by default). */
          callPoint: Type.String({ pattern: '^[a-z0-9_]+$', default: 'entrapment' }),
          /** Elevator id → camera id whose snapshot goes with the work order. */
          cameras: Type.Record(Type.String({ pattern: DEVICE_ID_PATTERN }), Type.String({ pattern: DEVICE_ID_PATTERN }), { default: {} }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, default: {} },
);

/** A login of the gateway (control room, technicians, scripts). */
const User = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }),
    /** viewer: reads; operator: reads, acknowledges, writes points; technician: + config and flows; admin: everything. */
    role: Type.Enum(['viewer', 'operator', 'technician', 'admin']),
    /** `scrypt$N$r$p$salt$hash` from `steward gateway hash-password`; or passwordEnv / passwordFile. */
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$', 'x-expect': 'a hash from `steward gateway hash-password`' })),
    passwordEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);
export type UserDoc = Static<typeof User>;

const Cloud = Type.Object(
  {
    url: Type.String({ pattern: '^https?://', 'x-expect': 'an http:// or https:// URL' }),
    gatewayId: Type.String({ pattern: DEVICE_ID_PATTERN }),
    /** One-time token from `steward cloud gateway add`; exchanged for a credential on first contact. */
    enrolmentToken: Type.Optional(Type.String({ minLength: 8 })),
    enrolmentTokenEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
    /** How often the latest values of changed points are queued for the cloud (lane 2). */
    snapshotIntervalMs: Type.Integer({ minimum: 200, default: 10_000 }),
    /** Most items in one uplink batch. */
    batchMaxItems: Type.Integer({ minimum: 1, maximum: 5000, default: 500 }),
    /** Per-request timeout of uplink calls. */
    requestTimeoutMs: Type.Integer({ minimum: 100, default: 15_000 }),
    /**
     * gzip level of uplink batches, 1 (fastest; the default) … 9 (smallest). Level 1 costs a
     * third of level 6's CPU for ~10 % more bytes: right for a backlog drained over a fast
     * link; raise it on a metered or slow uplink (docs/benchmarks.md "drain").
     */
    gzipLevel: Type.Optional(Type.Integer({ minimum: 1, maximum: 9 })),
    /** How long the cloud may hold a downlink long-poll (GET …/changes) with nothing to say, ms (≤ 30000). */
    downlinkWaitMs: Type.Integer({ minimum: 0, maximum: 30_000, default: 25_000 }),
    /** A gateway clock further than this from the cloud's is flagged (event gateway.clock_skew), ms. */
    maxClockSkewMs: Type.Integer({ minimum: 100, default: 10_000 }),
  },
  { additionalProperties: false },
);

const Device = Type.Object(
  {
    id: Type.String({ pattern: DEVICE_ID_PATTERN, maxLength: 64 }),
    name: Type.Optional(Type.String()),
    /** An id under device-profiles/ (e.g. water/vfd-pump) or a .yaml path relative to site.yaml. */
    profile: Type.String({ minLength: 1 }),
    system: SystemKind,
    location: Type.Optional(
      Type.Object(
        { building: Type.Optional(Type.String()), floor: Type.Optional(Type.String()), room: Type.Optional(Type.String()), note: Type.Optional(Type.String()) },
        { additionalProperties: false },
      ),
    ),
    pollIntervalMs: Type.Integer({ minimum: 50, maximum: 86_400_000, default: 1000 }),
    enabled: Type.Boolean({ default: true }),
    // Alarm keys (core/config/alarms.ts, docs/alarms.md): dependsOn, alarms, eventAlarms, disableAlarms.
    ...DeviceAlarmKeys,
    connection: Type.Object({ protocol: Type.String({ minLength: 1, 'x-expect': 'a protocol name' }) }, { additionalProperties: true }),
  },
  { additionalProperties: false },
);

export const Site = Type.Object(
  {
    site: Type.Object(
      {
        id: Type.String({ pattern: DEVICE_ID_PATTERN, maxLength: 64 }),
        name: Type.String({ minLength: 1 }),
        timezone: Type.String({ default: 'Asia/Shanghai' }),
      },
      { additionalProperties: false },
    ),
    gateway: Type.Object(
      {
        /**
         * The API and panel listener. readAccess `open` (default): reads of /api/v1 need no
         * login; `login`: they need a viewer's token too (docs/configuration.md).
         */
        http: Type.Object(
          {
            host: Type.String({ minLength: 1, default: '127.0.0.1' }),
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
            readAccess: Type.Enum(['open', 'login'], { default: 'open' }),
          },
          { additionalProperties: false, default: {} },
        ),
        /** The embedded MQTT broker: host and port (the contract) plus users, TLS, bridge (core/config/mqtt.ts). */
        mqtt: Mqtt,
        /** Relative to the folder of site.yaml. */
        dataDir: Type.String({ default: './data' }),
        /** Folders searched for profile ids, relative to site.yaml; the bundled library is always last. */
        profileDirs: Type.Array(Type.String(), { default: [] }),
        logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
        store: Store,
        /** Alarm engine settings: flood control, shelving limit, device-offline alarms (docs/alarms.md). */
        alarms: AlarmSettings,
        nodeRed: NodeRed,
        /** Rules that open work orders from alarms and events (core/config/work-orders.ts, docs/configuration.md). */
        workOrders: Type.Optional(WorkOrderSettings),
      },
      { additionalProperties: false, default: {} },
    ),
    cloud: Type.Optional(Cloud),
    /** Logins of the gateway's API (and, later, the panel and Node-RED's editor). */
    users: Type.Array(User, { default: [] }),
    devices: Type.Array(Device, { default: [] }),
  },
  { additionalProperties: false },
);

export type SiteDoc = Static<typeof Site>;
export type DeviceDoc = Static<typeof Device>;
export type CloudDoc = Static<typeof Cloud>;
export type NodeRedDoc = Static<typeof NodeRed>;
