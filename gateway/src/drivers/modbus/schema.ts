/**
 * What the Modbus driver owns of the configuration (CONVENTIONS §5): the connection
 * blocks of `modbus-tcp`, `modbus-rtu-tcp` and `modbus-rtu` devices, a point's
 * `address`, and the profile's `modbus:` block. Checked at load, never at read time.
 */
import { Type, type Static } from 'typebox';
import type { PathIssue } from '../../core/config/issues.js';
import type { PointSpec } from '../../core/config/profile.js';

/** Modbus Application Protocol §4.3: unit 0 is broadcast, 1–247 devices, 248–255 reserved (255 is common for TCP-only devices). */
const UnitId = Type.Integer({ minimum: 0, maximum: 255, default: 1 });
const TimeoutMs = Type.Integer({ minimum: 10, maximum: 60_000, default: 1000 });
const Host = Type.String({ minLength: 1, maxLength: 253, 'x-expect': 'a host name or IP address' });
const Port = (port: number) => Type.Integer({ minimum: 1, maximum: 65535, default: port });

export const ModbusTcpConnection = Type.Object(
  {
    protocol: Type.Literal('modbus-tcp'),
    host: Host,
    port: Port(502),
    unitId: UnitId,
    timeoutMs: TimeoutMs,
  },
  { additionalProperties: false },
);

/** RTU frames (with CRC) tunnelled over TCP, as serial device servers do. */
export const ModbusRtuTcpConnection = Type.Object(
  {
    protocol: Type.Literal('modbus-rtu-tcp'),
    host: Host,
    port: Port(502),
    unitId: UnitId,
    timeoutMs: TimeoutMs,
  },
  { additionalProperties: false },
);

export const ModbusRtuConnection = Type.Object(
  {
    protocol: Type.Literal('modbus-rtu'),
    path: Type.String({ minLength: 1, 'x-expect': 'a serial port path such as /dev/ttyUSB0' }),
    baudRate: Type.Integer({ minimum: 300, maximum: 921_600, default: 9600 }),
    /** Modbus over Serial Line §2.5.1: even parity is the default of the standard. */
    parity: Type.Union([Type.Literal('none'), Type.Literal('even'), Type.Literal('odd')], { default: 'even' }),
    dataBits: Type.Union([Type.Literal(7), Type.Literal(8)], { default: 8 }),
    stopBits: Type.Union([Type.Literal(1), Type.Literal(2)], { default: 1 }),
    unitId: UnitId,
    timeoutMs: TimeoutMs,
  },
  { additionalProperties: false },
);

export type ModbusTcpConnection = Static<typeof ModbusTcpConnection>;
export type ModbusRtuTcpConnection = Static<typeof ModbusRtuTcpConnection>;
export type ModbusRtuConnection = Static<typeof ModbusRtuConnection>;
export type ModbusConnection = ModbusTcpConnection | ModbusRtuTcpConnection | ModbusRtuConnection;

export const ModbusTable = Type.Union([Type.Literal('holding'), Type.Literal('input'), Type.Literal('coil'), Type.Literal('discrete')]);
export type ModbusTable = Static<typeof ModbusTable>;

export const ModbusAddress = Type.Object(
  {
    table: ModbusTable,
    /** 0-based register (or coil) number as on the wire; manuals that say 40001 mean register 0. */
    register: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** For `bits` points: the bit inside the 16-bit register, 0 = least significant. */
    bit: Type.Optional(Type.Integer({ minimum: 0, maximum: 15 })),
    /** Overrides the connection's unit id, for several units behind one gateway connection. */
    unitId: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
  },
  { additionalProperties: false },
);
export type ModbusAddress = Static<typeof ModbusAddress>;

export const ModbusOptions = Type.Object(
  {
    /** Most registers in one read (FC 3/4): the spec allows 125; many devices accept fewer. */
    maxRegistersPerRead: Type.Integer({ minimum: 1, maximum: 125, default: 120 }),
    /** Most coils/inputs in one read (FC 1/2): the spec allows 2000. */
    maxBitsPerRead: Type.Integer({ minimum: 1, maximum: 2000, default: 2000 }),
    /** Unused registers a coalesced read may span to join two points. */
    maxGap: Type.Integer({ minimum: 0, maximum: 125, default: 8 }),
    /** Defaults for points that do not set their own. */
    wordOrder: Type.Union([Type.Literal('big'), Type.Literal('little')], { default: 'big' }),
    byteOrder: Type.Union([Type.Literal('big'), Type.Literal('little')], { default: 'big' }),
    /** Write single-register points with FC 6 (default) or always FC 16 (some devices only take 16). */
    writeSingleWithMultiple: Type.Boolean({ default: false }),
  },
  { additionalProperties: false },
);
export type ModbusOptions = Static<typeof ModbusOptions>;

/** Registers a data type spans (strings: `length`). */
export function registerCount(point: Pick<PointSpec, 'type' | 'length'>): number {
  switch (point.type) {
    case 'bool':
    case 'bits':
    case 'int16':
    case 'uint16':
      return 1;
    case 'int32':
    case 'uint32':
    case 'float32':
      return 2;
    case 'float64':
    case 'int64':
    case 'uint64':
      return 4;
    case 'string':
      return point.length ?? 1;
  }
}

/** Cross-field checks of one point (paths relative to the point). */
export function checkModbusPoint(point: PointSpec, options: Readonly<Record<string, unknown>>): PathIssue[] {
  const issues: PathIssue[] = [];
  const address = point.address as ModbusAddress;
  const bitTable = address.table === 'coil' || address.table === 'discrete';
  if (bitTable && point.type !== 'bool') {
    issues.push({ path: ['type'], message: `must be bool for a ${address.table} (1-bit) address, got ${point.type}` });
  }
  if (point.type === 'string' && point.length === undefined) issues.push({ path: ['length'], message: 'is required for a string point: the number of registers it spans' });
  if (point.type === 'bits' && address.bit === undefined) issues.push({ path: ['address', 'bit'], message: 'is required for a bits point: the bit 0–15 inside the register' });
  if (address.bit !== undefined && point.type !== 'bits' && point.type !== 'bool') {
    issues.push({ path: ['address', 'bit'], message: `only applies to bits/bool points, but type is ${point.type}` });
  }
  if (point.access === 'rw' && (address.table === 'input' || address.table === 'discrete')) {
    issues.push({ path: ['access'], message: `must be r: ${address.table} ${address.table === 'input' ? 'registers' : 'inputs'} are read-only in Modbus` });
  }
  const count = registerCount(point);
  const max = bitTable ? Number(options.maxBitsPerRead ?? 2000) : Number(options.maxRegistersPerRead ?? 125);
  if (count > max) issues.push({ path: ['length'], message: `spans ${count} registers, more than modbus.maxRegistersPerRead (${max})` });
  if (address.register + count - 1 > 65535) issues.push({ path: ['address', 'register'], message: `leaves no room for the ${count} registers of a ${point.type}` });
  return issues;
}
