/**
 * `gateway.mqtt` of site.yaml: the embedded MQTT broker (gateway/src/broker/, docs/mqtt.md)
 * — its listeners, its users and their ACLs, and the optional bridge to an upstream
 * broker. `host` and `port` are DESIGN.md's contract; every other key is added beside them.
 *
 * Secrets (`passwordEnv`, `passwordFile`) are resolved here, at load, like every other
 * secret of the config (only core/config reads `process.env`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import type { PathIssue } from './issues.js';

const EnvName = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' });
/** An MQTT topic filter (MQTT-4.7.1): levels split by `/`, `+` a whole level, `#` the last. */
const TopicFilter = Type.String({ minLength: 1, maxLength: 512, pattern: '^(?:(?:[^+#/]*|\\+)/)*(?:[^+#/]*|\\+|#)$', 'x-expect': 'an MQTT topic filter such as steward/v1/+/pump-1/#' });

/** A user of the broker only (a third-party system, a Node-RED of elsewhere, …). */
const MqttUser = Type.Object(
  {
    username: Type.String({ pattern: '^[A-Za-z0-9._:@-]{1,64}$' }),
    /** viewer: subscribe only; operator and above: may also publish `…/set` writes (same ranks as the API's logins). */
    role: Type.Enum(['viewer', 'operator', 'technician', 'admin'], { default: 'viewer' }),
    /** `scrypt$N$r$p$salt$hash` from `steward gateway hash-password`; or passwordEnv / passwordFile. */
    passwordHash: Type.Optional(Type.String({ pattern: '^scrypt\\$', 'x-expect': 'a hash from `steward gateway hash-password`' })),
    passwordEnv: Type.Optional(EnvName),
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * Narrows what the role allows: topic filters this user may subscribe to and publish on.
     * Left out, the role's defaults (the whole site to read; `…/set` of every point to write).
     */
    acl: Type.Optional(
      Type.Object(
        { subscribe: Type.Array(TopicFilter, { default: [] }), publish: Type.Array(TopicFilter, { default: [] }) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const Tls = Type.Object(
  {
    host: Type.Optional(Type.String({ minLength: 1 })),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 8884 }),
    /** PEM files, relative to site.yaml. */
    keyFile: Type.String({ minLength: 1 }),
    certFile: Type.String({ minLength: 1 }),
    /** When set, clients must present a certificate signed by this CA (mutual TLS). */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const Bridge = Type.Object(
  {
    /** mqtt://host:port or mqtts://host:port of the upstream (the property company's) broker. */
    url: Type.String({ pattern: '^mqtts?://', 'x-expect': 'an mqtt:// or mqtts:// URL' }),
    username: Type.Optional(Type.String({ minLength: 1 })),
    passwordEnv: Type.Optional(EnvName),
    passwordFile: Type.Optional(Type.String({ minLength: 1 })),
    /** Default `gw-<site id>`. */
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    /** Replaces the local `steward/v1/<site>` in every bridged topic; default: the same prefix. */
    topicPrefix: Type.Optional(Type.String({ minLength: 1, pattern: '^[^+#]*[^+#/]$', 'x-expect': 'a topic prefix without wildcards or a trailing /' })),
    /** Bridge every event (alarms included). */
    events: Type.Boolean({ default: true }),
    /** Bridge point values too (retained upstream); off by default: the cloud gets roll-ups anyway. */
    telemetry: Type.Boolean({ default: false }),
    /** QoS of bridged events (values go at QoS 0). */
    qos: Type.Union([Type.Literal(0), Type.Literal(1)], { default: 1 }),
    /** Events held while the upstream is unreachable; past it the oldest non-alarm event goes first. */
    maxQueuedEvents: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
    /** Points whose latest value is held while unreachable (one per point: the newest replaces the older). */
    maxQueuedValues: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 100_000 }),
    reconnectPeriodMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 5_000 }),
    keepaliveS: Type.Integer({ minimum: 0, maximum: 65_535, default: 60 }),
    /** For mqtts://: a CA file (PEM, relative to site.yaml) to trust besides the system's. */
    caFile: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

export const Mqtt = Type.Object(
  {
    host: Type.String({ minLength: 1, default: '127.0.0.1' }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: 1884 }),
    /** False runs the gateway without its broker. */
    enabled: Type.Boolean({ default: true }),
    /** Clients without a username get the viewer's rights (read only). Off by default. */
    allowAnonymous: Type.Boolean({ default: false }),
    /** The logins of `users:` may connect too, with their role's default rights. */
    gatewayUsers: Type.Boolean({ default: true }),
    users: Type.Array(MqttUser, { default: [] }),
    tls: Type.Optional(Tls),
    bridge: Type.Optional(Bridge),
    /**
     * Runs the broker (aedes, its listeners, the ACL, the fan-out to subscribers, the bridge)
     * in a worker thread, off the poller's: for sites with many subscribers of every value.
     * Costs RSS (+14–81 MB at the poll bench's nominal) and some CPU per point; off by default (docs/mqtt.md, "The broker in a worker thread").
     */
    worker: Type.Optional(Type.Boolean()),
    /** Largest PUBLISH a client may send, bytes. */
    maxPayloadBytes: Type.Integer({ minimum: 64, maximum: 16 * 1024 * 1024, default: 64 * 1024 }),
  },
  { additionalProperties: false, default: {} },
);

export type MqttDoc = Static<typeof Mqtt>;
export type MqttUserDoc = Static<typeof MqttUser>;

/** A broker user with its secret resolved. */
export interface MqttUserConfig {
  readonly username: string;
  readonly role: MqttUserDoc['role'];
  readonly passwordHash?: string;
  /** From passwordEnv / passwordFile; compared in constant time, never logged. */
  readonly password?: string;
  readonly acl?: { readonly subscribe: readonly string[]; readonly publish: readonly string[] };
}

/** `gateway.mqtt` after load: users with secrets, files made absolute. */
export interface MqttConfig extends Omit<MqttDoc, 'users' | 'bridge' | 'tls'> {
  readonly users: readonly MqttUserConfig[];
  readonly tls?: Static<typeof Tls>;
  readonly bridge?: Static<typeof Bridge> & { readonly password?: string };
}

type Secret = (holder: Record<string, unknown>, at: (string | number)[]) => string | undefined;

/**
 * Resolves the secrets and files of `gateway.mqtt`; pushes an issue for each problem
 * (a user with no or two passwords, a duplicate username, a missing TLS file).
 */
export function resolveMqtt(
  doc: MqttDoc,
  dir: string,
  secret: Secret,
  resolveSecrets: boolean,
  issues: PathIssue[],
  /** True when the schema already found a problem at this path below gateway.mqtt: skip it. */
  broken: (...at: (string | number)[]) => boolean = () => false,
): MqttConfig {
  const at = ['gateway', 'mqtt'];
  const users: MqttUserConfig[] = [];
  const names = new Set<string>();
  doc.users.forEach((u, i) => {
    if (broken('users', i)) return;
    if (names.has(u.username)) issues.push({ path: [...at, 'users', i, 'username'], message: `must be unique: "${u.username}" appears twice` });
    names.add(u.username);
    const ways = [u.passwordHash, u.passwordEnv, u.passwordFile].filter((w) => w !== undefined).length;
    if (ways !== 1) {
      issues.push({ path: [...at, 'users', i], message: 'needs exactly one of passwordHash, passwordEnv, passwordFile' });
      return;
    }
    const password = u.passwordHash !== undefined || !resolveSecrets ? undefined : secret(u as Record<string, unknown>, [...at, 'users', i]);
    users.push({
      username: u.username,
      role: u.role,
      ...(u.passwordHash === undefined ? {} : { passwordHash: u.passwordHash }),
      ...(password === undefined ? {} : { password }),
      ...(u.acl === undefined ? {} : { acl: u.acl }),
    });
  });
  const file = (f: string, where: (string | number)[]): string => {
    const abs = path.resolve(dir, f);
    if (resolveSecrets && !existsSync(abs)) issues.push({ path: where, message: `names ${abs}, which does not exist` });
    return abs;
  };
  const tls =
    doc.tls === undefined || broken('tls')
      ? undefined
      : {
          ...doc.tls,
          keyFile: file(doc.tls.keyFile, [...at, 'tls', 'keyFile']),
          certFile: file(doc.tls.certFile, [...at, 'tls', 'certFile']),
          ...(doc.tls.caFile === undefined ? {} : { caFile: file(doc.tls.caFile, [...at, 'tls', 'caFile']) }),
        };
  let bridge: MqttConfig['bridge'];
  if (doc.bridge !== undefined && !broken('bridge')) {
    const b = doc.bridge;
    if (b.passwordEnv !== undefined && b.passwordFile !== undefined) issues.push({ path: [...at, 'bridge'], message: 'needs at most one of passwordEnv, passwordFile' });
    const password = resolveSecrets && (b.passwordEnv !== undefined || b.passwordFile !== undefined) ? secret(b as Record<string, unknown>, [...at, 'bridge']) : undefined;
    bridge = { ...b, ...(b.caFile === undefined ? {} : { caFile: file(b.caFile, [...at, 'bridge', 'caFile']) }), ...(password === undefined ? {} : { password }) };
  }
  const { users: _u, tls: _t, bridge: _b, ...rest } = doc;
  return { ...rest, users, ...(tls === undefined ? {} : { tls }), ...(bridge === undefined ? {} : { bridge }) };
}
