/**
 * The Modbus driver: `modbus-tcp`, `modbus-rtu-tcp` and `modbus-rtu` devices through
 * modbus-serial@8, behind the Driver contract (driver.ts). It reads one planned block per
 * request and returns raw decoded values (scale and offset are the poller's); it writes
 * one point per call.
 *
 * Function codes (Modbus Application Protocol V1.1b3 §6): reads FC 1 coils, FC 2
 * discrete inputs, FC 3 holding registers, FC 4 input registers; writes FC 5 single coil,
 * FC 6 single register, FC 16 multiple registers (points spanning several registers, or
 * every register write with `modbus.writeSingleWithMultiple`).
 */
import type { DeviceConfig } from '../../core/config/load.js';
import type { PointSpec } from '../../core/config/profile.js';
import { GatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sharedString } from '../../core/model.js';
import type { Driver, Location, NumericBlockReader, PointResult, RawValue, ReadBlock } from '../driver.js';
import { decode, decodeNumbers, encode, layoutOf, numericOps, type Layout } from './codec.js';
import { acquireLink, linkKeyOf, releaseLink, type ModbusClient, type ModbusLink } from './link.js';
import { registerCount, type ModbusAddress, type ModbusConnection, type ModbusOptions, type ModbusTable } from './schema.js';

/** The profile's `modbus:` block with every default filled in (the loader does it; hand-built configs may not). */
function resolveOptions(raw: Readonly<Record<string, unknown>>): ModbusOptions {
  const int = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : d);
  const order = (v: unknown) => (v === 'little' ? 'little' : 'big');
  return {
    maxRegistersPerRead: int(raw.maxRegistersPerRead, 120),
    maxBitsPerRead: int(raw.maxBitsPerRead, 2000),
    maxGap: int(raw.maxGap, 8),
    wordOrder: order(raw.wordOrder),
    byteOrder: order(raw.byteOrder),
    writeSingleWithMultiple: raw.writeSingleWithMultiple === true,
  };
}

const TABLES: readonly ModbusTable[] = ['holding', 'input', 'coil', 'discrete'];
const isBitTable = (table: ModbusTable) => table === 'coil' || table === 'discrete';
/** The registers as numbers, for a block that needs none (decodeNumbers reads them only for 64-bit types). */
const NO_WORDS: readonly number[] = [];

function addressOf(point: PointSpec): ModbusAddress {
  const address = point.address as Partial<ModbusAddress> | undefined;
  if (address === undefined || !TABLES.includes(address.table as ModbusTable) || typeof address.register !== 'number') {
    throw new GatewayError('GW_ERR_DECODE', `point ${point.name} has no valid Modbus address (expected { table, register })`, { details: { point: point.name } });
  }
  return address as ModbusAddress;
}

/** `"<unitId>/<table>"` → its parts. */
function parseSpace(space: string): { unitId: number; table: ModbusTable } {
  const slash = space.indexOf('/');
  const unitId = Number(space.slice(0, slash));
  const table = space.slice(slash + 1) as ModbusTable;
  if (slash < 1 || !Number.isInteger(unitId) || !TABLES.includes(table)) throw new GatewayError('GW_ERR_DECODE', `not a Modbus address space: "${space}" (expected "<unitId>/<table>")`);
  return { unitId, table };
}

/** Coils/inputs as one 0/1 "register" each, the shape the codec decodes a `bool` from. */
function bitsAsWords(bits: readonly boolean[], count: number): number[] {
  const out = new Array<number>(Math.min(count, bits.length));
  for (let i = 0; i < out.length; i++) out[i] = bits[i] === true ? 1 : 0;
  return out;
}

const FUNCTION_OF: Record<ModbusTable, string> = { coil: 'FC1 read coils', discrete: 'FC2 read discrete inputs', holding: 'FC3 read holding registers', input: 'FC4 read input registers' };

class ModbusDriver implements Driver {
  readonly protocol: string;
  readonly linkKey: string;
  private link: ModbusLink | undefined;
  private readonly conn: ModbusConnection;
  private readonly options: ModbusOptions;
  private readonly layouts = new WeakMap<PointSpec, Layout>();

  constructor(
    private readonly device: DeviceConfig,
    private readonly log: Logger,
  ) {
    this.conn = device.connection as unknown as ModbusConnection;
    this.protocol = this.conn.protocol;
    this.linkKey = linkKeyOf(this.conn);
    this.options = resolveOptions(device.profile.protocolOptions);
  }

  async connect(): Promise<void> {
    if (this.link === undefined) {
      this.link = acquireLink(this.conn);
      const first = this.link.connection;
      if (first !== this.conn && first.protocol === 'modbus-rtu' && this.conn.protocol === 'modbus-rtu' && (first.baudRate !== this.conn.baudRate || first.parity !== this.conn.parity)) {
        this.log.warn({ link: this.linkKey, baudRate: first.baudRate, parity: first.parity }, 'devices on this serial port disagree on its settings: the first device’s are used');
      }
    }
    if (this.link.connected) return;
    const started = performance.now();
    await this.link.open(this.conn.timeoutMs);
    this.log.info({ link: this.linkKey, ms: Math.round(performance.now() - started) }, 'modbus link open');
  }

  isConnected(): boolean {
    return this.link?.connected ?? false;
  }

  locate(point: PointSpec): Location {
    const address = addressOf(point);
    const unitId = address.unitId ?? this.conn.unitId;
    return { space: sharedString(`${unitId}/${address.table}`), start: address.register, count: isBitTable(address.table) ? 1 : registerCount(point) };
  }

  limits(space: string): { readonly maxCount: number; readonly maxGap: number } {
    const { table } = parseSpace(space);
    return { maxCount: isBitTable(table) ? this.options.maxBitsPerRead : this.options.maxRegistersPerRead, maxGap: this.options.maxGap };
  }

  private layout(point: PointSpec, table: ModbusTable): Layout {
    let layout = this.layouts.get(point);
    if (layout === undefined) {
      // A coil or input is one bit: a `bool` there is the bit itself, whatever else the point says.
      layout = isBitTable(table) ? { type: 'bool', wordOrder: 'big', byteOrder: 'big' } : layoutOf(point, this.options);
      this.layouts.set(point, layout);
    }
    return layout;
  }

  private request<T>(what: string, unitId: number, op: (client: ModbusClient) => Promise<T>): Promise<T> {
    const link = this.link;
    if (link === undefined) return Promise.reject(new GatewayError('GW_ERR_MODBUS_CONNECT', `${what}: the driver of ${this.device.id} is not connected (call connect() first)`));
    return link.request(`${what} (unit ${unitId}, ${this.linkKey})`, unitId, this.conn.timeoutMs, op);
  }

  async read(block: ReadBlock): Promise<PointResult[]> {
    const { unitId, table } = parseSpace(block.space);
    const { start, count } = block;
    const what = `${FUNCTION_OF[table]} ${start}…${start + count - 1}`;
    const words = await this.request(what, unitId, async (client): Promise<number[]> => {
      switch (table) {
        case 'coil':
          return bitsAsWords((await client.readCoils(start, count)).data, count);
        case 'discrete':
          return bitsAsWords((await client.readDiscreteInputs(start, count)).data, count);
        case 'holding':
          return (await client.readHoldingRegisters(start, count)).data;
        case 'input':
          return (await client.readInputRegisters(start, count)).data;
      }
    });
    if (words.length < count) throw this.shortAnswer(what, words.length, count);
    return block.points.map(({ spec, at }): PointResult => {
      try {
        const value = decode(this.layout(spec, table), words, at.start - start);
        if (typeof value === 'number' && !Number.isFinite(value)) {
          // IEEE 754 NaN/∞ is how many devices say "no valid measurement" (sensor open, out of range).
          return { ok: false, error: new GatewayError('GW_ERR_DECODE', `${spec.name}: the device sent ${value} (no valid measurement)`, { details: { point: spec.name } }) };
        }
        return { ok: true, value };
      } catch (err) {
        return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
      }
    });
  }

  /**
   * The poller's fast path: the block's decoding is planned once (one op per point), and
   * each read decodes the answer's bytes in one pass into the caller's Float64Array.
   */
  compileNumeric(block: ReadBlock): NumericBlockReader | undefined {
    const { unitId, table } = parseSpace(block.space);
    const { start, count } = block;
    const what = `${FUNCTION_OF[table]} ${start}…${start + count - 1}`;
    const n = block.points.length;
    if (isBitTable(table)) {
      const at = Int32Array.from(block.points, (p) => p.at.start - start);
      const readBits = table === 'coil' ? (c: ModbusClient) => c.readCoils(start, count) : (c: ModbusClient) => c.readDiscreteInputs(start, count);
      return {
        read: async (out: Float64Array): Promise<void> => {
          const { data } = await this.request(what, unitId, readBits);
          if (data.length < count) throw this.shortAnswer(what, data.length, count);
          for (let i = 0; i < n; i++) out[i] = data[at[i]!] === true ? 1 : 0;
        },
      };
    }
    const ops = numericOps(
      block.points.map((p) => this.layout(p.spec, table)),
      block.points.map((p) => p.at.start - start),
    );
    if (ops === undefined) return undefined;
    const readRegisters = table === 'holding' ? (c: ModbusClient) => c.readHoldingRegisters(start, count) : (c: ModbusClient) => c.readInputRegisters(start, count);
    // The registers as numbers only for points decoded the general way (64-bit types): the
    // Modbus TCP client makes that array only when it is asked for (mbap.ts).
    const needsWords = ops.layouts.some((l) => l !== undefined);
    return {
      read: async (out: Float64Array): Promise<void> => {
        const answer = await this.request(what, unitId, readRegisters);
        const { buffer } = answer;
        if (buffer.length < count * 2) throw this.shortAnswer(what, buffer.length >> 1, count);
        decodeNumbers(ops, buffer, needsWords ? answer.data : NO_WORDS, out);
      },
    };
  }

  private shortAnswer(what: string, got: number, count: number): GatewayError {
    const err = new GatewayError('GW_ERR_MODBUS_FRAME', `${what}: the answer holds ${got} values, ${count} were asked for`);
    this.link?.drop(err);
    return err;
  }

  async write(point: PointSpec, value: RawValue): Promise<void> {
    const address = addressOf(point);
    const unitId = address.unitId ?? this.conn.unitId;
    const { table, register } = address;
    if (table === 'input' || table === 'discrete') {
      throw new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name}: ${table === 'input' ? 'input registers' : 'discrete inputs'} are read-only in Modbus`, { details: { point: point.name } });
    }
    if (point.access !== 'rw') throw new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name} is read-only (access: r in the profile)`, { details: { point: point.name } });
    const layout = this.layout(point, table);

    if (table === 'coil') {
      const on = encode(layout, value)[0] === 1;
      // Modbus Application Protocol §6.5: ON is 0xFF00, OFF 0x0000; the answer echoes the request.
      const echo = await this.request(`FC5 write coil ${register}`, unitId, (c) => c.writeCoil(register, on));
      this.checkEcho(`FC5 write coil ${register}`, echo.address === register && echo.state === on);
    } else if (layout.type === 'bits' || (layout.type === 'bool' && layout.bit !== undefined)) {
      // Read-modify-write of the one register (FC 22 Mask Write Register, §6.16, would be
      // atomic but few field devices implement it). Another master writing the same
      // register between the two requests would be overwritten.
      const what = `FC3 read holding register ${register} (for a bit write)`;
      const current = await this.request(what, unitId, async (c) => (await c.readHoldingRegisters(register, 1)).data[0]);
      if (current === undefined) throw new GatewayError('GW_ERR_MODBUS_FRAME', `${what}: the answer holds no register`);
      await this.writeWords(unitId, register, encode(layout, value, current));
    } else {
      await this.writeWords(unitId, register, encode(layout, value));
    }
    this.log.info({ point: point.name, value, unitId, table, register }, 'modbus write');
  }

  private async writeWords(unitId: number, register: number, words: number[]): Promise<void> {
    const [first] = words;
    if (words.length === 1 && first !== undefined && !this.options.writeSingleWithMultiple) {
      const what = `FC6 write register ${register}`;
      const echo = await this.request(what, unitId, (c) => c.writeRegister(register, first));
      this.checkEcho(what, echo.address === register && echo.value === first);
    } else {
      const what = `FC16 write registers ${register}…${register + words.length - 1}`;
      const echo = await this.request(what, unitId, (c) => c.writeRegisters(register, words));
      this.checkEcho(what, echo.address === register && echo.length === words.length);
    }
  }

  /** §6.5/§6.6/§6.12: a write's answer echoes address and value/quantity; anything else is not our answer. */
  private checkEcho(what: string, ok: boolean): void {
    if (ok) return;
    const err = new GatewayError('GW_ERR_MODBUS_FRAME', `${what}: the device’s answer does not echo the request`);
    this.link?.drop(err);
    throw err;
  }

  async close(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    if (link !== undefined) {
      releaseLink(link);
      this.log.debug({ link: this.linkKey }, 'modbus driver closed');
    }
  }
}

/** The driver of one configured Modbus device (`modbus-tcp`, `modbus-rtu-tcp` or `modbus-rtu`). */
export function createModbusDriver(device: DeviceConfig, log: Logger): Driver {
  return new ModbusDriver(device, log);
}
