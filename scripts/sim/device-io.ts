/**
 * A simulated device's points over its register banks: models set and get values in
 * engineering units (value = raw × scale + offset, as the profile says), encoded with the
 * gateway's own codec at each point's address — so the simulator and the driver agree by
 * construction on types, word and byte orders, and the tests compare against real
 * registers.
 */
import type { DeviceProfile, PointSpec } from '../../gateway/src/core/config/profile.js';
import { decode, encode, layoutOf, wordsOf, type Layout } from '../../gateway/src/drivers/modbus/codec.js';
import { RegisterBank, type BankSizes, type Table } from './register-bank.js';

export interface SimPoint {
  readonly spec: PointSpec;
  readonly unitId: number;
  readonly table: Table;
  readonly register: number;
  /** Registers (or bits) the point spans. */
  readonly count: number;
  readonly layout: Layout;
  readonly bank: RegisterBank;
}

interface Address {
  table: Table;
  register: number;
  unitId?: number;
}

function addressOf(point: PointSpec): Address {
  const a = point.address as unknown as Address | undefined;
  if (a === undefined) throw new Error(`point ${point.name} has no address`);
  return a;
}

const isBitTable = (t: Table) => t === 'coil' || t === 'discrete';

/** Raw integer limits of each integer type. */
const INT_LIMITS: Partial<Record<PointSpec['type'], [number, number]>> = {
  int16: [-0x8000, 0x7fff],
  uint16: [0, 0xffff],
  int32: [-0x8000_0000, 0x7fff_ffff],
  uint32: [0, 0xffff_ffff],
  int64: [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  uint64: [0, Number.MAX_SAFE_INTEGER],
};

/** The table sizes a unit needs to hold the given points (each table up to its last point's end). */
export function bankSizes(points: readonly PointSpec[]): BankSizes {
  const sizes: Record<Table, number> = { holding: 0, input: 0, coil: 0, discrete: 0 };
  for (const point of points) {
    const a = addressOf(point);
    const end = a.register + (isBitTable(a.table) ? 1 : wordsOf(point));
    sizes[a.table] = Math.max(sizes[a.table], end);
  }
  return sizes;
}

/** The unit id of each point: its address's own, else the connection's. */
export function unitOf(point: PointSpec, connectionUnit: number): number {
  return addressOf(point).unitId ?? connectionUnit;
}

export class DeviceIo {
  readonly points: readonly SimPoint[];
  private readonly byName = new Map<string, SimPoint>();
  private readonly writeListeners: ((points: SimPoint[]) => void)[] = [];

  /** `bankOf(unitId)` gives the bank that holds the points of that unit. */
  constructor(
    readonly profile: DeviceProfile,
    connectionUnit: number,
    bankOf: (unitId: number) => RegisterBank,
  ) {
    const points: SimPoint[] = [];
    const banks = new Set<RegisterBank>();
    for (const spec of profile.points) {
      const a = addressOf(spec);
      const unitId = unitOf(spec, connectionUnit);
      const bank = bankOf(unitId);
      banks.add(bank);
      const layout: Layout = isBitTable(a.table) ? { type: 'bool', wordOrder: 'big', byteOrder: 'big' } : layoutOf(spec, profile.protocolOptions);
      const p: SimPoint = { spec, unitId, table: a.table, register: a.register, count: isBitTable(a.table) ? 1 : wordsOf(spec), layout, bank };
      points.push(p);
      this.byName.set(spec.name, p);
    }
    this.points = points;
    for (const bank of banks) {
      bank.onWrite((table, start, count) => {
        const hit = points.filter((p) => p.bank === bank && p.table === table && p.register < start + count && start < p.register + p.count);
        if (hit.length > 0) for (const listener of this.writeListeners) listener(hit);
      });
    }
  }

  point(name: string): SimPoint | undefined {
    return this.byName.get(name);
  }

  /** Called with the points a client wrote to (after the bank holds the new value). */
  onClientWrite(listener: (points: SimPoint[]) => void): void {
    this.writeListeners.push(listener);
  }

  /**
   * Sets a point to an engineering value. Numbers are turned raw ((v − offset) / scale),
   * rounded for integer types and clamped to what the type can hold; strings are cut to
   * fit; a missing point (`undefined`) is ignored, so models survive edited profiles.
   */
  set(point: SimPoint | string | undefined, value: number | boolean | string): void {
    const p = typeof point === 'string' ? this.byName.get(point) : point;
    if (p === undefined) return;
    const { spec, layout, bank } = p;
    if (p.table === 'coil' || p.table === 'discrete') {
      bank.setBit(p.table, p.register, value === true || value === 1);
      return;
    }
    const table = p.table;
    let raw: number | boolean | string = value;
    if (layout.type === 'string') {
      raw = fitString(String(value), (layout.length ?? 1) * 2);
    } else if (layout.type === 'bool' || layout.type === 'bits') {
      raw = value === true || value === 1;
    } else if (typeof value === 'number') {
      raw = (value - spec.offset) / (spec.scale === 0 ? 1 : spec.scale);
      const limits = INT_LIMITS[layout.type];
      if (limits !== undefined) raw = Math.min(limits[1], Math.max(limits[0], Math.round(Number.isFinite(raw) ? raw : 0)));
    }
    const current = bank[table][p.register] ?? 0;
    bank.setRegisters(table, p.register, encode(layout, raw, current));
  }

  /** The point's engineering value as the bank holds it now (raw × scale + offset for numbers). */
  get(point: SimPoint | string | undefined): number | boolean | string | undefined {
    const p = typeof point === 'string' ? this.byName.get(point) : point;
    if (p === undefined) return undefined;
    if (p.table === 'coil' || p.table === 'discrete') return p.bank.getBit(p.table, p.register);
    const raw = decode(p.layout, p.bank[p.table], p.register);
    return typeof raw === 'number' ? raw * p.spec.scale + p.spec.offset : raw;
  }

  /** `get` as a number (booleans 0/1), or `fallback` when the point is missing or not numeric. */
  num(point: SimPoint | string | undefined, fallback: number): number {
    const v = this.get(point);
    if (typeof v === 'boolean') return v ? 1 : 0;
    return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
  }
}

/** Cuts `s` to at most `bytes` UTF-8 bytes without splitting a character. */
function fitString(s: string, bytes: number): string {
  let out = s;
  while (Buffer.byteLength(out, 'utf8') > bytes) out = out.slice(0, -1);
  return out;
}

/** Banks for a device's unit ids, sized from its points. */
export function banksFor(profile: DeviceProfile, connectionUnit: number): Map<number, RegisterBank> {
  const byUnit = new Map<number, PointSpec[]>();
  for (const p of profile.points) {
    const unit = unitOf(p, connectionUnit);
    byUnit.set(unit, [...(byUnit.get(unit) ?? []), p]);
  }
  const banks = new Map<number, RegisterBank>();
  for (const [unit, points] of byUnit) banks.set(unit, new RegisterBank(bankSizes(points)));
  return banks;
}
