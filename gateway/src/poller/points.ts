/**
 * The points of one device as the poller's hot path sees them: each point has an index,
 * and everything a reading goes through — scale and offset (transform.ts), the range
 * check, report by exception (deadband.ts) — is decided once from its spec and kept in
 * typed arrays indexed by point. A reading is an object only when it is handed on (it
 * passed its deadband): a value that did not change costs no allocation.
 *
 * Same rules as `toEngineering` and `DeadbandFilter`, which stay the reference (and are
 * what the tests of the rules exercise); test/poller/points.test.ts holds the two equal.
 */
import type { PointSpec } from '../core/config/profile.js';
import { pointSlot, type Quality, type Reading, type Value } from '../core/model.js';
import type { RawValue } from '../drivers/driver.js';
import { DEFAULT_MAX_SILENCE_MS } from './deadband.js';
import { decimalOf, scaled, type Decimal } from './transform.js';

export const Q_NONE = 0;
export const Q_GOOD = 1;
export const Q_BAD = 2;
export const Q_STALE = 3;
const QUALITY: readonly Quality[] = ['bad', 'good', 'bad', 'stale'];

/** What a slot holds: no value (null), a number, a boolean (kept as 1/0), a string. */
const T_NULL = 0;
const T_NUM = 1;
const T_BOOL = 2;
const T_STR = 3;

/** Transforms: none (scale 1, offset 0), or scale and offset (transform.ts `scaled`). */
const X_NONE = 0;
const X_SCALED = 1;

/** Deadbands: none (every reading passes); absolute (or % of a range: fixed); % of the last stored value. */
const D_NONE = 0;
const D_ABS = 1;
const D_REL = 2;

/**
 * A reading as the poller hands it on: made with `new`, not as an object literal. V8 tracks
 * an object literal's (and `new Array`'s) allocation site, and once most of a site's objects
 * have outlived a young-generation collection it allocates them straight in the old
 * generation ("pretenuring"), for good. A reading lives until the store's next flush (≤ 250 ms),
 * so a scavenge that caught a few cycles' worth waiting (at start-up, or while the store
 * packed a minute) was enough: from then on every reading went to the old generation and
 * died there, and the old generation filled and was marked again every ~10 s (at the 1 s
 * poll of 10,000 points, ~0.45 MB a second; docs/benchmarks.md "poll", eighth session).
 * Objects made by a constructor have no allocation site: they stay young and die young.
 */
class PolledReading implements Reading {
  constructor(
    readonly point: string,
    readonly ts: number,
    readonly value: Value | null,
    readonly quality: Quality,
  ) {}
}

export class PointTable {
  readonly n: number;
  /** `deviceId.pointName` of each point. */
  readonly ids: readonly string[];
  /** The process-wide slot of each point's id (core/model.ts `pointSlot`). */
  readonly slots: Int32Array;
  readonly names: readonly string[];
  /** Point name → index. */
  readonly index: ReadonlyMap<string, number>;
  /** Spec object → index (the plans hold specs). */
  readonly indexOfSpec: ReadonlyMap<PointSpec, number>;

  private readonly isBool: Uint8Array;
  private readonly xMode: Uint8Array;
  private readonly xScale: Float64Array;
  private readonly xOffset: Float64Array;
  private readonly xDecimal: (Decimal | undefined)[];
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly dMode: Uint8Array;
  private readonly dBand: Float64Array;
  private readonly maxSilence: Float64Array;

  /** The reading of this cycle. */
  private readonly curTag: Uint8Array;
  private readonly curNum: Float64Array;
  private readonly curStr: (string | undefined)[];
  private readonly curQ: Uint8Array;
  private readonly curTs: Float64Array;
  /** The last value read (not null), for writes' audit and the stale readings of an offline device. */
  private readonly lvTag: Uint8Array;
  private readonly lvNum: Float64Array;
  private readonly lvStr: (string | undefined)[];
  /** The last reading that passed (report by exception); Q_NONE before the first. */
  private readonly stTag: Uint8Array;
  private readonly stNum: Float64Array;
  private readonly stStr: (string | undefined)[];
  private readonly stQ: Uint8Array;
  private readonly stTs: Float64Array;

  constructor(device: string, points: readonly PointSpec[]) {
    const n = (this.n = points.length);
    this.names = points.map((p) => p.name);
    this.ids = points.map((p) => `${device}.${p.name}`);
    this.slots = Int32Array.from(this.ids, pointSlot);
    this.index = new Map(points.map((p, i) => [p.name, i]));
    this.indexOfSpec = new Map(points.map((p, i) => [p, i]));
    this.isBool = new Uint8Array(n);
    this.xMode = new Uint8Array(n);
    this.xScale = new Float64Array(n);
    this.xOffset = new Float64Array(n);
    this.xDecimal = new Array<Decimal | undefined>(n).fill(undefined);
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.dMode = new Uint8Array(n);
    this.dBand = new Float64Array(n);
    this.maxSilence = new Float64Array(n);
    this.curTag = new Uint8Array(n);
    this.curNum = new Float64Array(n);
    this.curStr = new Array<string | undefined>(n).fill(undefined);
    this.curQ = new Uint8Array(n);
    this.curTs = new Float64Array(n);
    this.lvTag = new Uint8Array(n);
    this.lvNum = new Float64Array(n);
    this.lvStr = new Array<string | undefined>(n).fill(undefined);
    this.stTag = new Uint8Array(n);
    this.stNum = new Float64Array(n);
    this.stStr = new Array<string | undefined>(n).fill(undefined);
    this.stQ = new Uint8Array(n);
    this.stTs = new Float64Array(n);
    points.forEach((p, i) => {
      this.isBool[i] = p.type === 'bool' || p.type === 'bits' ? 1 : 0;
      this.xScale[i] = p.scale;
      this.xOffset[i] = p.offset;
      const decimal = decimalOf(p.scale, p.offset);
      this.xMode[i] = p.scale === 1 && p.offset === 0 ? X_NONE : X_SCALED;
      this.xDecimal[i] = decimal;
      this.lo[i] = p.range?.[0] ?? -Infinity;
      this.hi[i] = p.range?.[1] ?? Infinity;
      this.maxSilence[i] = p.maxSilenceMs ?? DEFAULT_MAX_SILENCE_MS;
      if (p.deadband !== undefined) {
        this.dMode[i] = D_ABS;
        this.dBand[i] = p.deadband;
      } else if (p.deadbandPercent !== undefined) {
        if (p.range === undefined) {
          this.dMode[i] = D_REL;
          this.dBand[i] = p.deadbandPercent / 100;
        } else {
          this.dMode[i] = D_ABS;
          this.dBand[i] = (p.deadbandPercent / 100) * Math.abs(p.range[1]! - p.range[0]!);
        }
      }
    });
  }

  /** Engineering value of a finite raw number: raw × scale + offset without float noise (transform.ts). */
  private engineering(i: number, raw: number): number {
    return this.xMode[i] === X_NONE ? raw : scaled(raw, this.xScale[i]!, this.xOffset[i]!, this.xDecimal[i]);
  }

  private setNumber(i: number, value: number, ts: number): void {
    this.curTag[i] = T_NUM;
    this.curNum[i] = value;
    this.curQ[i] = value < this.lo[i]! || value > this.hi[i]! ? Q_BAD : Q_GOOD;
    this.curTs[i] = ts;
    this.lvTag[i] = T_NUM;
    this.lvNum[i] = value;
  }

  /**
   * The fast path's raw value (NumericBlockReader): a number, a boolean as 1/0 for
   * bool/bits points, NaN for no valid value (then null, quality bad).
   */
  setRaw(i: number, raw: number, ts: number): void {
    if (raw !== raw) return this.setBad(i, ts);
    if (this.isBool[i] === 1) {
      this.curTag[i] = T_BOOL;
      this.curNum[i] = raw === 0 ? 0 : 1;
      this.curQ[i] = Q_GOOD;
      this.curTs[i] = ts;
      this.lvTag[i] = T_BOOL;
      this.lvNum[i] = raw === 0 ? 0 : 1;
      return;
    }
    this.setNumber(i, this.engineering(i, raw), ts);
  }

  /** A raw value of any kind, as `toEngineering` takes it (Driver.read, pushed values). */
  setValue(i: number, raw: RawValue, ts: number): void {
    if (typeof raw === 'number') {
      if (Number.isFinite(raw)) return this.setNumber(i, this.engineering(i, raw), ts);
      // Kept as it came, flagged (toEngineering).
      this.curTag[i] = T_NUM;
      this.curNum[i] = raw;
      this.curQ[i] = Q_BAD;
      this.curTs[i] = ts;
      this.lvTag[i] = T_NUM;
      this.lvNum[i] = raw;
      return;
    }
    this.curQ[i] = Q_GOOD;
    this.curTs[i] = ts;
    if (typeof raw === 'boolean') {
      this.curTag[i] = this.lvTag[i] = T_BOOL;
      this.curNum[i] = this.lvNum[i] = raw ? 1 : 0;
    } else {
      this.curTag[i] = this.lvTag[i] = T_STR;
      this.curStr[i] = this.lvStr[i] = raw;
    }
  }

  /** No value: the point could not be read. */
  setBad(i: number, ts: number): void {
    this.curTag[i] = T_NULL;
    this.curQ[i] = Q_BAD;
    this.curTs[i] = ts;
  }

  /** The device went away: the last value read, if any, quality stale. */
  setStale(i: number, ts: number): void {
    this.curTag[i] = this.lvTag[i]!;
    this.curNum[i] = this.lvNum[i]!;
    this.curStr[i] = this.lvStr[i];
    this.curQ[i] = Q_STALE;
    this.curTs[i] = ts;
  }

  private valueOf(tag: number, num: number, str: string | undefined): Value | null {
    switch (tag) {
      case T_NUM:
        return num;
      case T_BOOL:
        return num !== 0;
      case T_STR:
        return str!;
      default:
        return null;
    }
  }

  /** The value of this cycle's reading. */
  value(i: number): Value | null {
    return this.valueOf(this.curTag[i]!, this.curNum[i]!, this.curStr[i]);
  }

  /** The quality of this cycle's reading. */
  quality(i: number): Quality {
    return QUALITY[this.curQ[i]!]!;
  }

  /** True when this cycle's reading is good. */
  good(i: number): boolean {
    return this.curQ[i] === Q_GOOD;
  }

  ts(i: number): number {
    return this.curTs[i]!;
  }

  /** The last value read (null before the first). */
  lastValue(i: number): Value | null {
    return this.valueOf(this.lvTag[i]!, this.lvNum[i]!, this.lvStr[i]);
  }

  /** This cycle's reading as the rest of the gateway takes it. */
  reading(i: number): Reading {
    return new PolledReading(this.ids[i]!, this.curTs[i]!, this.value(i), QUALITY[this.curQ[i]!]!);
  }

  /**
   * Report by exception (DeadbandFilter's rules): true when this cycle's reading should
   * be stored and published — the first one, every one of a point without a deadband, a
   * change of quality, the point's maximum silence reached, a change of a non-number, a
   * number moved beyond its deadband from the last one that passed. Remembers it if so.
   */
  pass(i: number): boolean {
    const q = this.curQ[i]!;
    const tag = this.curTag[i]!;
    const stTag = this.stTag[i]!;
    let keep: boolean;
    const mode = this.dMode[i];
    if (mode === D_NONE || this.stQ[i] === Q_NONE || this.stQ[i] !== q || this.curTs[i]! - this.stTs[i]! >= this.maxSilence[i]!) keep = true;
    else if (tag !== T_NUM || stTag !== T_NUM) keep = tag !== stTag || (tag === T_BOOL ? this.curNum[i] !== this.stNum[i] : tag === T_STR ? this.curStr[i] !== this.stStr[i] : false);
    else {
      const last = this.stNum[i]!;
      const band = mode === D_ABS ? this.dBand[i]! : this.dBand[i]! * Math.abs(last);
      keep = Math.abs(this.curNum[i]! - last) > band;
    }
    if (keep) {
      this.stTag[i] = tag;
      this.stNum[i] = this.curNum[i]!;
      this.stStr[i] = this.curStr[i];
      this.stQ[i] = q;
      this.stTs[i] = this.curTs[i]!;
    }
    return keep;
  }
}
