/**
 * All device pollers of a site: builds one per enabled device with its driver, shares
 * a link queue between devices on the same link, and reports their states.
 */
import type { DeviceConfig } from '../core/config/load.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceState, Value } from '../core/model.js';
import type { Driver } from '../drivers/driver.js';
import { DevicePoller, type BackoffOptions, type DeviceStats, type DeviceStatus, type PollSink } from './device-poller.js';
import { LinkQueues } from './link-queue.js';

export interface PollerOptions {
  readonly devices: readonly DeviceConfig[];
  readonly createDriver: (device: DeviceConfig) => Driver;
  readonly sink: PollSink;
  readonly log: Logger;
  readonly backoff?: BackoffOptions;
}

export class Poller {
  private readonly pollers = new Map<string, DevicePoller>();
  private readonly links = new LinkQueues();

  constructor(options: PollerOptions) {
    for (const device of options.devices) {
      const driver = options.createDriver(device);
      // Modbus over Serial Line §2.5.1.1: 3.5 character times between frames; ≥ 1.75 ms above 19200 baud.
      const baud = typeof device.connection.baudRate === 'number' ? device.connection.baudRate : undefined;
      const gapMs = baud === undefined ? 0 : Math.max(1.75, Math.ceil((3.5 * 11 * 1000) / baud));
      const link = this.links.get(driver.linkKey, gapMs);
      const log = options.log.child({ device: device.id });
      this.pollers.set(device.id, new DevicePoller(device, driver, link, options.sink, log, options.backoff));
    }
  }

  /** Starts every device; their cycles are spread evenly over a cycle, not all due at the same moment. */
  start(): void {
    const all = [...this.pollers.values()];
    all.forEach((p, i) => p.start(i / all.length));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.pollers.values()].map((p) => p.stop()));
  }

  /** Writes a point of a device through its poller (guards, link queue); see DevicePoller.write. */
  async write(device: string, point: string, value: Value): Promise<{ previous: Value | null }> {
    const p = this.pollers.get(device);
    if (p === undefined) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `no device "${device}" in this site`);
    return p.write(point, value);
  }

  status(id: string): DeviceStatus | undefined {
    return this.pollers.get(id)?.status();
  }

  /** A device's state alone (no status object: cheap enough for every poll cycle). */
  state(id: string): DeviceState | undefined {
    return this.pollers.get(id)?.currentState;
  }

  /** A device's counters as they stand, live (not a copy: read, do not keep). */
  liveStats(id: string): Readonly<DeviceStats> | undefined {
    return this.pollers.get(id)?.stats;
  }

  statuses(): DeviceStatus[] {
    return [...this.pollers.values()].map((p) => p.status());
  }
}
