/**
 * Loads `site.yaml` and the device profiles it names, validates them once, applies the
 * schema defaults, resolves secrets, and returns a frozen config (CONVENTIONS §4). Every
 * problem found is collected, then thrown together as one GW_ERR_CONFIG_INVALID, each
 * naming its file, the path inside it and what was expected.
 *
 * This is the only module that reads `process.env` (for `passwordEnv` and friends).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { GatewayError, isGatewayError } from '../errors.js';
import { formatIssue, validateAgainst, type ConfigIssue, type PathIssue } from './issues.js';
import { Mqtt, resolveMqtt, type MqttConfig, type MqttDoc } from './mqtt.js';
import { Profile, type DeviceProfile, type PointSpec, type Protocol } from './profile.js';
import { Site, type CloudDoc, type DeviceDoc, type SiteDoc } from './site.js';
import { readYaml, type YamlFile } from './yaml-file.js';

/** What a driver tells the loader about the parts of the config it owns. */
export interface ProtocolSchemas {
  /** Connection protocol (`modbus-tcp`, …) → the profile protocol it serves and its schema. */
  readonly connections: Readonly<Record<string, { readonly profileProtocol: Protocol; readonly schema: TSchema }>>;
  /** Profile protocol → the schema of a point's `address`, of the protocol block, and cross-field checks. */
  readonly profiles: Readonly<
    Partial<
      Record<
        Protocol,
        {
          readonly address: TSchema;
          readonly options: TSchema;
          /** Checks that span fields (e.g. a coil cannot hold a float32); paths relative to the point. */
          readonly checkPoint?: (point: PointSpec, options: Readonly<Record<string, unknown>>) => PathIssue[];
          /**
           * The point keys that make up its address (default `['address']`). BACnet's are
           * `object`, `property`, `cov`…: they are gathered into one object, checked
           * against `address`, and handed to the driver as `point.address`.
           */
          readonly addressKeys?: readonly string[];
          /** False when a profile of this protocol may have no points (a camera: events only). */
          readonly needsPoints?: boolean;
        }
      >
    >
  >;
}

export interface LoadOptions {
  readonly schemas: ProtocolSchemas;
  /** The bundled profile library (`device-profiles/`), searched after `gateway.profileDirs`. */
  readonly bundledProfileDir: string;
  /** Environment for `passwordEnv` / `enrolmentTokenEnv`; defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** False to check the files only, leaving secrets unresolved (`steward profile validate`). */
  readonly resolveSecrets?: boolean;
  /**
   * Where profiles delivered by the cloud's fleet configuration are looked for, after
   * `gateway.profileDirs` and before the bundled library; default
   * `<gateway.dataDir>/config/profiles` (fleetProfileDir()). Set to check a candidate set.
   */
  readonly fleetProfileDir?: string;
}

/** The folder of profiles delivered by the cloud (`profiles/<id>` parts of a desired configuration). */
export function fleetProfileDir(dataDir: string): string {
  return path.join(dataDir, 'config', 'profiles');
}

export interface DeviceConfig extends Omit<DeviceDoc, 'profile' | 'connection'> {
  /** The profile reference as written in site.yaml. */
  readonly profileRef: string;
  readonly profile: DeviceProfile;
  readonly connection: Readonly<{ protocol: string } & Record<string, unknown>>;
  /** The resolved password of the connection, if it names one; never logged or synced. */
  readonly secret?: string;
}

/** A gateway login with its secret resolved: a scrypt hash, or a plain password from env/file. */
export interface UserConfig {
  readonly name: string;
  readonly role: 'viewer' | 'operator' | 'technician' | 'admin';
  readonly passwordHash?: string;
  /** From passwordEnv / passwordFile; compared in constant time, never logged. */
  readonly password?: string;
}

export interface SiteConfig {
  readonly file: string;
  /** Absolute folder of site.yaml; relative paths in it are relative to this. */
  readonly dir: string;
  readonly site: SiteDoc['site'];
  readonly gateway: Omit<SiteDoc['gateway'], 'mqtt'> & { readonly dataDir: string; readonly mqtt: MqttConfig };
  readonly cloud?: CloudDoc & { readonly enrolmentTokenValue?: string };
  readonly devices: readonly DeviceConfig[];
  readonly users: readonly UserConfig[];
}

/** Thrown with every issue found; `details.issues` holds them for tools. */
export class ConfigInvalidError extends GatewayError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map(formatIssue);
    super('GW_ERR_CONFIG_INVALID', `${issues.length} problem${issues.length === 1 ? '' : 's'} in the configuration:\n  ${lines.join('\n  ')}`, {
      details: { issues: lines },
    });
    this.issues = issues;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** True when one of `issues` is at `prefix` or below it. */
function isUnder(issues: readonly PathIssue[], prefix: readonly (string | number)[]): boolean {
  return issues.some((i) => prefix.every((p, k) => i.path[k] === p));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bind(src: YamlFile, issues: readonly PathIssue[]): ConfigIssue[] {
  return issues.map((i) => {
    const line = src.lineOf(i.path);
    return line === undefined ? { file: src.file, path: i.path, message: i.message } : { file: src.file, path: i.path, message: i.message, line };
  });
}

function asIssue(err: unknown, file: string): ConfigIssue {
  const message = err instanceof Error ? err.message : String(err);
  // The YAML/read errors already start with the file name: keep them whole.
  return { file, path: [], message: message.startsWith(`${file}: `) ? message.slice(file.length + 2) : message };
}

/**
 * Validates one profile document. Returns the profile (frozen, defaults applied) when it
 * has no issue, and the issues in any case.
 */
export function validateProfile(src: YamlFile, schemas: ProtocolSchemas): { profile?: DeviceProfile; issues: ConfigIssue[] } {
  // Defaults first (as ajv's useDefaults does): a key with a default may be left out.
  const data: unknown = Value.Default(Profile, Value.Clone(src.data));
  const base = validateAgainst(Profile, data);
  const broken = (...prefix: (string | number)[]) => isUnder(base, prefix);
  const doc = data as Record<string, unknown> & { protocol: Protocol; points: PointSpec[]; alarms: { point: string }[]; events: { topic: string }[] };
  // Go on past schema issues where the rest can still be checked, so one run lists everything.
  if (broken('protocol') || !Array.isArray(doc.points) || !Array.isArray(doc.alarms) || !Array.isArray(doc.events)) return { issues: bind(src, base) };
  const issues: PathIssue[] = [...base];
  const proto = schemas.profiles[doc.protocol];
  let options: Record<string, unknown> = {};
  if (proto === undefined) {
    issues.push({ path: ['protocol'], message: `no driver for protocol "${doc.protocol}" in this build (have: ${Object.keys(schemas.profiles).join(', ')})` });
  } else if (!broken(doc.protocol)) {
    const block = doc[doc.protocol] ?? {};
    const withDefaults = Value.Default(proto.options, Value.Clone(block));
    const blockIssues = validateAgainst(proto.options, withDefaults, [doc.protocol]);
    issues.push(...blockIssues);
    if (blockIssues.length === 0) options = withDefaults as Record<string, unknown>;
  }
  for (const other of ['modbus', 'bacnet', 'onvif'] as const) {
    if (other !== doc.protocol && doc[other] !== undefined) issues.push({ path: [other], message: `is a ${other} block, but the profile's protocol is ${doc.protocol}` });
  }
  const seen = new Map<string, number>();
  doc.points.forEach((point, i) => {
    if (broken('points', i)) {
      if (isObject(point) && typeof point.name === 'string') seen.set(point.name, i);
      return;
    }
    const first = seen.get(point.name);
    if (first !== undefined) issues.push({ path: ['points', i, 'name'], message: `must be unique in the profile: "${point.name}" is also points[${first}]` });
    else seen.set(point.name, i);
    if (point.range !== undefined && !(point.range[0]! < point.range[1]!)) {
      issues.push({ path: ['points', i, 'range'], message: `must be [min, max] with min < max, got [${point.range.join(', ')}]` });
    }
    if (proto === undefined) return;
    const keys = proto.addressKeys ?? ['address'];
    const own = keys.length === 1 && keys[0] === 'address';
    const pointRecord = point as unknown as Record<string, unknown>;
    const foreign = ['address', 'object', 'property', 'cov', 'arrayIndex', 'priority'].filter((k) => !keys.includes(k) && pointRecord[k] !== undefined);
    for (const k of foreign) issues.push({ path: ['points', i, k], message: `is not a ${doc.protocol} point key (a ${doc.protocol} point uses ${keys.join(', ')})` });
    if (own && point.address === undefined) {
      issues.push({ path: ['points', i, 'address'], message: `is required: expected a ${doc.protocol} address` });
      return;
    }
    const gathered = own ? point.address : Object.fromEntries(keys.filter((k) => pointRecord[k] !== undefined).map((k) => [k, pointRecord[k]]));
    const address = Value.Default(proto.address, Value.Clone(gathered)) as Record<string, unknown>;
    const addrIssues = validateAgainst(proto.address, address, own ? ['points', i, 'address'] : ['points', i]);
    issues.push(...addrIssues);
    if (addrIssues.length > 0) return;
    const withDefaults = { ...point, address };
    doc.points[i] = withDefaults;
    for (const issue of proto.checkPoint?.(withDefaults, options) ?? []) issues.push({ path: ['points', i, ...issue.path], message: issue.message });
  });
  if (proto !== undefined && proto.needsPoints !== false && doc.points.length === 0 && !broken('points')) {
    issues.push({ path: ['points'], message: `must list at least one point for a ${doc.protocol} profile` });
  }
  doc.events.forEach((rule, i) => {
    if (broken('events', i) || !rule.topic.startsWith('point:')) return;
    const name = rule.topic.slice('point:'.length);
    if (!seen.has(name)) issues.push({ path: ['events', i, 'topic'], message: `must name a point of this profile after "point:", got "${rule.topic}"` });
  });
  doc.alarms.forEach((rule, i) => {
    if (!broken('alarms', i) && !seen.has(rule.point)) issues.push({ path: ['alarms', i, 'point'], message: `must name a point of this profile, got "${rule.point}"` });
  });
  if (issues.length > 0) return { issues: bind(src, issues) };
  const { modbus: _m, bacnet: _b, onvif: _o, ...rest } = doc;
  const profile = deepFreeze({ ...(rest as unknown as Omit<DeviceProfile, 'protocolOptions' | 'file'>), protocolOptions: options, file: src.file });
  return { profile, issues: [] };
}

/** Loads and validates one profile file; throws ConfigInvalidError with every issue. */
export function loadProfile(file: string, schemas: ProtocolSchemas): DeviceProfile {
  let src: YamlFile;
  try {
    src = readYaml(file);
  } catch (err) {
    if (isGatewayError(err)) throw new ConfigInvalidError([asIssue(err, file)]);
    throw err;
  }
  const { profile, issues } = validateProfile(src, schemas);
  if (profile === undefined) throw new ConfigInvalidError(issues);
  return profile;
}

/** Where a `profile:` reference points: a .yaml path, or an id looked up in the profile folders. */
export function resolveProfileRef(ref: string, siteDir: string, dirs: readonly string[]): { file?: string; tried: string[] } {
  if (ref.endsWith('.yaml') || ref.endsWith('.yml')) {
    const file = path.resolve(siteDir, ref);
    return existsSync(file) ? { file, tried: [file] } : { tried: [file] };
  }
  const tried: string[] = [];
  for (const dir of dirs) {
    for (const ext of ['.yaml', '.yml']) {
      const file = path.join(dir, `${ref}${ext}`);
      tried.push(file);
      if (existsSync(file) && statSync(file).isFile()) return { file, tried };
    }
  }
  return { tried };
}

function resolveSecret(
  conn: Readonly<Record<string, unknown>>,
  siteDir: string,
  env: Readonly<Record<string, string | undefined>>,
  at: (string | number)[],
  issues: PathIssue[],
): string | undefined {
  if (typeof conn.passwordEnv === 'string') {
    const v = env[conn.passwordEnv];
    if (v === undefined || v === '') issues.push({ path: [...at, 'passwordEnv'], message: `names the environment variable ${conn.passwordEnv}, which is not set` });
    return v;
  }
  if (typeof conn.passwordFile === 'string') {
    const file = path.resolve(siteDir, conn.passwordFile);
    try {
      return readFileSync(file, 'utf8').trim();
    } catch {
      issues.push({ path: [...at, 'passwordFile'], message: `names ${file}, which cannot be read` });
    }
  }
  return undefined;
}

/**
 * Loads `site.yaml` with its profiles. Throws ConfigInvalidError listing every issue
 * (in site.yaml and in each profile it names), or GW_ERR_CONFIG_READ if site.yaml is missing.
 */
export function loadSite(file: string, options: LoadOptions): SiteConfig {
  const env = options.env ?? process.env;
  let src: YamlFile;
  try {
    src = readYaml(file);
  } catch (err) {
    if (isGatewayError(err, 'GW_ERR_CONFIG_YAML')) throw new ConfigInvalidError([asIssue(err, file)]);
    throw err;
  }
  const dir = path.dirname(path.resolve(file));
  const data: unknown = Value.Default(Site, Value.Clone(src.data));
  const base = validateAgainst(Site, data);
  // Report everything in one go: devices whose own entry is sound are still checked
  // (profile, connection) when another part of the file is wrong.
  const broken = (...prefix: (string | number)[]) => isUnder(base, prefix);
  const doc = data as SiteDoc;
  if (base.length > 0 && (!Array.isArray(doc.devices))) throw new ConfigInvalidError(bind(src, base));
  if (broken('gateway')) doc.gateway = Value.Default(Site.properties.gateway, {}) as SiteDoc['gateway'];

  const issues: PathIssue[] = [...base];
  const profileIssues: ConfigIssue[] = [];
  const profileDirs = [
    ...doc.gateway.profileDirs.map((d) => path.resolve(dir, d)),
    options.fleetProfileDir ?? fleetProfileDir(path.resolve(dir, doc.gateway.dataDir)),
    options.bundledProfileDir,
  ];
  const profiles = new Map<string, DeviceProfile | null>();
  const ids = new Map<string, number>();
  const devices: DeviceConfig[] = [];

  doc.devices.forEach((device, i) => {
    if (broken('devices', i)) return;
    const first = ids.get(device.id);
    if (first !== undefined) issues.push({ path: ['devices', i, 'id'], message: `must be unique in the site: "${device.id}" is also devices[${first}]` });
    else ids.set(device.id, i);

    const { file: profileFile, tried } = resolveProfileRef(device.profile, dir, profileDirs);
    if (profileFile === undefined) {
      issues.push({ path: ['devices', i, 'profile'], message: `names no profile: "${device.profile}" was looked for at ${tried.join(', ')}` });
      return;
    }
    if (!profiles.has(profileFile)) {
      try {
        const profile = loadProfile(path.relative(process.cwd(), profileFile) || profileFile, options.schemas);
        if (!device.profile.endsWith('.yaml') && !device.profile.endsWith('.yml') && profile.id !== device.profile) {
          profileIssues.push({ file: profile.file, path: ['id'], message: `must match the profile's place in the library ("${device.profile}"), got "${profile.id}"` });
          profiles.set(profileFile, null);
        } else profiles.set(profileFile, profile);
      } catch (err) {
        if (err instanceof ConfigInvalidError) profileIssues.push(...err.issues);
        else throw err;
        profiles.set(profileFile, null);
      }
    }
    const profile = profiles.get(profileFile);
    if (profile === null || profile === undefined) return;

    const at = ['devices', i, 'connection'];
    const proto = options.schemas.connections[device.connection.protocol];
    if (proto === undefined) {
      issues.push({ path: [...at, 'protocol'], message: `must be one of: ${Object.keys(options.schemas.connections).join(', ')}, got ${JSON.stringify(device.connection.protocol)}` });
      return;
    }
    if (proto.profileProtocol !== profile.protocol) {
      issues.push({ path: [...at, 'protocol'], message: `is ${device.connection.protocol}, but profile ${profile.id} speaks ${profile.protocol}` });
      return;
    }
    const connection = Value.Default(proto.schema, Value.Clone(device.connection)) as { protocol: string } & Record<string, unknown>;
    const connIssues = validateAgainst(proto.schema, connection, at);
    issues.push(...connIssues);
    if (connIssues.length > 0) return;
    const secret = options.resolveSecrets === false ? undefined : resolveSecret(connection, dir, env, at, issues);
    const { profile: profileRef, ...rest } = device;
    devices.push({ ...rest, profileRef, profile, connection, ...(secret === undefined ? {} : { secret }) });
  });

  let cloud: SiteConfig['cloud'];
  if (doc.cloud !== undefined && !broken('cloud')) {
    const tokenEnv = doc.cloud.enrolmentTokenEnv;
    const token = tokenEnv === undefined ? doc.cloud.enrolmentToken : env[tokenEnv];
    if (tokenEnv !== undefined && (token === undefined || token === '') && options.resolveSecrets !== false) issues.push({ path: ['cloud', 'enrolmentTokenEnv'], message: `names the environment variable ${tokenEnv}, which is not set` });
    cloud = { ...doc.cloud, ...(token === undefined ? {} : { enrolmentTokenValue: token }) };
  }

  const users: UserConfig[] = [];
  const names = new Set<string>();
  doc.users.forEach((user, i) => {
    if (broken('users', i)) return;
    if (names.has(user.name)) issues.push({ path: ['users', i, 'name'], message: `must be unique: "${user.name}" appears twice` });
    names.add(user.name);
    const ways = [user.passwordHash, user.passwordEnv, user.passwordFile].filter((w) => w !== undefined).length;
    if (ways !== 1) {
      issues.push({ path: ['users', i], message: 'needs exactly one of passwordHash, passwordEnv, passwordFile' });
      return;
    }
    const password = user.passwordHash !== undefined || options.resolveSecrets === false ? undefined : resolveSecret(user as Record<string, unknown>, dir, env, ['users', i], issues);
    users.push({ name: user.name, role: user.role, ...(user.passwordHash === undefined ? {} : { passwordHash: user.passwordHash }), ...(password === undefined ? {} : { password }) });
  });

  // The broker's users, TLS files and bridge secret (core/config/mqtt.ts).
  const mqtt = resolveMqtt(
    isObject(doc.gateway.mqtt) && Array.isArray(doc.gateway.mqtt.users) ? doc.gateway.mqtt : (Value.Default(Mqtt, {}) as MqttDoc),
    dir,
    (holder, at) => resolveSecret(holder, dir, env, at, issues),
    options.resolveSecrets !== false,
    issues,
    (...at) => broken('gateway', 'mqtt', ...at),
  );

  const all = [...bind(src, issues), ...profileIssues];
  if (all.length > 0) throw new ConfigInvalidError(all);
  return deepFreeze({
    file,
    dir,
    site: doc.site,
    gateway: { ...doc.gateway, dataDir: path.resolve(dir, doc.gateway.dataDir), mqtt },
    ...(cloud === undefined ? {} : { cloud }),
    devices,
    users,
  });
}
