/**
 * The ONVIF driver: cameras (Profile S/T) and access controllers (Profile C) behind the
 * Driver contract (driver.ts). It speaks SOAP itself (client.ts) rather than through the
 * `onvif` package — see docs/onvif.md for why.
 *
 * - `connect()`: GetSystemDateAndTime (clock offset, unauthenticated), GetDeviceInformation
 *   (the first authenticated call: wrong credentials fail here, once), GetServices, and,
 *   with `onvif.snapshot`, GetProfiles + GetSnapshotUri.
 * - `subscribe()`: a pull-point subscription (pull-point.ts); each notification is matched
 *   against the profile's `events` rules → `sink.event`, and updates event points → `sink.value`.
 * - `read()`: the latest value of each event point (no request).
 * - `snapshot()`: an extra method, GET of the snapshot URI (see `SnapshotSource`).
 */
import type { DeviceConfig } from '../../core/config/load.js';
import type { PointSpec } from '../../core/config/profile.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DiscoveredDevice, Driver, DriverSink, Location, PointResult, RawValue, ReadBlock } from '../driver.js';
import { OnvifClient, type Snapshot } from './client.js';
import { probe } from './discovery.js';
import { EventMapper, pointValues, type NotificationMessage } from './notifications.js';
import { PullPointSubscription, type PullPointStats } from './pull-point.js';
import type { OnvifConnection, OnvifOptions } from './schema.js';
import { getClockOffsetMs, getDeviceInformation, getProfiles, getServiceAddresses, getSnapshotUri, type DeviceInformation, type MediaProfile, type ServiceAddresses } from './services.js';

export type { Snapshot } from './client.js';

/** A driver that can fetch a camera image on demand. */
export interface SnapshotSource {
  /** GETs the current snapshot (HTTP Digest/Basic as the camera asks). Rejects with a GatewayError. */
  snapshot(): Promise<Snapshot>;
}

/** What connect() learnt about the device. */
export interface OnvifDeviceDescription {
  readonly info: DeviceInformation;
  readonly services: ServiceAddresses;
  readonly profiles: readonly MediaProfile[];
  readonly profileToken?: string;
  readonly snapshotUri?: string;
  /** Device clock minus gateway clock (ms). */
  readonly clockOffsetMs: number;
}

export interface OnvifDriver extends Driver {
  /** GETs the current snapshot (HTTP Digest/Basic as the camera asks). Rejects with a GatewayError. */
  snapshot(): Promise<Snapshot>;
  /** What the last successful connect() learnt; undefined before. */
  describe(): OnvifDeviceDescription | undefined;
  /** Requests sent and subscription activity, for metrics and tests. */
  stats(): { readonly requests: number; readonly failures: number; readonly subscription?: Readonly<PullPointStats> };
}

/** True when `driver` has the ONVIF driver's `snapshot()` (main.ts and the API use this). */
export function hasSnapshot(driver: Driver): driver is Driver & SnapshotSource {
  return typeof (driver as Partial<SnapshotSource>).snapshot === 'function';
}

/** Timings that tests shorten; the defaults suit real devices. */
export interface OnvifTuning {
  /** First wait before re-creating a dropped subscription (ms, doubles per attempt). Default 500. */
  readonly retryInitialMs?: number;
  /** Attempts to re-create a dropped subscription before `sink.lost`. Default 6 (≈ 30 s). */
  readonly retryAttempts?: number;
  /** After refused credentials, connect() fails at once, without a request, for this long (ms). Default 60 000. */
  readonly authHoldMs?: number;
}

/** The profile's `onvif:` block with defaults (the loader fills them; hand-built configs may not). */
function resolveOptions(raw: Readonly<Record<string, unknown>>): OnvifOptions {
  return {
    ...(typeof raw.profileToken === 'string' ? { profileToken: raw.profileToken } : {}),
    snapshot: raw.snapshot !== false,
    mergeMs: typeof raw.mergeMs === 'number' ? raw.mergeMs : 1000,
  };
}

function resolveConnection(raw: Readonly<Record<string, unknown>>): OnvifConnection {
  const int = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : d);
  return {
    protocol: 'onvif',
    url: String(raw.url ?? '').replace(/\/$/, ''),
    path: typeof raw.path === 'string' ? raw.path : '/onvif/device_service',
    username: String(raw.username ?? ''),
    ...(typeof raw.passwordEnv === 'string' ? { passwordEnv: raw.passwordEnv } : {}),
    ...(typeof raw.passwordFile === 'string' ? { passwordFile: raw.passwordFile } : {}),
    timeoutMs: int(raw.timeoutMs, 5000),
    pullTimeoutS: int(raw.pullTimeoutS, 10),
    messageLimit: int(raw.messageLimit, 20),
    subscriptionTtlS: int(raw.subscriptionTtlS, 60),
    discoveryPort: int(raw.discoveryPort, 3702),
  };
}

const EVENT_SPACE = 'onvif-events';

class OnvifDriverImpl implements OnvifDriver {
  readonly protocol = 'onvif';
  readonly linkKey: string;
  private readonly conn: OnvifConnection;
  private readonly options: OnvifOptions;
  private readonly client: OnvifClient;
  private readonly tuning: Required<OnvifTuning>;
  private connected = false;
  private description: OnvifDeviceDescription | undefined;
  private subscription: PullPointSubscription | undefined;
  private authFailure: { err: GatewayError; at: number } | undefined;
  private readonly latest = new Map<string, RawValue>();
  private readonly pointIndex: ReadonlyMap<string, number>;

  constructor(
    private readonly device: DeviceConfig,
    private readonly log: Logger,
    tuning: OnvifTuning,
  ) {
    this.conn = resolveConnection(device.connection);
    this.options = resolveOptions(device.profile.protocolOptions);
    this.linkKey = `onvif://${new URL(this.conn.url).host}`;
    this.tuning = { retryInitialMs: tuning.retryInitialMs ?? 500, retryAttempts: tuning.retryAttempts ?? 6, authHoldMs: tuning.authHoldMs ?? 60_000 };
    const hint = this.conn.passwordEnv !== undefined ? `environment variable ${this.conn.passwordEnv}` : this.conn.passwordFile !== undefined ? `file ${this.conn.passwordFile}` : 'no passwordEnv/passwordFile is configured';
    this.client = new OnvifClient({ deviceId: device.id, username: this.conn.username, password: device.secret ?? '', timeoutMs: this.conn.timeoutMs, passwordHint: hint });
    this.pointIndex = new Map(device.profile.points.map((p, i) => [p.name, i]));
  }

  private get deviceUrl(): string {
    return `${this.conn.url}${this.conn.path}`;
  }

  async connect(): Promise<void> {
    if (this.connected) return;
    // Refused credentials stay refused until the config changes: do not ask again soon.
    if (this.authFailure !== undefined && Date.now() - this.authFailure.at < this.tuning.authHoldMs) throw this.authFailure.err;
    const started = performance.now();
    try {
      this.client.clockOffsetMs = await getClockOffsetMs(this.client, this.deviceUrl).catch((err: unknown) => {
        // Devices that want authentication even for this call are still usable on our clock.
        if (isGatewayError(err, 'GW_ERR_ONVIF_FAULT') || isGatewayError(err, 'GW_ERR_ONVIF_AUTH') || isGatewayError(err, 'GW_ERR_ONVIF_MALFORMED')) return 0;
        throw err;
      });
      if (this.client.clockOffsetMs !== 0) this.log.warn({ clockOffsetMs: this.client.clockOffsetMs }, 'onvif device clock differs from the gateway’s: requests are dated by the device’s clock');
      const info = await getDeviceInformation(this.client, this.deviceUrl);
      const services = await getServiceAddresses(this.client, this.deviceUrl, this.conn.url);
      const media = await this.media(services);
      this.description = { info, services, ...media, clockOffsetMs: this.client.clockOffsetMs };
      this.authFailure = undefined;
      this.connected = true;
      this.log.info({ manufacturer: info.manufacturer, model: info.model, firmware: info.firmwareVersion, snapshot: media.snapshotUri !== undefined, ms: Math.round(performance.now() - started) }, 'onvif device connected');
    } catch (err) {
      if (isGatewayError(err) && err.kind === 'auth') this.authFailure = { err, at: Date.now() };
      throw err;
    }
  }

  /** Media profiles and the snapshot URI, when the profile wants snapshots. */
  private async media(services: ServiceAddresses): Promise<Pick<OnvifDeviceDescription, 'profiles' | 'profileToken' | 'snapshotUri'>> {
    if (!this.options.snapshot && this.options.profileToken === undefined) return { profiles: [] };
    if (services.media === undefined) {
      this.log.warn('onvif device lists no media service: no snapshots');
      return { profiles: [] };
    }
    const profiles = await getProfiles(this.client, services.media);
    const wanted = this.options.profileToken;
    const profile = wanted === undefined ? profiles[0] : profiles.find((p) => p.token === wanted);
    if (profile === undefined) {
      if (wanted !== undefined) {
        throw new GatewayError('GW_ERR_ONVIF_UNSUPPORTED', `ONVIF ${this.device.id}: no media profile with token "${wanted}" (onvif.profileToken); the device has ${profiles.map((p) => p.token).join(', ') || 'none'}`, {
          details: { device: this.device.id },
        });
      }
      this.log.warn('onvif device has no media profile: no snapshots');
      return { profiles };
    }
    if (!this.options.snapshot) return { profiles, profileToken: profile.token };
    try {
      const snapshotUri = await getSnapshotUri(this.client, services.media, profile.token, this.conn.url);
      return { profiles, profileToken: profile.token, snapshotUri };
    } catch (err) {
      // A camera without snapshots still has events worth having.
      if (!isGatewayError(err, 'GW_ERR_ONVIF_FAULT') && !isGatewayError(err, 'GW_ERR_ONVIF_MALFORMED')) throw err;
      this.log.warn({ err }, 'onvif GetSnapshotUri failed: no snapshots');
      return { profiles, profileToken: profile.token };
    }
  }

  isConnected(): boolean {
    return this.connected;
  }

  locate(point: PointSpec): Location {
    return { space: EVENT_SPACE, start: this.pointIndex.get(point.name) ?? 0, count: 1 };
  }

  limits(): { readonly maxCount: number; readonly maxGap: number } {
    const n = Math.max(1, this.device.profile.points.length);
    return { maxCount: n, maxGap: n };
  }

  /** Event points hold the latest value their topic brought; no request is made. */
  async read(block: ReadBlock): Promise<PointResult[]> {
    return block.points.map(({ spec }): PointResult => {
      const value = this.latest.get(spec.name);
      if (value !== undefined) return { ok: true, value };
      return {
        ok: false,
        error: new GatewayError('GW_ERR_ONVIF_NO_VALUE', `${spec.name}: no event of its topic has arrived since the subscription began`, { details: { device: this.device.id, point: spec.name } }),
      };
    });
  }

  async write(point: PointSpec): Promise<void> {
    throw new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name}: ONVIF event points are read-only`, { details: { device: this.device.id, point: point.name } });
  }

  async subscribe(points: readonly PointSpec[], sink: DriverSink): Promise<readonly string[]> {
    const rules = this.device.profile.events;
    if (rules.length === 0 && points.length === 0) return [];
    const events = this.description?.services.events;
    if (!this.connected || this.description === undefined) throw new GatewayError('GW_ERR_ONVIF_HTTP', `ONVIF ${this.device.id}: subscribe before connect`, { details: { device: this.device.id } });
    if (events === undefined) {
      throw new GatewayError('GW_ERR_ONVIF_UNSUPPORTED', `ONVIF ${this.device.id}: the device lists no event service, but the profile has ${rules.length} event rule(s) and ${points.length} event point(s)`, {
        details: { device: this.device.id },
      });
    }
    await this.subscription?.close();
    const mapper = new EventMapper(rules, this.options.mergeMs);
    const subscription: PullPointSubscription = new PullPointSubscription({
      client: this.client,
      eventsUrl: events,
      base: this.conn.url,
      pullTimeoutS: this.conn.pullTimeoutS,
      messageLimit: this.conn.messageLimit,
      subscriptionTtlS: this.conn.subscriptionTtlS,
      timeoutMs: this.conn.timeoutMs,
      retryInitialMs: this.tuning.retryInitialMs,
      retryAttempts: this.tuning.retryAttempts,
      log: this.log,
      onMessages: (messages) => this.deliver(messages, points, mapper, sink),
      onLost: (reason) => {
        if (this.subscription !== subscription) return;
        this.subscription = undefined;
        this.connected = false;
        if (reason.kind === 'auth') this.authFailure = { err: reason, at: Date.now() };
        sink.lost(
          points.map((p) => p.name),
          reason,
        );
      },
    });
    this.subscription = subscription;
    try {
      await subscription.start();
    } catch (err) {
      this.subscription = undefined;
      if (isGatewayError(err) && err.kind === 'auth') this.authFailure = { err, at: Date.now() };
      throw err;
    }
    return points.map((p) => p.name);
  }

  private deliver(messages: NotificationMessage[], points: readonly PointSpec[], mapper: EventMapper, sink: DriverSink): void {
    const now = Date.now();
    const snapshotUri = this.description?.snapshotUri;
    // UtcTime is the device's clock: put it on ours with the offset measured at connect
    // (the body keeps the device's own utcTime).
    const skew = this.client.clockOffsetMs;
    for (const msg of messages) {
      const ts = msg.utcTime === undefined ? now : msg.utcTime - skew;
      for (const { point, value } of pointValues(points, msg)) {
        this.latest.set(point.name, value);
        sink.value(point.name, value, ts);
      }
      for (const m of mapper.map(msg, now)) {
        // The image is not fetched here: a driver knows no storage, and a JPEG does not
        // belong in an outbox row. The event says where one is; the wiring calls snapshot().
        const snapshot = m.rule.snapshot && snapshotUri !== undefined ? { snapshot: { uri: snapshotUri, fetchWith: 'snapshot' } } : {};
        sink.event({ type: m.rule.type, severity: m.rule.severity, ts: msg.utcTime === undefined ? m.ts : m.ts - skew, body: { ...m.body, ...snapshot } });
      }
    }
  }

  async snapshot(): Promise<Snapshot> {
    if (this.authFailure !== undefined && Date.now() - this.authFailure.at < this.tuning.authHoldMs) throw this.authFailure.err;
    if (!this.connected) await this.connect();
    const uri = this.description?.snapshotUri;
    if (uri === undefined) {
      throw new GatewayError('GW_ERR_ONVIF_UNSUPPORTED', `ONVIF ${this.device.id}: no snapshot URI (onvif.snapshot is off, or the device has no media profile / GetSnapshotUri)`, {
        details: { device: this.device.id },
      });
    }
    try {
      return await this.client.fetchImage(uri);
    } catch (err) {
      if (isGatewayError(err) && err.kind === 'auth') this.authFailure = { err, at: Date.now() };
      throw err;
    }
  }

  /** A unicast WS-Discovery probe of the configured host; never multicast. */
  async discover(): Promise<DiscoveredDevice[]> {
    const host = new URL(this.conn.url).hostname.replace(/^\[|\]$/g, '');
    try {
      return await probe(host, this.conn.discoveryPort, this.conn.timeoutMs);
    } catch (err) {
      throw new GatewayError('GW_ERR_ONVIF_HTTP', `ONVIF ${this.device.id}: WS-Discovery probe to ${host}:${this.conn.discoveryPort} failed (${(err as Error).message})`, { cause: err });
    }
  }

  describe(): OnvifDeviceDescription | undefined {
    return this.description;
  }

  stats(): { readonly requests: number; readonly failures: number; readonly subscription?: Readonly<PullPointStats> } {
    const sub = this.subscription?.stats;
    return { requests: this.client.stats.requests, failures: this.client.stats.failures, ...(sub === undefined ? {} : { subscription: { ...sub } }) };
  }

  async close(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    this.connected = false;
    if (subscription !== undefined) {
      await subscription.close();
      this.log.debug('onvif driver closed (unsubscribed)');
    }
  }
}

/** The driver of one configured ONVIF device. `tuning` is for tests; production uses the defaults. */
export function createOnvifDriver(device: DeviceConfig, log: Logger, tuning: OnvifTuning = {}): OnvifDriver {
  return new OnvifDriverImpl(device, log, tuning);
}
