/**
 * The configuration schemas of this build's drivers, for the config loader. Kept apart
 * from the driver factories (registry.ts) so that validating a profile loads no protocol
 * stack. Adding a protocol means adding it here and in registry.ts.
 */
import type { ProtocolSchemas } from '../core/config/load.js';
import { bacnetConnectionSchemas, bacnetProfileSchemas } from './bacnet/schema.js';
import { onvifConnectionSchemas, onvifProfileSchemas } from './onvif/schema.js';
import { checkModbusPoint, ModbusAddress, ModbusOptions, ModbusRtuConnection, ModbusRtuTcpConnection, ModbusTcpConnection } from './modbus/schema.js';

export const protocolSchemas: ProtocolSchemas = {
  connections: {
    'modbus-tcp': { profileProtocol: 'modbus', schema: ModbusTcpConnection },
    'modbus-rtu-tcp': { profileProtocol: 'modbus', schema: ModbusRtuTcpConnection },
    'modbus-rtu': { profileProtocol: 'modbus', schema: ModbusRtuConnection },
    ...bacnetConnectionSchemas,
    ...onvifConnectionSchemas,
  },
  profiles: {
    modbus: { address: ModbusAddress, options: ModbusOptions, checkPoint: checkModbusPoint },
    ...bacnetProfileSchemas,
    ...onvifProfileSchemas,
  },
};
