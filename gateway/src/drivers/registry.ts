/**
 * The driver factories of this build (main.ts uses them); their configuration schemas
 * are in schemas.ts.
 */
import type { DeviceConfig } from '../core/config/load.js';
import type { Logger } from '../core/logger.js';
import type { Driver } from './driver.js';
import { createBacnetDriver } from './bacnet/driver.js';
import { createModbusDriver } from './modbus/driver.js';
import { createOnvifDriver } from './onvif/driver.js';

/** Builds the driver for one configured device (the loader has already refused unknown protocols). */
export function createDriver(device: DeviceConfig, log: Logger): Driver {
  switch (device.profile.protocol) {
    case 'modbus':
      return createModbusDriver(device, log);
    case 'bacnet':
      return createBacnetDriver(device, log);
    case 'onvif':
      return createOnvifDriver(device, log);
    default:
      throw new Error(`no driver for protocol ${device.profile.protocol} in this build`);
  }
}
