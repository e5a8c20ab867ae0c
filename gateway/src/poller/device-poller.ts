/**
 * Polls one device on its own schedule. A poll cycle reads as a list of named steps
 * (CONVENTIONS §11): pick the due points → make sure the link is up → read the planned
 * blocks → convert to engineering units → hand the readings over → settle the device's
 * state. A device that stops answering goes offline with exponential backoff and never
 * delays another device: each has its own timer, and requests queue only behind
 * requests on the same link.
 */
import type { DeviceConfig } from '../core/config/load.js';
import type { DeviceEventRuleSpec, PointSpec } from '../core/config/profile.js';
import { GatewayError, isRetryable, type ErrorKind } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { DeviceState, Reading, Severity, Value } from '../core/model.js';
import type { Driver, DriverSink, NumericBlockReader, RawValue, ReadBlock } from '../drivers/driver.js';
import { planReads } from './coalesce.js';
import type { LinkQueue } from './link-queue.js';
import { PointTable } from './points.js';
import { toRaw } from './transform.js';

/** Where a device poller hands its results (main.ts wires the store and the event log). */
/** A picture taken with an event (a camera's snapshot). */
export interface Attachment {
  readonly contentType: string;
  readonly data: Buffer;
}

export interface PollSink {
  /**
   * The readings of one device that passed report by exception, one call per poll cycle
   * (never empty); `slots[k]`: the process-wide slot of `readings[k].point` (core/model.ts
   * `pointSlot`), for the parts that keep per-point state in arrays.
   */
  readings(device: string, readings: Reading[], slots: readonly number[]): void;
  event(event: { ts: number; device: string; type: string; severity: Severity; body: Record<string, unknown>; attachment?: Attachment }): void;
}

/** Topic prefix of profile events raised from the device's own points. */
export const POINT_TOPIC = 'point:';

/** How long an event waits for its snapshot before it is recorded without one, ms. */
export const SNAPSHOT_TIMEOUT_MS = 5000;

export interface BackoffOptions {
  /** First retry delay after a failure, ms (default: the poll interval, at least 500). */
  readonly initialMs?: number;
  /** Longest retry delay, ms. */
  readonly maxMs?: number;
  /** Wait after the device refused our credentials, ms (default 5 min): never a retry storm. */
  readonly authMs?: number;
}

/** A point the device pushes (COV) is still read now and then, to notice a silent device. */
export const PUSHED_CHECK_FACTOR = 10;
export const PUSHED_CHECK_MIN_MS = 60_000;

export interface DeviceStats {
  cycles: number;
  failedCycles: number;
  requests: number;
  failedRequests: number;
  pointsRead: number;
  /** Point values the device pushed (COV). */
  pointsPushed: number;
  /** Readings inside their deadband, not stored (report by exception). */
  pointsSuppressed: number;
  /** How late the last cycle started against its schedule, ms. */
  lastLatenessMs: number;
  /** Duration of the last cycle, ms. */
  lastCycleMs: number;
  skippedCycles: number;
}

export interface DeviceStatus {
  readonly id: string;
  readonly state: DeviceState;
  readonly since: number;
  readonly lastOkAt: number | null;
  readonly lastError: { readonly code: string; readonly kind: ErrorKind; readonly message: string; readonly at: number } | null;
  readonly nextAttemptAt: number | null;
  readonly consecutiveFailures: number;
  readonly stats: Readonly<DeviceStats>;
}

export class DevicePoller {
  private state: DeviceState = 'connecting';
  private since = Date.now();
  private lastOkAt: number | null = null;
  private lastError: DeviceStatus['lastError'] = null;
  private failures = 0;
  private nextAttemptAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private nextDue = 0;
  /** Every point by index: transform, deadband, this cycle's and the last values. */
  private readonly points: PointTable;
  /**
   * When each point was last read, as the start of the cycle that read it (-Infinity:
   * never, or written since): the points of one cycle stay due together, however long
   * its requests took, so the plan stays the same from cycle to cycle.
   */
  private readonly lastRead: Float64Array;
  /** Each point's own poll interval, ms. */
  private readonly every: Float64Array;
  /** Read plans by the set of due points ('all' for every point). */
  private readonly plans = new Map<string, CompiledBlock[]>();
  /**
   * The points due this cycle (the first `dueCount`) and those that got a reading (the
   * first `readCount`), in order: reused every cycle (a point is in one block, so at most
   * `points.n` of each), not new arrays grown point by point — at 10,000 points a second
   * those were ~15 % of what the poll path allocated.
   */
  private readonly due: Int32Array;
  private dueCount = 0;
  private readonly cycleRead: Int32Array;
  private readCount = 0;
  /** The indices of this cycle's readings that passed report by exception (emit). */
  private readonly passed: Int32Array;
  /** emit's scratch for the readings that passed and their slots (`points.n` each). */
  private readonly keptScratch: (Reading | undefined)[];
  private readonly slotScratch: number[];
  /** Index of every point, for the stale readings of an offline device. */
  private readonly allIndices: readonly number[];
  /** Points the driver pushes (after a successful subscribe); empty when none. */
  private pushed = new Set<string>();
  private subscribed = false;
  private readonly specs: ReadonlyMap<string, PointSpec>;
  /** Profile events on the device's own points (`topic: point:NAME`), by point index. */
  private readonly pointEvents: readonly (readonly DeviceEventRuleSpec[] | undefined)[];
  private readonly hasPointEvents: boolean;
  /** Last good value seen per point with event rules (edge detection). */
  private readonly eventLast = new Map<string, Value>();
  private readonly cycleMs: number;
  private readonly backoff: Required<BackoffOptions>;
  readonly stats: DeviceStats = { cycles: 0, failedCycles: 0, requests: 0, failedRequests: 0, pointsRead: 0, pointsPushed: 0, pointsSuppressed: 0, lastLatenessMs: 0, lastCycleMs: 0, skippedCycles: 0 };

  constructor(
    readonly device: DeviceConfig,
    private readonly driver: Driver,
    private readonly link: LinkQueue,
    private readonly sink: PollSink,
    private readonly log: Logger,
    backoff: BackoffOptions = {},
  ) {
    const intervals = device.profile.points.map((p) => p.pollIntervalMs ?? device.pollIntervalMs);
    this.cycleMs = Math.min(device.pollIntervalMs, ...intervals);
    this.backoff = { initialMs: backoff.initialMs ?? Math.max(500, this.cycleMs), maxMs: backoff.maxMs ?? 60_000, authMs: backoff.authMs ?? 300_000 };
    this.specs = new Map(device.profile.points.map((p) => [p.name, p]));
    this.points = new PointTable(device.id, device.profile.points);
    this.lastRead = new Float64Array(this.points.n).fill(-Infinity);
    this.due = new Int32Array(this.points.n);
    this.cycleRead = new Int32Array(this.points.n);
    this.passed = new Int32Array(this.points.n);
    this.keptScratch = new Array<Reading | undefined>(this.points.n).fill(undefined);
    this.slotScratch = new Array<number>(this.points.n).fill(0);
    this.every = Float64Array.from(device.profile.points, (p) => p.pollIntervalMs ?? device.pollIntervalMs);
    this.allIndices = device.profile.points.map((_, i) => i);
    const byPoint = new Map<string, DeviceEventRuleSpec[]>();
    for (const rule of device.profile.events) {
      if (!rule.topic.startsWith(POINT_TOPIC)) continue;
      const name = rule.topic.slice(POINT_TOPIC.length);
      byPoint.set(name, [...(byPoint.get(name) ?? []), rule]);
    }
    this.pointEvents = device.profile.points.map((p) => byPoint.get(p.name));
    this.hasPointEvents = byPoint.size > 0;
    if (!device.enabled) this.state = 'disabled';
  }

  get currentState(): DeviceState {
    return this.state;
  }

  status(): DeviceStatus {
    return {
      id: this.device.id,
      state: this.state,
      since: this.since,
      lastOkAt: this.lastOkAt,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
      consecutiveFailures: this.failures,
      stats: { ...this.stats },
    };
  }

  /**
   * Starts polling: the first cycle at once, the next ones at `phase` (0…1) of a cycle
   * later than a whole number of cycles, so that devices started together do not all
   * fall due in the same millisecond for ever (Poller.start spreads them).
   */
  start(phase = 0): void {
    if (!this.device.enabled || !this.stopped) return;
    this.stopped = false;
    this.nextDue = Date.now() + Math.min(Math.max(0, phase), 1) * this.cycleMs;
    this.schedule(0);
  }

  /** Stops polling, waits for a running cycle, closes the driver. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
    await this.driver.close().catch(() => undefined);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.cycle().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
  }

  /** One poll cycle. Never throws: failures become device state and point quality. */
  async cycle(): Promise<void> {
    const started = Date.now();
    this.stats.lastLatenessMs = Math.max(0, started - this.nextDue);
    this.stats.cycles++;
    let delay: number;
    try {
      const due = this.duePoints(started);
      const wantsPush = this.wantsSubscription();
      if (due > 0 || wantsPush) await this.ensureConnected();
      if (wantsPush && !this.subscribed) await this.ensureSubscribed();
      if (due > 0) {
        await this.readAll(started);
        this.emit(this.cycleRead, this.readCount);
      }
      this.settleOnline(started);
      delay = this.advanceSchedule(Date.now());
    } catch (err) {
      this.stats.failedCycles++;
      delay = this.settleFailed(err, Date.now());
    }
    this.stats.lastCycleMs = Date.now() - started;
    this.schedule(delay);
  }

  /**
   * Step 1: points whose own interval has elapsed (half a cycle of tolerance). A point
   * the device pushes is read only every PUSHED_CHECK_FACTOR intervals (at least a
   * minute), to notice a device that went silent.
   */
  private duePoints(now: number): number {
    const due = this.due;
    let count = 0;
    const half = this.cycleMs / 2;
    const anyPushed = this.pushed.size > 0;
    for (let i = 0; i < this.points.n; i++) {
      const interval = this.every[i]!;
      const every = anyPushed && this.pushed.has(this.points.names[i]!) ? Math.max(interval * PUSHED_CHECK_FACTOR, PUSHED_CHECK_MIN_MS) : interval;
      if (now - this.lastRead[i]! >= every - half) due[count++] = i;
    }
    return (this.dueCount = count);
  }

  /** A driver that can push, and a profile with something to push (events, or points). */
  private wantsSubscription(): boolean {
    return this.driver.subscribe !== undefined && (this.device.profile.events.length > 0 || this.device.profile.points.length > 0);
  }

  /** Step 2: (re)open the link when it is down; a new link needs new subscriptions. */
  private async ensureConnected(): Promise<void> {
    if (this.driver.isConnected()) return;
    this.subscribed = false;
    this.pushed = new Set();
    await this.link.run(() => this.driver.connect());
  }

  /** Step 2b: ask the device to push values and events; what it refuses stays polled. */
  private async ensureSubscribed(): Promise<void> {
    const pushed = await this.link.run(() => this.driver.subscribe!(this.device.profile.points, this.driverSink));
    this.pushed = new Set(pushed);
    this.subscribed = true;
    if (pushed.length > 0 || this.device.profile.events.length > 0) this.log.info({ pushed: pushed.length, events: this.device.profile.events.length }, 'subscribed');
  }

  /** What the driver pushes, turned into readings and events of this device. */
  private readonly driverSink: DriverSink = {
    value: (name: string, raw: RawValue, ts: number) => {
      const i = this.points.index.get(name);
      if (i === undefined) return;
      this.points.setValue(i, raw, ts);
      this.lastRead[i] = ts;
      this.stats.pointsPushed++;
      this.emit([i], 1);
    },
    event: (e) => {
      const base = { ts: e.ts, device: this.device.id, type: e.type, severity: e.severity, body: { ...e.body } };
      // An event rule with `snapshot: true` (the driver marks the body) gets the picture of that moment.
      if (e.body.snapshot === undefined || this.driver.snapshot === undefined) {
        this.sink.event(base);
        return;
      }
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no snapshot within ${SNAPSHOT_TIMEOUT_MS} ms`)), SNAPSHOT_TIMEOUT_MS).unref());
      Promise.race([this.driver.snapshot(), timeout]).then(
        (attachment) => this.sink.event({ ...base, attachment }),
        (err: unknown) => {
          this.log.warn({ err, type: e.type }, 'snapshot for an event failed: recorded without it');
          this.sink.event({ ...base, body: { ...base.body, snapshotError: err instanceof Error ? err.message : String(err) } });
        },
      );
    },
    lost: (points: readonly string[], reason: Error) => {
      for (const p of points) this.pushed.delete(p);
      this.subscribed = false;
      this.log.warn({ err: reason, points: points.length }, 'subscription lost: polling until it is renewed');
    },
  };

  /** The read plan of this cycle's due points, made and compiled once per set of due points. */
  private planOf(): CompiledBlock[] {
    const all = this.dueCount === this.points.n;
    const key = all ? 'all' : this.due.subarray(0, this.dueCount).join(',');
    let plan = this.plans.get(key);
    if (plan === undefined) {
      const due = Array.from(this.due.subarray(0, this.dueCount));
      const specs = this.device.profile.points;
      plan = planReads(
        due.map((i) => specs[i]!),
        this.driver,
      ).map((block) => compileBlock(block, this.points, this.driver));
      if (this.plans.size > 64) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  /**
   * Step 3–4: read each planned block, one request at a time on the link, and convert
   * (into `points`; the indices read go to `cycleRead`). A block refused by the device
   * (an exception) marks its points bad and goes on; a timeout or a dropped link fails
   * the whole cycle. `started`: when the cycle started.
   */
  private async readAll(started: number): Promise<void> {
    const read = this.cycleRead;
    this.readCount = 0;
    const points = this.points;
    for (const b of this.planOf()) {
      this.stats.requests++;
      const { idx } = b;
      const n = idx.length;
      try {
        if (b.reader !== undefined) {
          await this.link.run(b.run!);
          const ts = Date.now();
          const out = b.out;
          for (let i = 0; i < n; i++) {
            const p = idx[i]!;
            this.lastRead[p] = started;
            points.setRaw(p, out[i]!, ts);
            read[this.readCount++] = p;
          }
        } else {
          const results = await this.link.run(() => this.driver.read(b.block));
          const ts = Date.now();
          for (let i = 0; i < n; i++) {
            const p = idx[i]!;
            const r = results[i];
            this.lastRead[p] = started;
            if (r === undefined || !r.ok) points.setBad(p, ts);
            else points.setValue(p, r.value, ts);
            read[this.readCount++] = p;
          }
        }
      } catch (err) {
        this.stats.failedRequests++;
        if (err instanceof GatewayError && !isRetryable(err.kind)) {
          const ts = Date.now();
          const block = b.block;
          this.log.warn({ err, block: { space: block.space, start: block.start, count: block.count } }, 'block refused by the device');
          for (let i = 0; i < n; i++) {
            points.setBad(idx[i]!, ts);
            read[this.readCount++] = idx[i]!;
          }
          this.noteError(err, ts);
          continue;
        }
        throw err;
      }
      this.stats.pointsRead += n;
    }
  }

  private noteError(err: unknown, at: number): void {
    const e = err instanceof GatewayError ? err : undefined;
    this.lastError = { code: e?.code ?? 'ERROR', kind: e?.kind ?? 'communication', message: err instanceof Error ? err.message : String(err), at };
  }

  /**
   * Writes `value` (engineering units) to a point, after the guards: the point exists, is
   * writable, the value has the point's type and lies in its range. Queued on the link
   * with the polls. Resolves with the value the gateway last read (for the audit log);
   * the point is read again on the next cycle.
   */
  async write(name: string, value: Value): Promise<{ previous: Value | null }> {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `device ${this.device.id} has no point "${name}"`);
    checkWritable(this.device.id, spec, value);
    if (!this.device.enabled) throw new GatewayError('GW_ERR_WRITE_REFUSED', `device ${this.device.id} is disabled in site.yaml`);
    if (this.state === 'offline') throw new GatewayError('GW_ERR_DEVICE_OFFLINE', `device ${this.device.id} is offline (${this.lastError?.message ?? 'unreachable'}): the write was not sent`);
    await this.ensureConnected();
    await this.link.run(() => this.driver.write(spec, toRaw(spec, value)));
    const i = this.points.index.get(name)!;
    this.lastRead[i] = -Infinity;
    return { previous: this.points.lastValue(i) };
  }

  /**
   * Step 4b: report by exception — only readings outside their point's deadband go on,
   * as one array for the cycle; a reading that did not pass is never an object.
   */
  private emit(indices: ArrayLike<number>, n: number): void {
    const points = this.points;
    const passed = this.passed;
    let m = 0;
    if (this.hasPointEvents) for (let k = 0; k < n; k++) this.pointEvent(indices[k]!);
    for (let k = 0; k < n; k++) {
      const i = indices[k]!;
      if (points.pass(i)) passed[m++] = i;
    }
    this.stats.pointsSuppressed += n - m;
    if (m === 0) return;
    // Filled in scratch arrays and copied out at their final size by `slice`, a builtin that
    // gives V8 no allocation site to pretenure (see PolledReading in points.ts): they live
    // until the store's flush. The slots a plain array: a small typed array here would be a
    // malloc'd buffer for the GC to free. The scratch lets go of the readings at once.
    const scratch = this.keptScratch;
    const slotScratch = this.slotScratch;
    const pointSlots = points.slots;
    for (let k = 0; k < m; k++) {
      const i = passed[k]!;
      scratch[k] = points.reading(i);
      slotScratch[k] = pointSlots[i]!;
    }
    const kept = scratch.slice(0, m);
    scratch.fill(undefined, 0, m);
    this.sink.readings(this.device.id, kept as Reading[], slotScratch.slice(0, m));
  }

  /**
   * Events from the device's own points (DESIGN.md "events from devices" for protocols
   * without an event service): a rule `{ topic: "point:door_1_state", when: { value: 3 },
   * type: access.forced }` fires when the point's good value becomes 3 — once per change,
   * not on every poll.
   */
  private pointEvent(i: number): void {
    const rules = this.pointEvents[i];
    if (rules === undefined || !this.points.good(i)) return;
    const value = this.points.value(i);
    if (value === null) return;
    const name = this.points.names[i]!;
    const previous = this.eventLast.get(name);
    this.eventLast.set(name, value);
    if (previous === value) return;
    const spec = this.specs.get(name);
    for (const rule of rules) {
      const want = rule.when?.value;
      const hit = want === undefined ? previous !== undefined : String(want) === String(value);
      if (!hit) continue;
      const label = spec?.states?.[String(value)];
      this.sink.event({
        ts: this.points.ts(i),
        device: this.device.id,
        type: rule.type,
        severity: rule.severity,
        body: { point: name, value, previous: previous ?? null, ...(label === undefined ? {} : { label }) },
      });
    }
  }

  /** Step 5 (success): back online, with an event if it had been away. */
  private settleOnline(now: number): void {
    this.failures = 0;
    this.nextAttemptAt = null;
    this.lastOkAt = now;
    if (this.state !== 'online') {
      const was = this.state;
      this.setState('online', now);
      if (was === 'offline') {
        this.sink.event({ ts: now, device: this.device.id, type: 'device.online', severity: 'info', body: { after: this.lastError?.code ?? null } });
      }
      this.log.info({ was }, 'device online');
    }
  }

  /** Step 5 (failure): offline with backoff; its points go stale, keeping their last value. */
  private settleFailed(err: unknown, now: number): number {
    this.failures++;
    this.noteError(err, now);
    const auth = err instanceof GatewayError && err.kind === 'auth';
    const delay = auth ? this.backoff.authMs : Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures - 1, 20)) * (0.8 + Math.random() * 0.4);
    this.subscribed = false;
    this.pushed = new Set();
    this.nextAttemptAt = now + delay;
    void this.driver.close().catch(() => undefined);
    if (this.state !== 'offline') {
      this.setState('offline', now);
      for (const i of this.allIndices) this.points.setStale(i, now);
      this.emit(this.allIndices, this.allIndices.length);
      this.sink.event({
        ts: now,
        device: this.device.id,
        type: 'device.offline',
        severity: 'major',
        body: { code: this.lastError?.code, reason: this.lastError?.message },
      });
      this.log.warn({ err, retryInMs: Math.round(delay) }, 'device offline');
    } else {
      this.log.debug({ code: this.lastError?.code, failures: this.failures, retryInMs: Math.round(delay) }, 'device still offline');
    }
    this.nextDue = now + delay;
    return delay;
  }

  private setState(state: DeviceState, now: number): void {
    this.state = state;
    this.since = now;
  }

  /** Fixed-rate schedule: the next cycle is due one interval after the last was due; missed ones are skipped. */
  private advanceSchedule(now: number): number {
    this.nextDue += this.cycleMs;
    if (this.nextDue < now) {
      const missed = Math.ceil((now - this.nextDue) / this.cycleMs);
      this.stats.skippedCycles += missed;
      this.nextDue += missed * this.cycleMs;
    }
    return Math.max(0, this.nextDue - now);
  }
}

/** The guards of a write, before anything is sent (GW_ERR_WRITE_REFUSED naming why). */
export function checkWritable(device: string, spec: PointSpec, value: Value): void {
  const refuse = (why: string) => {
    throw new GatewayError('GW_ERR_WRITE_REFUSED', `${device}.${spec.name}: ${why}`, { details: { device, point: spec.name } });
  };
  if (spec.access !== 'rw') refuse('the point is read-only (access: r in its profile)');
  if (spec.type === 'bool' || spec.type === 'bits') {
    if (typeof value !== 'boolean') refuse(`expected true or false, got ${JSON.stringify(value)}`);
    return;
  }
  if (spec.type === 'string') {
    if (typeof value !== 'string') refuse(`expected a string, got ${JSON.stringify(value)}`);
    return;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return refuse(`expected a number, got ${JSON.stringify(value)}`);
  if (spec.range !== undefined && (value < spec.range[0]! || value > spec.range[1]!)) refuse(`${value} is outside the point's range [${spec.range.join(', ')}]${spec.unit === undefined ? '' : ` ${spec.unit}`}`);
}

/** A planned read with what its reads need, made once: the point indices, the fast path's reader and its output. */
interface CompiledBlock {
  readonly block: ReadBlock;
  /** Point index of each of `block.points`. */
  readonly idx: Int32Array;
  readonly reader: NumericBlockReader | undefined;
  readonly out: Float64Array;
  /** `reader.read(out)`, made once (the task handed to the link queue). */
  readonly run: (() => Promise<void>) | undefined;
}

function compileBlock(block: ReadBlock, points: PointTable, driver: Driver): CompiledBlock {
  const idx = Int32Array.from(block.points, (p) => points.indexOfSpec.get(p.spec)!);
  const reader = driver.compileNumeric?.(block);
  const out = new Float64Array(block.points.length);
  return { block, idx, reader, out, run: reader === undefined ? undefined : () => reader.read(out) };
}
