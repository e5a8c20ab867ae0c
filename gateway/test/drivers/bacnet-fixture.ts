/**
 * Shared by the BACnet driver tests: a site with simulated BACnet devices on ephemeral
 * loopback ports (never 47808), and drivers pointed at them.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadSiteConfig } from '../../src/config.js';
import type { DeviceConfig, SiteConfig } from '../../src/core/config/load.js';
import type { PointSpec } from '../../src/core/config/profile.js';
import { createBacnetDriver, type BacnetDriver } from '../../src/drivers/bacnet/driver.js';
import type { DriverSink, RawValue } from '../../src/drivers/driver.js';
import { startBacnetSimulator, type BacnetSimulator, type BacnetSimulatorOptions } from '../../../scripts/sim/bacnet/sim.js';
import { planBlocks, silentLog } from './modbus-fixture.js';

export { planBlocks, silentLog };

export interface SimDeviceSpec {
  readonly id: string;
  /** A profile id of the library or a .yaml path. */
  readonly profile: string;
  readonly deviceInstance: number;
  readonly connection?: Readonly<Record<string, unknown>>;
}

/** A site.yaml in a temporary folder with these BACnet devices, loaded and validated. */
export function bacnetSite(devices: readonly SimDeviceSpec[]): SiteConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bacnet-'));
  const file = path.join(dir, 'site.yaml');
  const lines = ['site: { id: test-site, name: Test site, timezone: Asia/Shanghai }', 'devices:'];
  for (const d of devices) {
    const connection = { protocol: 'bacnet-ip', host: '127.0.0.1', port: 47900, deviceInstance: d.deviceInstance, timeoutMs: 400, ...d.connection };
    lines.push(`  - { id: ${d.id}, profile: ${JSON.stringify(d.profile)}, system: hvac, connection: ${JSON.stringify(connection)} }`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return loadSiteConfig(file);
}

export interface Rig {
  readonly site: SiteConfig;
  readonly sim: BacnetSimulator;
  /** A driver of device `id` pointed at its simulated device (connection overrides merged in). */
  driver(id: string, connection?: Readonly<Record<string, unknown>>): BacnetDriver;
  config(id: string): DeviceConfig;
  point(id: string, name: string): PointSpec;
}

/** Starts the simulator of `devices` on 127.0.0.1, ephemeral ports; closes everything at teardown. */
export async function startRig(t: { teardown(fn: () => unknown): void }, devices: readonly SimDeviceSpec[], opts: BacnetSimulatorOptions = {}): Promise<Rig> {
  const site = bacnetSite(devices);
  const sim = await startBacnetSimulator(site, { host: '127.0.0.1', ports: Object.fromEntries(devices.map((d) => [d.id, 0])), tickMs: 50, ...opts });
  const drivers: BacnetDriver[] = [];
  t.teardown(async () => {
    for (const d of drivers) await d.close();
    await sim.close();
  });
  const config = (id: string) => site.devices.find((d) => d.id === id)!;
  return {
    site,
    sim,
    config,
    point: (id, name) => config(id).profile.points.find((p) => p.name === name)!,
    driver(id, connection = {}) {
      const device = config(id);
      const simulated = sim.devices.find((d) => d.id === id)!;
      const driver = createBacnetDriver({ ...device, connection: { ...device.connection, host: '127.0.0.1', port: simulated.port, ...connection } }, silentLog);
      drivers.push(driver);
      return driver;
    },
  };
}

/** A sink that records what the driver pushes. */
export function recordingSink(): { sink: DriverSink; values: { point: string; value: RawValue; ts: number }[]; lost: { points: readonly string[]; reason: Error }[] } {
  const values: { point: string; value: RawValue; ts: number }[] = [];
  const lost: { points: readonly string[]; reason: Error }[] = [];
  const sink: DriverSink = {
    value: (point, value, ts) => void values.push({ point, value, ts }),
    event: () => undefined,
    lost: (points, reason) => void lost.push({ points, reason }),
  };
  return { sink, values, lost };
}

/** Resolves when `check` is true, polling every 20 ms; rejects after `ms`. */
export async function until(check: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
