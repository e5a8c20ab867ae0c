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

export const DEVICE_ID_PATTERN = '^[a-z0-9][a-z0-9-]*$';

export const SystemKind = Type.Enum(['elevator', 'water', 'power', 'hvac', 'lighting', 'fire', 'access', 'camera', 'other']);
export type SystemKind = Static<typeof SystemKind>;


const Listener = (port: number) =>
  Type.Object({ host: Type.String({ minLength: 1, default: '127.0.0.1' }), port: Type.Integer({ minimum: 0, maximum: 65535, default: port }) }, { additionalProperties: false, default: {} });

const Store = Type.Object(
  {
    /** Raw samples are kept this many days (1-minute roll-ups outlive them). */
    rawRetentionDays: Type.Number({ exclusiveMinimum: 0, default: 7 }),
    /** 1-minute roll-ups are kept this many days. */
    rollupRetentionDays: Type.Number({ exclusiveMinimum: 0, default: 365 }),
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
        http: Listener(8080),
        mqtt: Listener(1884),
        /** Relative to the folder of site.yaml. */
        dataDir: Type.String({ default: './data' }),
        /** Folders searched for profile ids, relative to site.yaml; the bundled library is always last. */
        profileDirs: Type.Array(Type.String(), { default: [] }),
        logLevel: Type.Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info' }),
        store: Store,
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
