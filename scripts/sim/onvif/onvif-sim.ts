/**
 * The ONVIF simulator of a site: one simulated device (camera, or door controller for an
 * `access` device) for every `onvif` device of a site config, on the host and port of its
 * connection URL, its events driven by a seeded event model. Same general shape as
 * ../sim.ts's startSimulator (the lead merges the two).
 *
 * Credentials: each device accepts `opts.users` (username → password) when given, else
 * the device's own `connection.username` with its configured secret (passwordEnv /
 * passwordFile, as the loader resolved it).
 */
import type { DeviceConfig, SiteConfig } from '../../../gateway/src/core/config/load.js';
import { createEventModel, type EventRates } from './camera-events.js';
import { SimulatedCamera, type Injected } from './camera.js';

export interface OnvifSimulatorOptions {
  /** Simulate only these device ids (default: every `onvif` device). */
  readonly only?: readonly string[];
  /** Seed of every event model (default 1). */
  readonly seed?: number;
  /** Listen on this host instead of each connection URL's host. */
  readonly host?: string;
  /** Port per device id instead of the URL's; 0 picks a free port (see the result). */
  readonly ports?: Readonly<Record<string, number>>;
  /** Accepted users, username → password, for every device (default: each device's configured username and secret). */
  readonly users?: Readonly<Record<string, string>>;
  /** Rates of spontaneous events, or false for none (tests inject what they need). */
  readonly events?: Partial<EventRates> | false;
  /** How long a device stays down after `reboot()` (ms, default 1500). */
  readonly rebootMs?: number;
}

export interface OnvifDeviceControl {
  /** A motion burst now (camera; a badge at a door). `holdMs`: how long motion lasts (default 1000). */
  motion(holdMs?: number): void;
  /** A tamper alarm now (camera; a forced door at a door controller). */
  tamper(holdMs?: number): void;
  /** Drops every subscription and connection; the device is down for `rebootMs`. */
  reboot(): void;
  /** Sets the device clock `offsetMs` away from real time (default +2 h); 0 sets it right. */
  wrongTime(offsetMs?: number): void;
  /** The next call of `operation` (e.g. `PullMessages`, `GetProfiles`) fails as `how`. */
  failNext(operation: string, how: Injected): void;
  /** Requests received by operation (`total`, `snapshot`, `PullMessages`, …). */
  requests(): Readonly<Record<string, number>>;
  /** Live pull-point subscriptions. */
  subscriptions(): number;
  /** Subscriptions that ended because their termination time passed. */
  expired(): number;
}

export interface SimulatedOnvifDevice {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'onvif';
  /** The profile id. */
  readonly profile: string;
  /** `http://host:port`, for a connection's `url`. */
  readonly url: string;
  readonly control: OnvifDeviceControl;
}

export interface OnvifSimulator {
  readonly devices: SimulatedOnvifDevice[];
  close(): Promise<void>;
}

function endpoint(device: DeviceConfig): { host: string; port: number } {
  try {
    const u = new URL(String(device.connection.url));
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port) };
  } catch {
    return { host: '127.0.0.1', port: 80 };
  }
}

/** Starts the ONVIF devices of `site`. Rejects (having closed what it opened) when a port cannot be had. */
export async function startOnvifSimulator(site: SiteConfig, opts: OnvifSimulatorOptions = {}): Promise<OnvifSimulator> {
  const only = opts.only === undefined ? undefined : new Set(opts.only);
  const onvif = site.devices.filter((d) => d.connection.protocol === 'onvif');
  if (only !== undefined) {
    const unknown = [...only].filter((id) => !onvif.some((d) => d.id === id));
    if (unknown.length > 0) throw new Error(`no ONVIF device with id ${unknown.join(', ')} in ${site.file}`);
  }
  const startMs = Date.now();
  const cameras: SimulatedCamera[] = [];
  const devices: SimulatedOnvifDevice[] = [];
  try {
    for (const device of onvif) {
      if (only !== undefined && !only.has(device.id)) continue;
      const { host: ownHost, port: ownPort } = endpoint(device);
      const host = opts.host ?? ownHost;
      const port = opts.ports?.[device.id] ?? ownPort;
      const users = opts.users ?? { [String(device.connection.username ?? 'admin')]: device.secret ?? '' };
      const kind = device.system === 'access' || device.profile.id.startsWith('access/') ? 'door' : 'camera';
      const model = createEventModel({ deviceId: device.id, seed: opts.seed ?? 1, timeZone: site.site.timezone, startMs, kind, ...(opts.events === undefined ? {} : { rates: opts.events }) });
      const camera = new SimulatedCamera({
        id: device.id,
        host,
        port,
        model,
        users: () => users,
        manufacturer: device.profile.manufacturer ?? 'Steward',
        modelName: device.profile.model ?? (kind === 'door' ? 'SimDoor' : 'SimCam'),
        ...(opts.rebootMs === undefined ? {} : { rebootMs: opts.rebootMs }),
      });
      await camera.start().catch((err: unknown) => {
        throw new Error(`cannot listen on ${host}:${port} for ${device.id}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      cameras.push(camera);
      const urlHost = camera.host.includes(':') ? `[${camera.host}]` : camera.host;
      devices.push({
        id: device.id,
        host: camera.host,
        port: camera.port,
        protocol: 'onvif',
        profile: device.profile.id,
        url: `http://${urlHost}:${camera.port}`,
        control: {
          motion: (holdMs) => camera.motion(holdMs),
          tamper: (holdMs) => camera.tamper(holdMs),
          reboot: () => camera.reboot(),
          wrongTime: (offsetMs = 2 * 3_600_000) => camera.wrongTime(offsetMs),
          failNext: (operation, how) => camera.failNext(operation, how),
          requests: () => ({ ...camera.requests }),
          subscriptions: () => camera.subscriptionCount(),
          expired: () => camera.expired,
        },
      });
    }
  } catch (err) {
    await Promise.all(cameras.map((c) => c.close()));
    throw err;
  }
  return {
    devices,
    close: async () => {
      await Promise.all(cameras.map((c) => c.close()));
    },
  };
}
