/**
 * The driver factories of this build (main.ts uses them); their configuration schemas
 * are in schemas.ts, which the config loader checks every device against at start.
 *
 * A protocol's driver — and its stack: @bacnet-js/client, the ONVIF SOAP client with its
 * XML parser, modbus-serial — is loaded only for a site that has a device of that protocol
 * (issue 3: a gateway of Modbus devices does not carry the BACnet and ONVIF stacks in its
 * RSS). `loadDrivers` imports the ones a site needs, once; `createDriver` then builds a
 * device's driver synchronously, as the poller wants it, and so still checks the device's
 * connection at start. Adding a protocol means adding it here and in schemas.ts.
 */
import type { DeviceConfig } from '../core/config/load.js';
import type { Protocol } from '../core/config/profile.js';
import type { Logger } from '../core/logger.js';
import type { Driver } from './driver.js';

type Factory = (device: DeviceConfig, log: Logger) => Driver;

/** Each protocol's factory, imported on first use. */
const modules: Readonly<Record<Protocol, () => Promise<Factory>>> = {
  modbus: async () => (await import('./modbus/driver.js')).createModbusDriver,
  bacnet: async () => (await import('./bacnet/driver.js')).createBacnetDriver,
  onvif: async () => (await import('./onvif/driver.js')).createOnvifDriver,
};

const loaded = new Map<string, Factory>();

/**
 * Loads the drivers of these protocols (a device list, or protocol names); the ones
 * already loaded cost nothing. Resolves when `createDriver` can build each of them.
 */
export async function loadDrivers(which: Iterable<DeviceConfig | Protocol>): Promise<void> {
  const protocols = new Set<string>();
  for (const w of which) protocols.add(typeof w === 'string' ? w : w.profile.protocol);
  await Promise.all(
    [...protocols].map(async (p) => {
      if (loaded.has(p)) return;
      const load = Object.hasOwn(modules, p) ? modules[p as Protocol] : undefined;
      if (load === undefined) throw new Error(`no driver for protocol ${p} in this build`);
      loaded.set(p, await load());
    }),
  );
}

/**
 * Builds the driver for one configured device (the loader has already refused unknown
 * protocols). Its protocol's driver must be loaded (`await loadDrivers(devices)` first).
 */
export function createDriver(device: DeviceConfig, log: Logger): Driver {
  const factory = loaded.get(device.profile.protocol);
  if (factory === undefined) {
    if (!Object.hasOwn(modules, device.profile.protocol)) throw new Error(`no driver for protocol ${device.profile.protocol} in this build`);
    throw new Error(`the ${device.profile.protocol} driver is not loaded: await loadDrivers(devices) before createDriver (drivers/registry.ts)`);
  }
  return factory(device, log);
}
