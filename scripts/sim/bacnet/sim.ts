/**
 * The BACnet simulator of a site: one simulated BACnet/IP device (device.ts) for every
 * `bacnet-ip` device of a site config, on the host and port its connection gives (or
 * those of `opts`), with the device instance it gives, its objects driven by a signal
 * model of its profile (models.ts). Same shape as scripts/sim/sim.ts's startSimulator,
 * so the two can be merged.
 *
 * Binds loopback addresses only in tests: pass `host` (e.g. 127.0.0.1) and `ports` (0 =
 * ephemeral); never 47808 there (DEPENDENCIES.md).
 */
import type { DeviceConfig, SiteConfig } from '../../../gateway/src/core/config/load.js';
import { SimBacnetDevice, type BacnetBehaviour } from './device.js';
import { createBacnetModel, type BacnetModel, type PointIo } from './models.js';

export interface BacnetSimulatorOptions {
  /** Simulate only these device ids (default: every bacnet-ip device). */
  readonly only?: readonly string[];
  /** Seed of every model's PRNG (default 1). */
  readonly seed?: number;
  /** Model update period in ms (default 100); COV notifications are checked after each tick. */
  readonly tickMs?: number;
  /** Listen on this host instead of each connection's host. */
  readonly host?: string;
  /** Port per device id instead of the connection's; 0 picks a free port (see the result). */
  readonly ports?: Readonly<Record<string, number>>;
  /** Misbehaviour per device id (refuse RPM, refuse COV); can be changed later on `device.behaviour`. */
  readonly behaviour?: Readonly<Record<string, BacnetBehaviour>>;
}

export interface SimulatedBacnetDevice {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'bacnet-ip';
  /** The profile id. */
  readonly profile: string;
  readonly deviceInstance: number;
  /** The device itself: values, priority arrays, subscriptions, stall, reboot. */
  readonly device: SimBacnetDevice;
}

export interface BacnetSimulator {
  readonly devices: SimulatedBacnetDevice[];
  close(): Promise<void>;
}

function isBacnet(d: DeviceConfig): boolean {
  return d.connection.protocol === 'bacnet-ip';
}

/** Starts the BACnet devices of `site`. Rejects (having closed what it opened) when a port cannot be had. */
export async function startBacnetSimulator(site: SiteConfig, opts: BacnetSimulatorOptions = {}): Promise<BacnetSimulator> {
  const seed = opts.seed ?? 1;
  const tickMs = opts.tickMs ?? 100;
  const only = opts.only === undefined ? undefined : new Set(opts.only);
  if (only !== undefined) {
    const unknown = [...only].filter((id) => !site.devices.some((d) => d.id === id && isBacnet(d)));
    if (unknown.length > 0) throw new Error(`no bacnet-ip device with id ${unknown.join(', ')} in ${site.file}`);
  }
  const startMs = Date.now();
  const devices: SimulatedBacnetDevice[] = [];
  const models: { model: BacnetModel; device: SimBacnetDevice }[] = [];
  try {
    for (const d of site.devices) {
      if (!isBacnet(d) || (only !== undefined && !only.has(d.id))) continue;
      const conn = d.connection as { host?: unknown; port?: unknown; deviceInstance?: unknown };
      const host = opts.host ?? (typeof conn.host === 'string' ? conn.host : '127.0.0.1');
      const port = opts.ports?.[d.id] ?? (typeof conn.port === 'number' ? conn.port : 47808);
      const deviceInstance = typeof conn.deviceInstance === 'number' ? conn.deviceInstance : 1;
      const behaviour = opts.behaviour?.[d.id];
      const device = await SimBacnetDevice.start({ host, port, deviceInstance, profile: d.profile, name: d.name ?? d.id, ...(behaviour === undefined ? {} : { behaviour }) }).catch((err: unknown) => {
        throw new Error(`cannot listen on ${host}:${port} (udp) for ${d.id}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      devices.push({ id: d.id, host: device.host, port: device.port, protocol: 'bacnet-ip', profile: d.profile.id, deviceInstance, device });
      const io: PointIo = { profile: d.profile, get: (n) => device.get(n), set: (n, v) => device.set(n, v) };
      const model = createBacnetModel({ io, deviceId: d.id, seed, timeZone: site.site.timezone, startMs });
      model.tick(startMs);
      models.push({ model, device });
    }
  } catch (err) {
    await Promise.all(devices.map((d) => d.device.close()));
    throw err;
  }
  const timer = setInterval(() => {
    const now = Date.now();
    for (const { model, device } of models) {
      model.tick(now);
      device.checkCov(now);
    }
  }, tickMs);
  return {
    devices,
    close: async () => {
      clearInterval(timer);
      await Promise.all(devices.map((d) => d.device.close()));
    },
  };
}
