/**
 * What the ONVIF driver owns of the configuration (CONVENTIONS §5): the `onvif`
 * connection block, a point's `address` (the latest value of one event data item), and
 * the profile's `onvif:` block. Checked at load, never at read time.
 */
import { Type, type Static } from 'typebox';

export const OnvifConnection = Type.Object(
  {
    protocol: Type.Literal('onvif'),
    /** Base URL of the device, `http(s)://host[:port]`; the device service is at `path` below it. */
    url: Type.String({ pattern: '^https?://[^/\\s]+/?$', 'x-expect': 'an http:// or https:// URL of host and port only, e.g. http://192.168.1.64:80' }),
    /** Path of the device service (ONVIF Core §5.1.1: `/onvif/device_service` by convention). */
    path: Type.String({ pattern: '^/', default: '/onvif/device_service' }),
    /** ONVIF user (Core §5.12: a user of level Operator or above can read events and snapshots). */
    username: Type.String({ minLength: 1 }),
    /** Name of the environment variable that holds the password (the loader resolves it). */
    passwordEnv: Type.Optional(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' })),
    /** File holding the password, relative to site.yaml (the loader resolves it). */
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Per-request timeout of every SOAP call and snapshot fetch except PullMessages (ms). */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
    /** How long one PullMessages waits on the device for messages (s); Event Service §9.1 long poll. */
    pullTimeoutS: Type.Integer({ minimum: 1, maximum: 600, default: 10 }),
    /** Most notification messages one PullMessages may return. */
    messageLimit: Type.Integer({ minimum: 1, maximum: 1000, default: 20 }),
    /** Lifetime asked for the pull-point subscription (s); it is renewed well before it ends. */
    subscriptionTtlS: Type.Integer({ minimum: 2, maximum: 86_400, default: 60 }),
    /** UDP port of the unicast WS-Discovery probe sent by `discover()` (WS-Discovery 1.0 §2.4: 3702). */
    discoveryPort: Type.Integer({ minimum: 1, maximum: 65535, default: 3702 }),
  },
  { additionalProperties: false },
);
export type OnvifConnection = Static<typeof OnvifConnection>;

/**
 * A point of an ONVIF profile: the latest value of one data item of one event topic
 * (e.g. a door's `State` from `tns1:Door/State/DoorPhysicalState`). Its value is updated
 * by every notification of that topic, `Initialized` ones included.
 */
export const OnvifAddress = Type.Object(
  {
    source: Type.Literal('event', { default: 'event' }),
    /** Event topic, with or without namespace prefixes (`tns1:Door/State/DoorPhysicalState`). */
    topic: Type.String({ minLength: 1 }),
    /** Name of the SimpleItem in the message's Data (or, if none there, its Source). */
    item: Type.String({ minLength: 1 }),
  },
  { additionalProperties: false },
);
export type OnvifAddress = Static<typeof OnvifAddress>;

export const OnvifOptions = Type.Object(
  {
    /** Media profile whose snapshot URI is used; default: the first profile the device lists. */
    profileToken: Type.Optional(Type.String({ minLength: 1 })),
    /** Look up the snapshot URI at connect (GetSnapshotUri) so events can point to snapshots. */
    snapshot: Type.Boolean({ default: true }),
    /**
     * Events of the same type raised by rules of *different* topics within this window (ms)
     * are one event: many cameras send one motion both as VideoSource/MotionAlarm and as
     * RuleEngine/CellMotionDetector/Motion. 0 = never merge.
     */
    mergeMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 1000 }),
  },
  { additionalProperties: false },
);
export type OnvifOptions = Static<typeof OnvifOptions>;

/** The connection protocols this driver serves, for schemas.ts. */
export const onvifConnectionSchemas = {
  onvif: { profileProtocol: 'onvif', schema: OnvifConnection },
} as const;

/** The profile protocol this driver serves: points are optional (a camera has events only). */
export const onvifProfileSchemas = {
  onvif: { address: OnvifAddress, options: OnvifOptions, needsPoints: false },
} as const;
