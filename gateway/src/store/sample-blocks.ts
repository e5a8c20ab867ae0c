/**
 * Raw samples kept the cheap way (issue 4, store benchmark): the poll path appends each
 * flush to the log as one `sample_batches` row (no per-sample b-tree insert, let alone a
 * `(point, ts)` index written at 10,000 places), and keeps the same samples in memory
 * (`SampleTail`: log order, a chain per point). The maintenance loop packs each complete
 * minute from that tail into one `sample_blocks` row per point (`BlockBuilder`), keyed so
 * that a minute's blocks are appended together and one point's minute is found by its
 * rowid (`blockKey`). A trend reads the blocks of its minutes and the tail.
 */
import type { Quality, Value } from '../core/model.js';

export const MINUTE = 60_000;
/** Point ids below this fit the block key (`points.id` is a small integer; 16.7 M points). */
export const MAX_POINT_ID = 2 ** 24;

/**
 * Rowid of point `point`'s block of the minute starting at `minute` (ms epoch): minutes in
 * the high bits, so blocks are stored in time order and a minute's blocks are appended
 * together; a point's block of a given minute is one rowid lookup. Below 2^53 until the
 * year 2097 (2^26 minutes).
 */
export function blockKey(minute: number, point: number): number {
  return (minute / MINUTE) * MAX_POINT_ID + point;
}

export const QUALITY_CODE: Record<Quality, number> = { good: 0, bad: 1, stale: 2 };
export const QUALITY_NAME: readonly Quality[] = ['good', 'bad', 'stale'];

/** A raw sample as the trend API returns it. */
export interface RawSample {
  readonly ts: number;
  readonly value: Value | null;
  readonly quality: Quality;
}

// One record per sample, concatenated (so that late samples of a packed minute are merged
// with `data || excluded.data`):
//   flags u8: bits 0-1 quality code, bits 2-3 kind (0 number, 1 null, 2 text, 3 boolean as
//             0/1 — log batches only, so that the latest values rebuilt from the log after
//             a crash keep their type; readers that know only 0-2 read it as a number), bit
//             4 ts is an f64 (else a u16 offset in ms from the block's minute — integer ms only)
//   ts:       u16 offset or f64 ms epoch
//   value:    f64 (number, boolean) | u32 byte length + UTF-8 (text) | nothing (null)
// 11 bytes for a numeric sample at an integer millisecond.
const KIND_NULL = 1 << 2;
const KIND_TEXT = 2 << 2;
const KIND_BOOL = 3 << 2;
const KIND_MASK = 3 << 2;
const TS_F64 = 1 << 4;

/** Builds one block's bytes, sample by sample. */
export class BlockBuilder {
  protected buf: Buffer;
  /** Over `buf` (DataView's setters cost less than Buffer's write methods a sample). */
  protected view: DataView;
  protected len = 0;
  n = 0;

  constructor(
    readonly point: number,
    /** ms epoch; NaN for a log batch (every ts an f64). */
    readonly minute: number,
    expected = 64,
  ) {
    this.buf = Buffer.allocUnsafe(expected * 11);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  protected room(bytes: number): void {
    if (this.len + bytes <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + bytes));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** `num` null (or NaN) and `txt` null: a null value. `bool`: `num` (0/1) was a boolean. */
  push(ts: number, num: number | null, txt: string | null, quality: number, bool = false): void {
    const offset = ts - this.minute;
    const small = Number.isInteger(offset) && offset >= 0 && offset < 65_536;
    const text = txt === null ? undefined : Buffer.from(txt, 'utf8');
    this.room(1 + (small ? 2 : 8) + (text === undefined ? 8 : 4 + text.length));
    const v = this.view;
    let len = this.len;
    let flags = quality & 3;
    if (!small) flags |= TS_F64;
    if (text !== undefined) flags |= KIND_TEXT;
    else if (num === null || Number.isNaN(num)) flags |= KIND_NULL;
    else if (bool) flags |= KIND_BOOL;
    v.setUint8(len++, flags);
    if (small) {
      v.setUint16(len, offset, true);
      len += 2;
    } else {
      v.setFloat64(len, ts, true);
      len += 8;
    }
    if (text !== undefined) {
      v.setUint32(len, text.length, true);
      len += 4;
      len += text.copy(this.buf, len);
    } else if ((flags & KIND_MASK) !== KIND_NULL) {
      v.setFloat64(len, num!, true);
      len += 8;
    }
    this.len = len;
    this.n++;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

/**
 * One flush's samples as one `sample_batches` row (migration 6): per sample its point id
 * (u32) and a block record with an f64 ts; the samples' ids are the row's id onwards, in
 * order. One row instead of one per sample: a flush of 10,000 costs one b-tree insert.
 */
export class BatchBuilder extends BlockBuilder {
  constructor(expected = 1024) {
    super(0, Number.NaN, expected * 2);
  }

  add(point: number, ts: number, num: number | null, txt: string | null, quality: number, bool = false): void {
    this.room(4);
    this.view.setUint32(this.len, point, true);
    this.len += 4;
    this.push(ts, num, txt, quality, bool);
  }
}

/**
 * Calls `fn` with each sample of a log batch (ids from `first` on), in order, until it
 * returns false. Booleans come as `num` 0/1 with `bool` true.
 */
export function decodeBatch(
  first: number,
  data: Uint8Array,
  fn: (id: number, point: number, ts: number, num: number | null, txt: string | null, quality: number, bool: boolean) => boolean | void,
): void {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let i = 0;
  for (let id = first; i < b.length; id++) {
    const point = b.readUInt32LE(i);
    const flags = b[i + 4]!;
    i += 5;
    let ts: number;
    if ((flags & TS_F64) === 0) {
      ts = b.readUInt16LE(i); // not written in batches; read for completeness
      i += 2;
    } else {
      ts = b.readDoubleLE(i);
      i += 8;
    }
    const kind = flags & KIND_MASK;
    let num: number | null = null;
    let txt: string | null = null;
    if (kind === KIND_TEXT) {
      const len = b.readUInt32LE(i);
      txt = b.toString('utf8', i + 4, i + 4 + len);
      i += 4 + len;
    } else if (kind !== KIND_NULL) {
      num = b.readDoubleLE(i);
      i += 8;
    }
    if (fn(id, point, ts, num, txt, flags & 3, kind === KIND_BOOL) === false) return;
  }
}

/**
 * Appends the samples of a block with ts in [from, to) to `out`, in stored order; returns
 * how many. (A loop rather than a callback: a day's trend is 86,400 of them.)
 */
export function decodeBlock(minute: number, data: Uint8Array, from: number, to: number, out: RawSample[]): number {
  const b = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n0 = out.length;
  let i = 0;
  while (i < b.length) {
    const flags = b[i++]!;
    let ts: number;
    if ((flags & TS_F64) === 0) {
      ts = minute + view.getUint16(i, true);
      i += 2;
    } else {
      ts = view.getFloat64(i, true);
      i += 8;
    }
    const kind = flags & KIND_MASK;
    let value: Value | null = null;
    if (kind === KIND_TEXT) {
      const len = view.getUint32(i, true);
      value = b.toString('utf8', i + 4, i + 4 + len);
      i += 4 + len;
    } else if (kind !== KIND_NULL) {
      value = view.getFloat64(i, true);
      i += 8;
    }
    if (ts >= from && ts < to) out.push({ ts, value, quality: QUALITY_NAME[flags & 3] ?? 'bad' });
  }
  return out.length - n0;
}

/** tsOf's mark of a ts kept aside; the offsets reach TS_HALF ms (~24.9 days) either side of the newest row's. */
const TS_FAR = 0xffffffff;
const TS_HALF = 2 ** 31;

/**
 * The log rows not packed yet, in memory: the raw tail of a trend without a per-point
 * index, and what the maintenance loop packs from (no reading back from SQLite). It holds
 * every unpacked row with an id up to `end`; the writer appends while it has room (`max`
 * samples), and past it — the maintenance loop far behind, or a long backlog at start —
 * the rows after `end` stay in the log only: queries scan the log for them and the
 * maintenance loop loads them as packing makes room.
 *
 * Rows are kept in log order, in typed arrays indexed by id (`id - base`), and each
 * point's rows are chained (the slot distance to its next row). An append writes at the
 * end of the arrays and links the point's previous row, about a second back: a few
 * cache lines. Before (issue 3) each point had arrays of its own, and an append of a
 * flush touched thousands of them — ~0.5 µs a sample in cache misses, a fifth of the poll
 * path's store CPU. A packed row is marked gone (point 0); the arrays are compacted (or
 * grown) when an append reaches their end.
 */
export class SampleTail {
  size = 0;
  /** Every unpacked log row with an id ≤ end is here. */
  end: number;
  /** Id of slot 0, and the last id whose slot was written. */
  private base: number;
  private written: number;
  /** Point of each slot; 0: no row (packed, rolled back, or never there). */
  private pointOf: Int32Array;
  /**
   * Timestamps as whole ms after `tsBase` (4 bytes a row instead of 8: the tail holds about
   * a minute and a quarter of samples, ~350,000 rows at the nominal poll); TS_FAR: the
   * exact ts is in `tsFar` (not a whole ms, or more than ~24 days from the others).
   */
  private tsOf: Uint32Array;
  private tsBase = Number.NaN;
  private readonly tsFar = new Map<number, number>();
  /** NaN for null (SQLite stores NaN as NULL too). */
  private numOf: Float64Array;
  private qOf: Uint8Array;
  /** Slots to the point's next row; 0: none yet. */
  private nextOf: Int32Array;
  /** Text values, by id (rare). */
  private readonly txtOf = new Map<number, string>();
  /** By point id: rows held, ids of its first and last. */
  private count = new Int32Array(0);
  private first = new Float64Array(0);
  private last = new Float64Array(0);
  /** Cache of `boundary`: for this cutoff, rows up to `scanned` looked at, first late id found. */
  private cache = { cutoff: Number.NaN, scanned: 0, late: null as number | null };

  constructor(
    readonly max: number,
    end: number,
    capacity = 1 << 16,
  ) {
    this.end = end;
    this.base = end + 1;
    this.written = end;
    this.pointOf = new Int32Array(capacity);
    this.tsOf = new Uint32Array(capacity);
    this.numOf = new Float64Array(capacity);
    this.qOf = new Uint8Array(capacity);
    this.nextOf = new Int32Array(capacity);
  }

  /** Appends a row; false (and nothing kept) when it does not follow `end` or there is no room. */
  push(id: number, point: number, ts: number, num: number | null, txt: string | null, quality: number, force = false): boolean {
    if (id !== this.end + 1 || (this.size >= this.max && !force)) return false;
    if (id < this.base || id - this.base >= this.pointOf.length) this.makeRoom(id);
    // Slots skipped over (rows not kept) hold no row.
    for (let g = Math.max(this.written + 1, this.base); g < id; g++) this.pointOf[g - this.base] = 0;
    const s = id - this.base;
    this.pointOf[s] = point;
    this.setTs(s, id, ts);
    this.numOf[s] = num ?? Number.NaN;
    this.qOf[s] = quality;
    this.nextOf[s] = 0;
    if (txt !== null) this.txtOf.set(id, txt);
    if (point >= this.count.length) this.growPoints(point);
    if (this.count[point]! > 0) {
      const prev = this.last[point]! - this.base;
      this.nextOf[prev] = s - prev;
    } else this.first[point] = id;
    this.last[point] = id;
    this.count[point]!++;
    this.size++;
    this.end = id;
    this.written = id;
    return true;
  }

  /** Keeps `ts` of the row of `id` at slot `s`: as an offset from tsBase when it fits, else exactly, aside. */
  private setTs(s: number, id: number, ts: number): void {
    if (this.tsBase !== this.tsBase && Number.isFinite(ts)) this.tsBase = Math.floor(ts) - TS_HALF;
    const o = ts - this.tsBase;
    if (o >= 0 && o < TS_FAR && Number.isInteger(o)) this.tsOf[s] = o;
    else {
      this.tsOf[s] = TS_FAR;
      this.tsFar.set(id, ts);
    }
  }

  /** The ts of the row of `id` at slot `s`. */
  private tsAt(s: number, id: number): number {
    const o = this.tsOf[s]!;
    return o !== TS_FAR ? this.tsBase + o : this.tsFar.get(id)!;
  }

  /** Forgets what is kept aside for the row of `id` (its text, its exact ts). */
  private forget(id: number): void {
    if (this.txtOf.size > 0) this.txtOf.delete(id);
    if (this.tsFar.size > 0) this.tsFar.delete(id);
  }

  private growPoints(point: number): void {
    const n = Math.max(point + 1, this.count.length * 2, 1024);
    const count = new Int32Array(n);
    const first = new Float64Array(n);
    const last = new Float64Array(n);
    count.set(this.count);
    first.set(this.first);
    last.set(this.last);
    this.count = count;
    this.first = first;
    this.last = last;
  }

  /** Room for the slot of `id`: drops the slots before the first row held, and grows the arrays if that is not enough. */
  private makeRoom(id: number): void {
    let live = id;
    for (let p = 0; p < this.count.length; p++) if (this.count[p]! > 0 && this.first[p]! < live) live = this.first[p]!;
    if (id < this.base) {
      // Before the slots (a write that set them up rolled back): nothing is held, they start here.
      this.base = id;
      this.written = id - 1;
      return;
    }
    const keep = Math.max(0, this.written - live + 1);
    const need = id - live + 1;
    const from = live - this.base;
    // Room for half as much again as is held: every slot up to the arrays' end is written
    // before the next compaction, so the whole capacity ends up resident. (A power of two
    // at least twice the need, before: at the nominal poll — ~5,200 samples a second, a
    // minute and its grace held until packed — 1,048,576 slots, 26 MB, for ~350,000 rows.)
    // Never shrunk: what the arrays held once they will hold again next minute, and arrays
    // given back and taken again stay with malloc anyway.
    let cap = this.pointOf.length;
    if (need > cap * 0.75) cap = Math.ceil(need * 1.5);
    const move = <T extends Int32Array | Uint32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      if (cap === a.length) {
        if (keep > 0) a.copyWithin(0, from, from + keep);
        return a;
      }
      const b = make(cap);
      if (keep > 0) b.set(a.subarray(from, from + keep));
      return b;
    };
    this.pointOf = move(this.pointOf, (n) => new Int32Array(n));
    this.tsOf = move(this.tsOf, (n) => new Uint32Array(n));
    this.numOf = move(this.numOf, (n) => new Float64Array(n));
    this.qOf = move(this.qOf, (n) => new Uint8Array(n));
    this.nextOf = move(this.nextOf, (n) => new Int32Array(n));
    this.base = live;
    if (this.written < live - 1) this.written = live - 1;
    this.rebase(keep);
  }

  /**
   * Centres tsBase on the newest row kept (of the first `keep` slots), so that the offsets
   * keep fitting however long the gateway runs: a row that no longer fits goes aside.
   */
  private rebase(keep: number): void {
    let newest = Number.NaN;
    for (let s = keep - 1; s >= 0; s--) {
      if (this.pointOf[s] === 0) continue;
      const ts = this.tsAt(s, this.base + s);
      if (Number.isFinite(ts)) {
        newest = ts;
        break;
      }
    }
    if (newest !== newest) {
      if (this.size === 0) {
        // Nothing held: the next row sets it.
        this.tsBase = Number.NaN;
        this.tsFar.clear();
      }
      return;
    }
    const old = this.tsBase;
    const base = Math.floor(newest) - TS_HALF;
    if (base === old) return;
    this.tsBase = base;
    const ts = this.tsOf;
    for (let s = 0; s < keep; s++) {
      const o = ts[s]!;
      if (o === TS_FAR || this.pointOf[s] === 0) continue;
      const n = old + o - base;
      if (n >= 0 && n < TS_FAR) ts[s] = n;
      else {
        ts[s] = TS_FAR;
        this.tsFar.set(this.base + s, old + o);
      }
    }
  }

  /** Moves `end` over a row that is not to be kept (packed already). */
  skip(id: number): void {
    if (id === this.end + 1) this.end = id;
  }

  /** Forgets the rows of `point` held, from its first, while `keep(id)` says so; how many. */
  private dropWhile(point: number, k: number): number {
    let n = 0;
    let id = this.first[point]!;
    const held = this.count[point]!;
    for (; n < k && n < held; n++) {
      const s = id - this.base;
      this.pointOf[s] = 0;
      this.forget(id);
      id += this.nextOf[s]!;
    }
    this.count[point] = held - n;
    if (held - n > 0) this.first[point] = id;
    this.size -= n;
    return n;
  }

  /** Forgets rows with id ≥ `id` (a write that rolled back). */
  dropFrom(id: number): void {
    const touched = new Set<number>();
    for (let i = Math.max(id, this.base); i <= this.written; i++) {
      const s = i - this.base;
      const point = this.pointOf[s]!;
      if (point === 0) continue;
      this.pointOf[s] = 0;
      this.forget(i);
      this.count[point]!--;
      this.size--;
      touched.add(point);
    }
    // Their rows left end the chains again.
    for (const point of touched) {
      const n = this.count[point]!;
      if (n === 0) continue;
      let at = this.first[point]!;
      for (let k = 1; k < n; k++) at += this.nextOf[at - this.base]!;
      this.nextOf[at - this.base] = 0;
      this.last[point] = at;
    }
    this.written = Math.min(this.written, id - 1);
    this.end = Math.min(this.end, id - 1);
    this.cache.cutoff = Number.NaN;
  }

  /** Forgets every row with id ≤ `id` (evicted), the window starting after it. */
  dropUpTo(id: number): void {
    for (const point of this.pointIds()) this.dropPrefix(point, this.countUpTo(point, id));
    this.end = Math.max(this.end, id);
    this.cache.cutoff = Number.NaN;
  }

  /** Rows held of `point`. */
  countOf(point: number): number {
    return point < this.count.length ? this.count[point]! : 0;
  }

  /** How many of the first rows of `point` have an id ≤ `id`. */
  countUpTo(point: number, id: number): number {
    const held = this.countOf(point);
    let k = 0;
    for (let at = this.first[point]!; k < held && at <= id; k++) at += this.nextOf[at - this.base]!;
    return k;
  }

  /**
   * Calls `fn` with each row of `point` with an id ≤ `upTo`, in log order (a prefix of its
   * rows, as packing takes them); returns how many.
   */
  eachUpTo(point: number, upTo: number, fn: (ts: number, num: number, txt: string | null, quality: number) => void): number {
    const held = this.countOf(point);
    const texts = this.txtOf.size > 0;
    let k = 0;
    for (let at = this.first[point]!; k < held && at <= upTo; k++) {
      const s = at - this.base;
      fn(this.tsAt(s, at), this.numOf[s]!, texts ? (this.txtOf.get(at) ?? null) : null, this.qOf[s]!);
      at += this.nextOf[s]!;
    }
    return k;
  }

  /** Points with rows, in id order. */
  pointIds(): number[] {
    const ids: number[] = [];
    for (let p = 0; p < this.count.length; p++) if (this.count[p]! > 0) ids.push(p);
    return ids;
  }

  /** Forgets the first `k` rows of `point` (packed). */
  dropPrefix(point: number, k: number): void {
    if (k > 0 && this.countOf(point) > 0) this.dropWhile(point, k);
  }

  /**
   * The last id of the rows that may be packed at `cutoff`: just before the first row (log
   * order) of a minute not complete yet — ts in [cutoff, far) — or `end` when there is
   * none. Rows at or after `far` (a clock set far ahead) do not hold the others back.
   * Incremental while the cutoff stays the same (rows only come after `end`).
   */
  boundary(cutoff: number, far: number): number {
    const c = this.cache;
    if (c.cutoff === cutoff && c.late !== null) return c.late - 1;
    const from = c.cutoff === cutoff ? c.scanned + 1 : this.base;
    let late: number | null = null;
    for (let id = Math.max(from, this.base); id <= this.written; id++) {
      const s = id - this.base;
      if (this.pointOf[s] === 0) continue;
      const ts = this.tsAt(s, id);
      if (ts >= cutoff && ts < far) {
        late = id;
        break;
      }
    }
    this.cache = { cutoff, scanned: this.written, late };
    return late === null ? this.end : late - 1;
  }

  /** Rows of `point` with ts in [from, to), in log order. */
  collect(point: number, from: number, to: number, out: RawSample[]): void {
    const held = this.countOf(point);
    let at = this.first[point]!;
    for (let k = 0; k < held; k++) {
      const s = at - this.base;
      const ts = this.tsAt(s, at);
      if (ts >= from && ts < to) {
        const txt = this.txtOf.size > 0 ? (this.txtOf.get(at) ?? null) : null;
        const num = this.numOf[s]!;
        out.push({ ts, value: txt ?? (Number.isNaN(num) ? null : num), quality: QUALITY_NAME[this.qOf[s]!] ?? 'bad' });
      }
      at += this.nextOf[s]!;
    }
  }
}
