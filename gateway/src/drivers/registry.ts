/**
 * The drivers of this build: their configuration schemas (for the loader) and their
 * factories (for main.ts). Adding a protocol means adding it here.
 */
import type { DeviceConfig, ProtocolSchemas } from '../core/config/load.js';
import type { Logger } from '../core/logger.js';
import type { Driver } from './driver.js';
import { createModbusDriver } from './modbus/driver.js';
import { checkModbusPoint, ModbusAddress, ModbusOptions, ModbusRtuConnection, ModbusRtuTcpConnection, ModbusTcpConnection } from './modbus/schema.js';

export const protocolSchemas: ProtocolSchemas = {
  connections: {
    'modbus-tcp': { profileProtocol: 'modbus', schema: ModbusTcpConnection },
    'modbus-rtu-tcp': { profileProtocol: 'modbus', schema: ModbusRtuTcpConnection },
    'modbus-rtu': { profileProtocol: 'modbus', schema: ModbusRtuConnection },
  },
  profiles: {
    modbus: { address: ModbusAddress, options: ModbusOptions, checkPoint: checkModbusPoint },
  },
};

/** Builds the driver for one configured device. */
export function createDriver(device: DeviceConfig, log: Logger): Driver {
  switch (device.profile.protocol) {
    case 'modbus':
      return createModbusDriver(device, log);
    default:
      throw new Error(`no driver for protocol ${device.profile.protocol}`);
  }
}
