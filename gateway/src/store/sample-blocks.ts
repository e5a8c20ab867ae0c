/**
 * Raw samples kept the cheap way (issue 4, store benchmark): the poll path appends each
 * flush to the log as one `sample_batches` row (no per-sample b-tree insert, let alone a
 * `(point, ts)` index written at 10,000 places), and keeps the same samples in memory by
 * point (`SampleTail`). The maintenance loop packs each complete minute from that tail
 * into one `sample_blocks` row per point (`BlockBuilder`), keyed so that a minute's blocks
 * are appended together and one point's minute is found by its rowid (`blockKey`). A
 * trend reads the blocks of its minutes and the tail.
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

/** The samples of one point not packed yet, in log order (parallel arrays). */
export class PointTail {
  readonly ids: number[] = [];
  readonly ts: number[] = [];
  /** NaN for null (SQLite stores NaN as NULL too). */
  readonly num: number[] = [];
  readonly q: number[] = [];
  /** Only once the point has had a text value. */
  txt: (string | null)[] | undefined;

  /** How many of the first entries have an id ≤ `id`. */
  countUpTo(id: number): number {
    let k = 0;
    while (k < this.ids.length && this.ids[k]! <= id) k++;
    return k;
  }
}

/**
 * The log rows not packed yet, in memory by point: the raw tail of a trend without a
 * per-point index, and what the maintenance loop packs from (no reading back from SQLite).
 * It holds every unpacked row with an id up to `end`; the writer appends while it has
 * room (`max` samples), and past it — the maintenance loop far behind, or a long backlog
 * at start — the rows after `end` stay in the log only: queries scan the log for them
 * and the maintenance loop loads them as packing makes room.
 */
export class SampleTail {
  private readonly points = new Map<number, PointTail>();
  size = 0;
  /** Every unpacked log row with an id ≤ end is here. */
  end: number;
  /** Cache of `boundary`: for this cutoff, rows up to `scanned` looked at, first late id found. */
  private cache = { cutoff: Number.NaN, scanned: 0, late: null as number | null };

  constructor(
    readonly max: number,
    end: number,
  ) {
    this.end = end;
  }

  /** Appends a row; false (and nothing kept) when it does not follow `end` or there is no room. */
  push(id: number, point: number, ts: number, num: number | null, txt: string | null, quality: number, force = false): boolean {
    if (id !== this.end + 1 || (this.size >= this.max && !force)) return false;
    let t = this.points.get(point);
    if (t === undefined) {
      t = new PointTail();
      this.points.set(point, t);
    }
    if (txt !== null && t.txt === undefined) t.txt = t.ids.map(() => null);
    t.ids.push(id);
    t.ts.push(ts);
    t.num.push(num ?? Number.NaN);
    t.q.push(quality);
    t.txt?.push(txt);
    this.size++;
    this.end = id;
    return true;
  }

  /** Moves `end` over a row that is not to be kept (packed already). */
  skip(id: number): void {
    if (id === this.end + 1) this.end = id;
  }

  /** Forgets rows with id ≥ `id` (a write that rolled back). */
  dropFrom(id: number): void {
    for (const [point, t] of this.points) {
      let k = t.ids.length;
      while (k > 0 && t.ids[k - 1]! >= id) k--;
      const n = t.ids.length - k;
      if (n === 0) continue;
      for (const a of [t.ids, t.ts, t.num, t.q]) a.length = k;
      if (t.txt !== undefined) t.txt.length = k;
      this.size -= n;
      if (k === 0) this.points.delete(point);
    }
    this.end = Math.min(this.end, id - 1);
    this.cache.cutoff = Number.NaN;
  }

  /** Forgets every row with id ≤ `id` (evicted), the window starting after it. */
  dropUpTo(id: number): void {
    for (const [point, t] of this.points) this.dropPrefix(point, t.countUpTo(id));
    this.end = Math.max(this.end, id);
    this.cache.cutoff = Number.NaN;
  }

  /** The rows of a point, or undefined when it has none. */
  of(point: number): PointTail | undefined {
    return this.points.get(point);
  }

  /** Points with rows, in id order. */
  pointIds(): number[] {
    return [...this.points.keys()].sort((a, b) => a - b);
  }

  /** Forgets the first `k` rows of `point` (packed). */
  dropPrefix(point: number, k: number): void {
    const t = this.points.get(point);
    if (t === undefined || k === 0) return;
    if (k >= t.ids.length) {
      this.size -= t.ids.length;
      this.points.delete(point);
      return;
    }
    t.ids.splice(0, k);
    t.ts.splice(0, k);
    t.num.splice(0, k);
    t.q.splice(0, k);
    t.txt?.splice(0, k);
    this.size -= k;
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
    const from = c.cutoff === cutoff ? c.scanned : -Infinity;
    let late: number | null = null;
    for (const t of this.points.values()) {
      // Rows after `from` are at the end of each point's arrays.
      let k = t.ids.length;
      while (k > 0 && t.ids[k - 1]! > from) k--;
      for (; k < t.ids.length; k++) {
        const ts = t.ts[k]!;
        if (ts >= cutoff && ts < far) {
          if (late === null || t.ids[k]! < late) late = t.ids[k]!;
          break;
        }
      }
    }
    this.cache = { cutoff, scanned: this.end, late };
    return late === null ? this.end : late - 1;
  }

  /** Rows of `point` with ts in [from, to), in log order. */
  collect(point: number, from: number, to: number, out: RawSample[]): void {
    const t = this.points.get(point);
    if (t === undefined) return;
    for (let k = 0; k < t.ids.length; k++) {
      const ts = t.ts[k]!;
      if (ts < from || ts >= to) continue;
      const txt = t.txt?.[k] ?? null;
      const num = t.num[k]!;
      out.push({ ts, value: txt ?? (Number.isNaN(num) ? null : num), quality: QUALITY_NAME[t.q[k]!] ?? 'bad' });
    }
  }
}
