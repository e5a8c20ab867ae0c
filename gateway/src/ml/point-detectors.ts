/**
 * The streaming statistical detector on every numeric point that has no model (issue 7:
 * "plus a streaming statistical detector for any point without a model").
 *
 * Which points: every read-only point of an enabled device whose type is a number (not
 * `bool`, `string`, `bits`, nor a coded value with `states:`), unless it is an input of a
 * model that runs for that device. A writable point (a setpoint: it changes when someone
 * writes it) is left out unless it says `anomalyDetection: true`; `anomalyDetection: false`
 * on a point or on the whole profile turns the detector off there. Each watched point gets a
 * `UnivariateDetector` (detectors/univariate-detector.ts) fed every good value in order.
 *
 * Off the polling path: `readings` only queues values; a timer (1 s) scores them. JavaScript
 * only, no TF.js: it runs even where no model is installed.
 *
 * At most about one value a second a point (`minSpacingMs`, 900 by default): a value less
 * than that after the last one taken is counted (`ml_univariate_decimated_total`), not
 * scored. A point polled every second passes every value (its poll's jitter is well under
 * 100 ms); one polled every 100 ms passes about one in nine. The detector's patterns and
 * history are counted in values (the defaults were chosen on NAB's 5-minute series), so
 * feeding it ten values a second would shrink its 250-pattern history from ~4 minutes to
 * 25 s; and its nearest-neighbour search (~8 µs a value) would cost a 2,000-point site
 * polled at 10 Hz ~0.15 of a core (issue 3's poll-vs-nodered fast round). Limits and alarm
 * rules still see every value.
 *
 * From scores to `anomaly.detected` without a flood:
 * - no event before `warmupValues` values of the point (the detector's own statistics settle);
 * - hysteresis: a score ≥ `threshold` raises once, then the point stays raised until
 *   `clearCount` values in a row score under `clearBelow`;
 * - per point, at most one event per `minIntervalMs`;
 * - site-wide, at most `maxEventsPerMinute`; the rest are counted
 *   (`ml_univariate_suppressed_total`), not emitted.
 */
import { holdSlot, type Reading } from '../core/model.js';
import { UnivariateDetector, type UnivariateDetectorOptions } from './detectors/univariate-detector.js';
import type { MlEvent, MlSink } from './runtime.js';

export interface PointDetectorsSettings {
  /** Score that raises an event (default 0.99, the detector's own trigger). */
  readonly threshold: number;
  /** A raised point re-arms after `clearCount` values in a row under `clearBelow` (defaults 0.5, 60). */
  readonly clearBelow: number;
  readonly clearCount: number;
  /** Values of a point before it may raise (default 300). */
  readonly warmupValues: number;
  /** Per point, the least time between two events (default 15 min). */
  readonly minIntervalMs: number;
  /** Site-wide cap on events per minute (default 20). */
  readonly maxEventsPerMinute: number;
  /**
   * Points watched at most (default 2,000; the rest are counted, not watched). A point's
   * detector is made at its first value and holds ~5 kB (250 patterns: each value kept once,
   * 2 context means a pattern and 500 novelties, all as float32; detectors/univariate-detector.ts).
   */
  readonly maxPoints: number;
  /** Queued values per point between two scoring passes (default 200; older ones dropped, counted). */
  readonly maxQueue: number;
  /**
   * Least time between two values of a point that are scored, ms (default 900: a 1 s poll
   * passes every value, a faster one about one a second; 0 scores every value). A value
   * sooner than that after the last one taken is counted, not queued.
   */
  readonly minSpacingMs: number;
  /** The detector's options; the gateway keeps a shorter history than NAB's (250 patterns, not 3,000), at precision 32. */
  readonly detector: Partial<UnivariateDetectorOptions>;
}

export const POINT_DETECTOR_DEFAULTS: PointDetectorsSettings = Object.freeze({
  threshold: 0.99,
  clearBelow: 0.5,
  clearCount: 60,
  warmupValues: 300,
  minIntervalMs: 15 * 60_000,
  maxEventsPerMinute: 20,
  maxPoints: 2000,
  maxQueue: 200,
  minSpacingMs: 900,
  detector: Object.freeze({ historyLength: 250, longLength: 500, precision: 32 as const }),
});

/** A point as the selection sees it (a profile's point spec has these keys). */
export interface WatchablePoint {
  readonly name: string;
  readonly type: string;
  readonly states?: unknown;
  readonly access?: string;
  readonly anomalyDetection?: boolean;
}

export interface WatchableDevice {
  readonly id: string;
  readonly enabled?: boolean;
  readonly profile: { readonly id: string; readonly points: readonly WatchablePoint[]; readonly anomalyDetection?: boolean };
}

/** Room for queued values a point's ring starts with (doubled as needed, up to `maxQueue`). */
const QUEUE_START = 4;

const NUMERIC = new Set(['int16', 'uint16', 'int32', 'uint32', 'float32', 'float64', 'int64', 'uint64']);

/**
 * The points to watch: `device → point names`. `modelled(device)` gives the inputs of the
 * models that run for a device (those points are left to the models).
 */
export function pointsWithoutModel(devices: readonly WatchableDevice[], modelled: (device: string) => ReadonlySet<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of devices) {
    if (d.enabled === false || d.profile.anomalyDetection === false) continue;
    const taken = modelled(d.id);
    const wanted = (p: WatchablePoint): boolean => p.anomalyDetection ?? (p.access !== 'rw');
    const names = d.profile.points.filter((p) => NUMERIC.has(p.type) && p.states === undefined && wanted(p) && !taken.has(p.name)).map((p) => p.name);
    if (names.length > 0) out.set(d.id, names);
  }
  return out;
}

interface Watched {
  readonly device: string;
  readonly point: string;
  /** Made at the point's first value: a configured point that never reports costs nothing. */
  detector: UnivariateDetector | undefined;
  /**
   * Values queued since the last scoring pass: a ring of (time, value) pairs, made at the
   * first value with room for `QUEUE_START` and doubled when full up to `maxQueue` (a point
   * polled once a second queues one or two values between passes: 64 bytes, not 3.2 kB, a
   * point) — no object per queued value on the polling path. When it holds `maxQueue` the
   * oldest is overwritten (and counted as dropped).
   */
  ring: Float64Array | undefined;
  /** Slot of the oldest queued value, and how many are queued. */
  head: number;
  queued: number;
  /** Time of the last value taken (queued), for `minSpacingMs`. */
  lastTs: number;
  values: number;
  raised: boolean;
  below: number;
  lastEventTs: number;
}

export class PointDetectors {
  readonly settings: PointDetectorsSettings;
  /** By the reading's id, `<device>.<point>`: the polling path looks it up without building a key. */
  private readonly watched = new Map<string, Watched>();
  /** The same by the points' process-wide slots, as looked up (null: not watched). */
  private readonly bySlot: (Watched | null | undefined)[] = [];
  /** Devices with a watched point: the readings of any other device are not looked at. */
  private readonly devices = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private minuteStart = 0;
  private minuteEvents = 0;
  private readonly counters = { ml_univariate_values_total: 0, ml_univariate_events_total: 0, ml_univariate_suppressed_total: 0, ml_univariate_dropped_total: 0, ml_univariate_decimated_total: 0, ml_univariate_points_unwatched: 0 };

  /** `points`: device → point names to watch (see `pointsWithoutModel`). */
  constructor(
    points: ReadonlyMap<string, readonly string[]>,
    private readonly sink: MlSink,
    settings: Partial<PointDetectorsSettings> = {},
    /** Run the scoring timer (default true; tests call `flush`). */
    timer = true,
  ) {
    this.settings = { ...POINT_DETECTOR_DEFAULTS, ...settings, detector: { ...POINT_DETECTOR_DEFAULTS.detector, ...settings.detector } };
    if (!Number.isInteger(this.settings.maxQueue) || this.settings.maxQueue < 1) throw new Error(`point detectors: maxQueue must be a whole number ≥ 1, got ${this.settings.maxQueue}`);
    if (!(this.settings.minSpacingMs >= 0)) throw new Error(`point detectors: minSpacingMs must be a number of ms ≥ 0, got ${this.settings.minSpacingMs}`);
    for (const [device, names] of points) {
      for (const point of names) {
        if (this.watched.size >= this.settings.maxPoints) {
          this.counters.ml_univariate_points_unwatched++;
          continue;
        }
        this.watched.set(`${device}.${point}`, { device, point, detector: undefined, ring: undefined, head: 0, queued: 0, lastTs: -Infinity, values: 0, raised: false, below: 0, lastEventTs: -Infinity });
        this.devices.add(device);
      }
    }
    if (timer && this.watched.size > 0) {
      this.timer = setInterval(() => this.flush(), 1000);
      this.timer.unref();
    }
  }

  get size(): number {
    return this.watched.size;
  }

  /** On the polling path: queues the good numeric values of watched points. */
  readings(device: string, readings: readonly Reading[], slots?: readonly number[]): void {
    if (!this.devices.has(device)) return;
    const prefix = `${device}.`;
    const max = this.settings.maxQueue;
    const spacing = this.settings.minSpacingMs;
    const bySlot = this.bySlot;
    for (let k = 0; k < readings.length; k++) {
      const r = readings[k]!;
      const v = r.value;
      if (r.quality !== 'good' || typeof v !== 'number') continue;
      let w: Watched | null | undefined;
      if (slots === undefined) w = this.watched.get(r.point.startsWith(prefix) ? r.point : `${prefix}${r.point}`);
      else {
        // By the point's process-wide slot (core/model.ts `pointSlot`): an array, not the Map; null: not watched.
        const s = slots[k]!;
        holdSlot(bySlot, s);
        w = bySlot[s];
        if (w === undefined) bySlot[s] = w = this.watched.get(r.point.startsWith(prefix) ? r.point : `${prefix}${r.point}`) ?? null;
      }
      if (w === undefined || w === null) continue;
      if (r.ts - w.lastTs < spacing) {
        this.counters.ml_univariate_decimated_total++;
        continue;
      }
      w.lastTs = r.ts;
      let ring = (w.ring ??= new Float64Array(2 * Math.min(QUEUE_START, max)));
      let room = ring.length >> 1;
      if (w.queued === room && room < max) {
        // Full but allowed more: double it, the queued values in order from slot 0.
        const grown = new Float64Array(2 * Math.min(2 * room, max));
        for (let q = 0; q < w.queued; q++) {
          const from = (w.head + q) % room;
          grown[2 * q] = ring[2 * from]!;
          grown[2 * q + 1] = ring[2 * from + 1]!;
        }
        w.ring = ring = grown;
        w.head = 0;
        room = ring.length >> 1;
      }
      let slot: number;
      if (w.queued < room) slot = (w.head + w.queued++) % room;
      else {
        slot = w.head;
        w.head = (w.head + 1) % room;
        this.counters.ml_univariate_dropped_total++;
      }
      ring[2 * slot] = r.ts;
      ring[2 * slot + 1] = v;
    }
  }

  /** Scores every queued value, in order, and emits the events due. */
  flush(): void {
    for (const w of this.watched.values()) {
      const n = w.queued;
      if (n === 0) continue;
      const ring = w.ring!;
      const room = ring.length >> 1;
      const head = w.head;
      w.head = 0;
      w.queued = 0;
      for (let k = 0; k < n; k++) {
        const slot = (head + k) % room;
        this.score(w, ring[2 * slot]!, ring[2 * slot + 1]!);
      }
    }
  }

  private score(w: Watched, ts: number, v: number): void {
    const s = this.settings;
    const score = (w.detector ??= new UnivariateDetector(s.detector)).update(v);
    w.values++;
    this.counters.ml_univariate_values_total++;
    if (w.raised) {
      w.below = score < s.clearBelow ? w.below + 1 : 0;
      if (w.below >= s.clearCount) w.raised = false;
      return;
    }
    if (score < s.threshold || w.values <= s.warmupValues) return;
    w.raised = true;
    w.below = 0;
    if (ts - w.lastEventTs < s.minIntervalMs) return void this.counters.ml_univariate_suppressed_total++;
    if (ts - this.minuteStart >= 60_000) {
      this.minuteStart = ts;
      this.minuteEvents = 0;
    }
    if (this.minuteEvents >= s.maxEventsPerMinute) return void this.counters.ml_univariate_suppressed_total++;
    this.minuteEvents++;
    w.lastEventTs = ts;
    this.counters.ml_univariate_events_total++;
    const event: MlEvent = {
      ts,
      device: w.device,
      type: 'anomaly.detected',
      severity: 'minor',
      body: { model: 'univariate', version: '1', point: w.point, value: v, score: Math.round(score * 10_000) / 10_000, threshold: s.threshold, contributing: [{ point: w.point, share: 1 }], message: `unusual ${w.point}` },
    };
    this.sink(event);
  }

  metrics(): Record<string, number> {
    return { ...this.counters, ml_univariate_points: this.watched.size };
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
