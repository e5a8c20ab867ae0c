/**
 * Values ⇄ Modbus registers, for every data type a profile can name. Pure functions:
 * the driver decodes what it read and encodes what it writes; the simulator encodes what
 * its models produce.
 *
 * Modbus itself only knows 16-bit registers sent high byte first (Modbus Application
 * Protocol V1.1b3 §4.2, "big-Endian representation"); how a wider value is spread over
 * several registers is up to each device, hence `wordOrder` and `byteOrder`:
 *
 * | wordOrder | byteOrder | float32 23.5 (0x41BC0000) on the wire | name      |
 * | --------- | --------- | ------------------------------------- | --------- |
 * | big       | big       | 0x41BC 0x0000                         | ABCD      |
 * | little    | big       | 0x0000 0x41BC                         | CDAB      |
 * | big       | little    | 0xBC41 0x0000                         | BADC      |
 * | little    | little    | 0x0000 0xBC41                         | DCBA      |
 *
 * For 64-bit types `wordOrder: little` means the least significant register first
 * (all four registers reversed: GH EF CD AB), which is what devices that send 32-bit
 * values low word first do for 64-bit ones. Strings have no word order: characters come
 * in register order, two per register, the first in the high byte unless
 * `byteOrder: little`.
 *
 * Bit-table points (coils, discrete inputs) are handed in as one "register" per bit
 * holding 0 or 1, so `bool` decodes the same way from a coil and from a register.
 */
import { GatewayError } from '../../core/errors.js';
import type { DataType, Order, PointSpec } from '../../core/config/profile.js';
import { registerCount } from './schema.js';

/** How one point's value is laid out in registers. */
export interface Layout {
  readonly type: DataType;
  /** Registers of a `string` point (2 bytes each). */
  readonly length?: number;
  /** Bit 0–15 of the register for `bits` (and optionally `bool`) points; 0 = least significant. */
  readonly bit?: number;
  readonly wordOrder: Order;
  readonly byteOrder: Order;
}

/** The profile-wide defaults (`modbus: { wordOrder, byteOrder }`). */
export interface OrderDefaults {
  readonly wordOrder?: unknown;
  readonly byteOrder?: unknown;
}

function asOrder(value: unknown): Order | undefined {
  return value === 'big' || value === 'little' ? value : undefined;
}

/** The layout of a profile point: the point's own orders win over the profile's defaults, then big/big. */
export function layoutOf(point: Pick<PointSpec, 'type' | 'length' | 'address' | 'wordOrder' | 'byteOrder'>, defaults: OrderDefaults = {}): Layout {
  const bit = point.address?.bit;
  return {
    type: point.type,
    ...(point.length === undefined ? {} : { length: point.length }),
    ...(typeof bit === 'number' ? { bit } : {}),
    wordOrder: point.wordOrder ?? asOrder(defaults.wordOrder) ?? 'big',
    byteOrder: point.byteOrder ?? asOrder(defaults.byteOrder) ?? 'big',
  };
}

/** Registers the layout spans. */
export function wordsOf(layout: Pick<Layout, 'type' | 'length'>): number {
  return registerCount(layout);
}

const swap16 = (w: number): number => ((w & 0xff) << 8) | ((w >>> 8) & 0xff);

function decodeError(layout: Layout, message: string): GatewayError {
  return new GatewayError('GW_ERR_DECODE', `cannot decode a ${layout.type}: ${message}`, { details: { type: layout.type } });
}

function encodeError(layout: Layout, value: unknown, message: string): GatewayError {
  return new GatewayError('GW_ERR_WRITE_REFUSED', `cannot encode ${JSON.stringify(value)} as a ${layout.type}: ${message}`, { details: { type: layout.type } });
}

/** The register value as a 16-bit number, after undoing a little byte order. */
function register(layout: Layout, words: ArrayLike<number>, offset: number): number {
  const w = words[offset];
  if (w === undefined) throw decodeError(layout, `register ${offset} is missing (have ${words.length})`);
  const v = w & 0xffff;
  return layout.byteOrder === 'little' ? swap16(v) : v;
}

/**
 * The bytes of `n` registers in big-endian order (most significant byte first), with the
 * device's word and byte orders undone.
 */
function bytesOf(layout: Layout, words: ArrayLike<number>, offset: number, n: number): DataView {
  if (offset + n > words.length) throw decodeError(layout, `needs ${n} registers from ${offset}, have ${Math.max(0, words.length - offset)}`);
  const view = new DataView(new ArrayBuffer(n * 2));
  for (let i = 0; i < n; i++) {
    // Little word order: the least significant register comes first on the wire.
    const src = layout.wordOrder === 'little' && layout.type !== 'string' ? n - 1 - i : i;
    view.setUint16(i * 2, register(layout, words, offset + src));
  }
  return view;
}

/** The registers, in wire order, that hold the big-endian `bytes`. */
function wordsFrom(layout: Layout, bytes: DataView): number[] {
  const n = bytes.byteLength / 2;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const v = bytes.getUint16(i * 2);
    const dst = layout.wordOrder === 'little' && layout.type !== 'string' ? n - 1 - i : i;
    out[dst] = layout.byteOrder === 'little' ? swap16(v) : v;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/**
 * Decodes the point at `words[offset…]`.
 *
 * - `bool`: the bit `layout.bit` if given, else register ≠ 0 (a coil or input is 0/1).
 * - `bits`: bit `layout.bit` (required) of the register.
 * - integers: two's complement for signed types.
 * - `float32`/`float64`: IEEE 754; NaN and ±Infinity are returned as such (the driver
 *   reports them as bad readings).
 * - `int64`/`uint64`: returned as a `number`; exact up to 2^53 (Number.MAX_SAFE_INTEGER),
 *   rounded to the nearest double above that (energy counters stay far below).
 * - `string`: UTF-8 (ASCII is a subset), trailing NULs and spaces trimmed; bytes that are
 *   not UTF-8 decode to U+FFFD.
 *
 * @throws GatewayError GW_ERR_DECODE when there are too few registers or the layout is unusable.
 */
export function decode(layout: Layout, words: ArrayLike<number>, offset = 0): number | boolean | string {
  switch (layout.type) {
    case 'bool': {
      const v = register(layout, words, offset);
      return layout.bit === undefined ? v !== 0 : ((v >>> checkBit(layout)) & 1) === 1;
    }
    case 'bits':
      return ((register(layout, words, offset) >>> checkBit(layout)) & 1) === 1;
    case 'uint16':
      return register(layout, words, offset);
    case 'int16':
      return (register(layout, words, offset) << 16) >> 16;
    case 'int32':
      return bytesOf(layout, words, offset, 2).getInt32(0);
    case 'uint32':
      return bytesOf(layout, words, offset, 2).getUint32(0);
    case 'float32':
      return bytesOf(layout, words, offset, 2).getFloat32(0);
    case 'float64':
      return bytesOf(layout, words, offset, 4).getFloat64(0);
    case 'int64':
      return Number(bytesOf(layout, words, offset, 4).getBigInt64(0));
    case 'uint64':
      return Number(bytesOf(layout, words, offset, 4).getBigUint64(0));
    case 'string': {
      const n = layout.length ?? 1;
      const view = bytesOf(layout, words, offset, n);
      let end = view.byteLength;
      while (end > 0 && (view.getUint8(end - 1) === 0 || view.getUint8(end - 1) === 0x20)) end--;
      return utf8.decode(new Uint8Array(view.buffer, 0, end));
    }
  }
}

function checkBit(layout: Layout): number {
  const bit = layout.bit;
  if (bit === undefined || !Number.isInteger(bit) || bit < 0 || bit > 15) throw decodeError(layout, `bit must be 0–15, got ${String(bit)}`);
  return bit;
}

function asInteger(layout: Layout, value: number | boolean | string, min: number, max: number): number {
  const n = typeof value === 'boolean' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw encodeError(layout, value, 'expected a finite number');
  // The poller hands in raw = (value − offset) / scale, which may carry float noise (349.99999…).
  const r = Math.round(n);
  if (r < min || r > max) throw encodeError(layout, value, `outside ${min}…${max}`);
  return r;
}

function asBigInt(layout: Layout, value: number | boolean | string, min: bigint, max: bigint): bigint {
  const n = typeof value === 'boolean' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw encodeError(layout, value, 'expected a finite number');
  const r = BigInt(Math.round(n));
  if (r < min || r > max) throw encodeError(layout, value, `outside ${min}…${max}`);
  return r;
}

function asBool(layout: Layout, value: number | boolean | string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 0 || value === 1) return value === 1;
  throw encodeError(layout, value, 'expected true/false (or 0/1)');
}

function asFloat(layout: Layout, value: number | boolean | string): number {
  if (typeof value !== 'number') throw encodeError(layout, value, 'expected a number');
  return value;
}

/**
 * Encodes `value` as the registers, in wire order, of a point with this layout.
 *
 * - Integer types round to the nearest integer and refuse values outside the type.
 * - Floats accept any number; NaN is written as the canonical quiet NaN (0x7FC00000).
 * - `bits` and a `bool` with a bit: `current` is the register as it stands (read it first:
 *   read-modify-write); only the bit changes.
 * - `bool` without a bit: 1 or 0.
 * - `string`: UTF-8, padded with NULs to `length` registers; too long is refused.
 *
 * @throws GatewayError GW_ERR_WRITE_REFUSED when the value does not fit the type.
 */
export function encode(layout: Layout, value: number | boolean | string, current = 0): number[] {
  switch (layout.type) {
    case 'bool':
    case 'bits': {
      const on = asBool(layout, value);
      if (layout.bit === undefined) {
        if (layout.type === 'bits') throw encodeError(layout, value, 'a bits point needs a bit 0–15');
        return [on ? 1 : 0];
      }
      const bit = layout.bit;
      if (!Number.isInteger(bit) || bit < 0 || bit > 15) throw encodeError(layout, value, `bit must be 0–15, got ${bit}`);
      // `current` is the register as read from the wire: undo and redo its byte order.
      const reg = layout.byteOrder === 'little' ? swap16(current & 0xffff) : current & 0xffff;
      const next = on ? reg | (1 << bit) : reg & ~(1 << bit) & 0xffff;
      return [layout.byteOrder === 'little' ? swap16(next) : next];
    }
    case 'uint16': {
      const v = asInteger(layout, value, 0, 0xffff);
      return [layout.byteOrder === 'little' ? swap16(v) : v];
    }
    case 'int16': {
      const v = asInteger(layout, value, -0x8000, 0x7fff) & 0xffff;
      return [layout.byteOrder === 'little' ? swap16(v) : v];
    }
    case 'int32': {
      const view = new DataView(new ArrayBuffer(4));
      view.setInt32(0, asInteger(layout, value, -0x8000_0000, 0x7fff_ffff));
      return wordsFrom(layout, view);
    }
    case 'uint32': {
      const view = new DataView(new ArrayBuffer(4));
      view.setUint32(0, asInteger(layout, value, 0, 0xffff_ffff));
      return wordsFrom(layout, view);
    }
    case 'float32': {
      const view = new DataView(new ArrayBuffer(4));
      const v = asFloat(layout, value);
      // DataView may keep a NaN's payload; write the canonical quiet NaN so devices and tests agree.
      if (Number.isNaN(v)) view.setUint32(0, 0x7fc0_0000);
      else view.setFloat32(0, v);
      return wordsFrom(layout, view);
    }
    case 'float64': {
      const view = new DataView(new ArrayBuffer(8));
      const v = asFloat(layout, value);
      if (Number.isNaN(v)) view.setBigUint64(0, 0x7ff8_0000_0000_0000n);
      else view.setFloat64(0, v);
      return wordsFrom(layout, view);
    }
    case 'int64': {
      const view = new DataView(new ArrayBuffer(8));
      view.setBigInt64(0, asBigInt(layout, value, -(2n ** 63n), 2n ** 63n - 1n));
      return wordsFrom(layout, view);
    }
    case 'uint64': {
      const view = new DataView(new ArrayBuffer(8));
      view.setBigUint64(0, asBigInt(layout, value, 0n, 2n ** 64n - 1n));
      return wordsFrom(layout, view);
    }
    case 'string': {
      if (typeof value !== 'string') throw encodeError(layout, value, 'expected a string');
      const n = layout.length ?? 1;
      const bytes = utf8Encoder.encode(value);
      if (bytes.length > n * 2) throw encodeError(layout, value, `${bytes.length} bytes do not fit in ${n} registers (${n * 2} bytes)`);
      const view = new DataView(new ArrayBuffer(n * 2));
      new Uint8Array(view.buffer).set(bytes);
      return wordsFrom(layout, view);
    }
  }
}

/**
 * Compiled decoding of a whole read (the poller's fast path): one op per point, decided
 * once per planned block, then one pass over the answer's bytes per read that writes each
 * point's raw value into a Float64Array — no object, closure or DataView per point.
 * Booleans are written as 1/0; a value that is not a finite number (IEEE 754 NaN/∞: "no
 * valid measurement") or cannot be decoded is written as NaN.
 */
export interface NumericOps {
  readonly kinds: Uint8Array;
  /** Byte offset of the point in the answer's register bytes. */
  readonly offsets: Int32Array;
  /** Per point, 4 byte offsets (relative to `offsets`) in big-endian value order; for bits the bit at [0]. */
  readonly args: Int32Array;
  /** Layouts and register offsets for the points decoded the general way (64-bit types). */
  readonly layouts: readonly (Layout | undefined)[];
}

const K_U16 = 1;
const K_I16 = 2;
const K_NONZERO = 3;
const K_BIT = 4;
const K_U32 = 5;
const K_I32 = 6;
const K_F32 = 7;
const K_GENERAL = 8;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The ops of a block whose points start at register offsets `offsets` (relative to the
 * block's first register); undefined when a point is not numeric (a string).
 */
export function numericOps(layouts: readonly Layout[], offsets: readonly number[]): NumericOps | undefined {
  const n = layouts.length;
  const kinds = new Uint8Array(n);
  const byteOffsets = new Int32Array(n);
  const args = new Int32Array(n * 4);
  const general: (Layout | undefined)[] = new Array<Layout | undefined>(n).fill(undefined);
  for (let i = 0; i < n; i++) {
    const layout = layouts[i]!;
    const regOffset = offsets[i]!;
    byteOffsets[i] = regOffset * 2;
    const littleBytes = layout.byteOrder === 'little';
    // The wire byte that holds big-endian value byte j (bytesOf's mapping).
    const words = layout.type === 'int32' || layout.type === 'uint32' || layout.type === 'float32' ? 2 : 1;
    for (let j = 0; j < words * 2; j++) {
      const i2 = j >> 1;
      const src = layout.wordOrder === 'little' ? words - 1 - i2 : i2;
      args[i * 4 + j] = src * 2 + (littleBytes ? 1 - (j & 1) : j & 1);
    }
    switch (layout.type) {
      case 'string':
        return undefined;
      case 'uint16':
        kinds[i] = K_U16;
        break;
      case 'int16':
        kinds[i] = K_I16;
        break;
      case 'bool':
      case 'bits':
        if (layout.type === 'bool' && layout.bit === undefined) kinds[i] = K_NONZERO;
        else if (layout.bit !== undefined && Number.isInteger(layout.bit) && layout.bit >= 0 && layout.bit <= 15) {
          kinds[i] = K_BIT;
          // The bit of the register as it is on the wire: a little byte order swaps the bytes.
          args[i * 4] = littleBytes ? layout.bit ^ 8 : layout.bit;
        } else {
          kinds[i] = K_GENERAL; // decode() reports the unusable bit
          general[i] = layout;
        }
        break;
      case 'uint32':
        kinds[i] = K_U32;
        break;
      case 'int32':
        kinds[i] = K_I32;
        break;
      case 'float32':
        kinds[i] = K_F32;
        break;
      default:
        kinds[i] = K_GENERAL;
        general[i] = layout;
    }
  }
  return { kinds, offsets: byteOffsets, args, layouts: general };
}

/**
 * Decodes every point of `ops` from `bytes` (the answer's register bytes, wire order) into
 * `out`. `words` are the same registers as numbers, for the general way (64-bit types).
 * The caller has checked that `bytes` holds every register of the block.
 */
export function decodeNumbers(ops: NumericOps, bytes: Uint8Array, words: ArrayLike<number>, out: Float64Array): void {
  const { kinds, offsets, args } = ops;
  const n = kinds.length;
  for (let i = 0; i < n; i++) {
    const o = offsets[i]!;
    const a = i * 4;
    let v: number;
    switch (kinds[i]) {
      case K_U16:
        v = (bytes[o + args[a]!]! << 8) | bytes[o + args[a + 1]!]!;
        break;
      case K_I16:
        v = (((bytes[o + args[a]!]! << 8) | bytes[o + args[a + 1]!]!) << 16) >> 16;
        break;
      case K_NONZERO:
        v = (bytes[o]! | bytes[o + 1]!) === 0 ? 0 : 1;
        break;
      case K_BIT:
        v = ((((bytes[o]! << 8) | bytes[o + 1]!) >>> args[a]!) & 1);
        break;
      case K_U32:
        v = ((bytes[o + args[a]!]! << 24) | (bytes[o + args[a + 1]!]! << 16) | (bytes[o + args[a + 2]!]! << 8) | bytes[o + args[a + 3]!]!) >>> 0;
        break;
      case K_I32:
        v = (bytes[o + args[a]!]! << 24) | (bytes[o + args[a + 1]!]! << 16) | (bytes[o + args[a + 2]!]! << 8) | bytes[o + args[a + 3]!]!;
        break;
      case K_F32:
        u32[0] = (bytes[o + args[a]!]! << 24) | (bytes[o + args[a + 1]!]! << 16) | (bytes[o + args[a + 2]!]! << 8) | bytes[o + args[a + 3]!]!;
        v = f32[0]!;
        if (v - v !== 0) v = NaN; // NaN or ±∞
        break;
      default: {
        try {
          const d = decode(ops.layouts[i]!, words, o / 2);
          v = typeof d === 'number' ? (Number.isFinite(d) ? d : NaN) : d === true ? 1 : d === false ? 0 : NaN;
        } catch {
          v = NaN;
        }
      }
    }
    out[i] = v;
  }
}
