/**
 * Shared by the ONVIF driver tests: a site with one simulated camera (or door) on an
 * ephemeral port of 127.0.0.1, the device config pointing at it, and a sink that records
 * what the driver pushes.
 */
import path from 'node:path';
import { loadSiteConfig } from '../../src/config.js';
import type { DeviceConfig, SiteConfig } from '../../src/core/config/load.js';
import { createLogger } from '../../src/core/logger.js';
import type { DeviceEvent, DriverSink, RawValue } from '../../src/drivers/driver.js';
import { createOnvifDriver, type OnvifDriver, type OnvifTuning } from '../../src/drivers/onvif/driver.js';
import { startOnvifSimulator, type OnvifSimulator, type OnvifSimulatorOptions, type SimulatedOnvifDevice } from '../../../scripts/sim/onvif/onvif-sim.js';

export const silentLog = createLogger({ level: 'silent' });
export const PASSWORD = 'cam-secret-1';

interface TestLike {
  testdir(files: Record<string, string>): string;
  teardown(fn: () => unknown): void;
}

export interface CameraRig {
  readonly site: SiteConfig;
  readonly sim: OnvifSimulator;
  readonly cam: SimulatedOnvifDevice;
  /** The device config, pointing at the simulator. */
  readonly device: DeviceConfig;
  /** A driver for it (closed at teardown); `secret` overrides the password. */
  driver(opts?: { secret?: string; connection?: Record<string, unknown>; tuning?: OnvifTuning }): OnvifDriver;
}

export async function startCamera(
  t: TestLike,
  opts: { profile?: string; system?: string; connection?: string; sim?: OnvifSimulatorOptions } = {},
): Promise<CameraRig> {
  const profile = opts.profile ?? 'camera/onvif-camera';
  const system = opts.system ?? 'camera';
  const dir = t.testdir({
    'site.yaml': `site: { id: onvif-test, name: ONVIF test, timezone: Asia/Shanghai }
devices:
  - id: cam-1
    profile: ${profile}
    system: ${system}
    connection: { protocol: onvif, url: "http://127.0.0.1:0", username: admin, passwordEnv: CAM_1_PASSWORD, timeoutMs: 1000, pullTimeoutS: 1${opts.connection ?? ''} }
`,
  });
  const site = loadSiteConfig(path.join(dir, 'site.yaml'), { CAM_1_PASSWORD: PASSWORD });
  const sim = await startOnvifSimulator(site, { events: false, rebootMs: 600, ...opts.sim });
  t.teardown(() => sim.close());
  const cam = sim.devices[0]!;
  const base = site.devices[0]!;
  const device: DeviceConfig = { ...base, connection: { ...base.connection, url: cam.url } };
  const drivers: OnvifDriver[] = [];
  t.teardown(() => Promise.all(drivers.map((d) => d.close())));
  return {
    site,
    sim,
    cam,
    device,
    driver: (o = {}) => {
      const d = createOnvifDriver(
        { ...device, ...(o.secret === undefined ? {} : { secret: o.secret }), connection: { ...device.connection, ...o.connection } },
        silentLog,
        { retryInitialMs: 100, retryAttempts: 5, ...o.tuning },
      );
      drivers.push(d);
      return d;
    },
  };
}

/** A DriverSink that records everything, with a wait for the next matching event. */
export class RecordingSink implements DriverSink {
  readonly events: DeviceEvent[] = [];
  readonly values: { point: string; value: RawValue; ts: number }[] = [];
  readonly lostCalls: { points: readonly string[]; reason: Error }[] = [];
  private waiters: (() => void)[] = [];

  value(point: string, value: RawValue, ts: number): void {
    this.values.push({ point, value, ts });
    this.notify();
  }

  event(event: DeviceEvent): void {
    this.events.push(event);
    this.notify();
  }

  lost(points: readonly string[], reason: Error): void {
    this.lostCalls.push({ points, reason });
    this.notify();
  }

  private notify(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `pred` holds (checked after each push), or rejects after `timeoutMs`. */
  async until(pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  ofType(type: string): DeviceEvent[] {
    return this.events.filter((e) => e.type === type);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
