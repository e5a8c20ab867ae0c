/**
 * The gateway's ML runtime (issue 7). On the polling path it only keeps the latest value
 * of each input point (`readings`, O(readings)); every `stepSeconds` a timer samples them
 * into per-device windows and sends one batch per model — all devices of one device type
 * together — to the inference worker thread. Results come back as events through the sink:
 * `anomaly.detected` (score, threshold, contributing points) and `failure.predicted`
 * (horizon, confidence). A model in shadow mode scores the same windows; its decisions are
 * logged and counted, never emitted. Drift: per input, the mean of live inputs against the
 * training distribution, as a z-score, in `metrics()`.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GatewayError } from '../core/errors.js';
import type { Reading, Severity } from '../core/model.js';
import type { BackendName } from './backend.js';
import { AnomalyDecider, FailureDecider } from './decide.js';
import { normaliseRow, type ModelManifest } from './manifest.js';
import { checkDevicePoints, readManifest } from './registry.js';
import type { WorkerInit, WorkerReply, WorkerRequest } from './worker.js';

/** The same shape as the poller's `sink.event` (gateway/src/main.ts). */
export interface MlEvent {
  readonly ts: number;
  readonly device: string;
  readonly type: 'anomaly.detected' | 'failure.predicted';
  readonly severity: Severity;
  readonly body: Record<string, unknown>;
}
export type MlSink = (event: MlEvent) => void;

export interface MlDevice {
  readonly id: string;
  /** Profile id: the device type a batch is made of. */
  readonly profile: string;
  readonly points: readonly string[];
  readonly models: readonly string[];
}

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MlRuntimeOptions {
  readonly modelsDir: string;
  readonly devices: readonly MlDevice[];
  readonly sink: MlSink;
  readonly log?: Log;
  /** Candidate versions in shadow mode: model name → folder under modelsDir (e.g. `pump-anomaly@1.1.0`). */
  readonly shadow?: Readonly<Record<string, string>>;
  readonly backend?: BackendName;
  /** Run the sampling timer (default true; tests call `step` themselves). */
  readonly timer?: boolean;
  /**
   * Real milliseconds between steps (default: the smallest manifest `stepSeconds` × 1000).
   * With `clock`, for a simulator running faster than real time (an end-to-end test).
   */
  readonly stepMs?: number;
  /** Time stamped on steps and events (default `Date.now`): a simulator's accelerated clock. */
  readonly clock?: () => number;
}

interface Slot {
  readonly device: string;
  readonly key: string;
  readonly manifest: ModelManifest;
  readonly shadow: boolean;
  /** Window rows, newest last. */
  readonly rows: number[][];
  readonly anomaly?: AnomalyDecider;
  readonly failure?: FailureDecider;
}

const silent: Log = { info() {}, warn() {} };

export class MlRuntime {
  private readonly latest = new Map<string, Map<string, number>>();
  private readonly slots: Slot[] = [];
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: WorkerReply) => void }>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly counters: Record<string, number> = { ml_windows_scored_total: 0, ml_batches_total: 0, ml_events_total: 0, ml_shadow_decisions_total: 0, ml_steps_skipped_busy_total: 0, ml_errors_total: 0 };
  private readonly drift = new Map<string, { n: number; mean: number[] }>();
  /** Device × model pairs refused at start, with the error. */
  readonly refused: { device: string; model: string; code: string; message: string }[] = [];
  backend: string | undefined;

  private constructor(private readonly o: MlRuntimeOptions) {
    // worker.js beside this module: the compiled worker when the gateway runs compiled
    // (bin/build.js), else worker.ts as the TypeScript loader in use resolves it.
    const url = import.meta.resolve('./worker.js');
    let entry = new URL(url);
    if (url.endsWith('.ts')) {
      // Sources run through tsx (bin/steward.js): a worker does not inherit the loader, so a
      // two-line bootstrap registers it before importing worker.ts.
      const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
      const bootstrap = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(url)});`;
      entry = new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
    }
    this.worker = new Worker(entry, { workerData: { modelsDir: o.modelsDir, backend: o.backend } satisfies WorkerInit });
    this.worker.on('message', (r: WorkerReply) => {
      this.pending.get(r.id)?.resolve(r);
      this.pending.delete(r.id);
    });
    this.worker.on('error', (err) => {
      this.counters.ml_errors_total!++;
      (o.log ?? silent).warn({ err, code: 'GW_ERR_ML_WORKER' }, 'ML worker failed');
      for (const p of this.pending.values()) p.resolve({ id: 0, ok: false, code: 'GW_ERR_ML_WORKER', message: err.message });
      this.pending.clear();
    });
  }

  /** Checks every device against its models' manifests, loads the models in the worker, starts the timer. */
  static async start(o: MlRuntimeOptions): Promise<MlRuntime> {
    const rt = new MlRuntime(o);
    const log = o.log ?? silent;
    const folders = new Map<string, string>();
    for (const d of o.devices) {
      for (const name of d.models) {
        for (const [key, folder, shadow] of [[name, name, false], ...(o.shadow?.[name] !== undefined ? [[`${name}#shadow`, o.shadow[name]!, true]] : [])] as [string, string, boolean][]) {
          try {
            const manifest = readManifest(o.modelsDir, folder);
            checkDevicePoints(manifest, d.id, d.points);
            folders.set(key, folder);
            rt.slots.push({
              device: d.id,
              key,
              manifest,
              shadow,
              rows: [],
              ...(manifest.task === 'anomaly' ? { anomaly: new AnomalyDecider(manifest) } : { failure: new FailureDecider(manifest) }),
            });
          } catch (err) {
            const e = err instanceof GatewayError ? err : new GatewayError('GW_ERR_ML_MANIFEST', String(err));
            rt.refused.push({ device: d.id, model: folder, code: e.code, message: e.message });
            log.warn({ device: d.id, model: folder, code: e.code }, e.message);
          }
        }
      }
    }
    const reply = await rt.call({ kind: 'load', id: 0, models: [...folders].map(([key, folder]) => ({ key, folder })) });
    if (!reply.ok) {
      await rt.worker.terminate();
      throw new GatewayError((reply.code as 'GW_ERR_ML_CHECKSUM' | undefined) ?? 'GW_ERR_ML_WORKER', reply.message);
    }
    rt.backend = reply.backend;
    log.info({ backend: reply.backend, models: [...folders.values()], devices: new Set(rt.slots.map((s) => s.device)).size }, 'ML runtime started');
    const stepMs = o.stepMs ?? Math.min(...rt.slots.map((s) => (s.manifest.stepSeconds ?? 10) * 1000), 60_000);
    const clock = o.clock ?? Date.now;
    if (o.timer !== false && rt.slots.length > 0) {
      rt.timer = setInterval(() => {
        if (rt.busy) {
          rt.counters.ml_steps_skipped_busy_total!++;
          return;
        }
        void rt.step(clock());
      }, stepMs);
      rt.timer.unref();
    }
    return rt;
  }

  private call(req: WorkerRequest): Promise<WorkerReply> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.worker.postMessage({ ...req, id });
    });
  }

  /** On the polling path: remembers the latest numeric value of each point. */
  readings(device: string, readings: readonly Reading[]): void {
    let m = this.latest.get(device);
    if (m === undefined) this.latest.set(device, (m = new Map()));
    const prefix = `${device}.`;
    for (const r of readings) {
      const v = typeof r.value === 'boolean' ? (r.value ? 1 : 0) : r.value;
      if (typeof v === 'number' && r.quality === 'good') m.set(r.point.startsWith(prefix) ? r.point.slice(prefix.length) : r.point, v);
    }
  }

  /** Samples every device once, and scores the full windows: one batch per model. */
  async step(ts: number): Promise<void> {
    this.busy = true;
    try {
      const batches = new Map<string, Slot[]>();
      for (const s of this.slots) {
        const latest = this.latest.get(s.device);
        const row = s.manifest.inputs.map((p) => latest?.get(p));
        if (row.some((v) => v === undefined)) continue; // not all inputs read yet
        s.rows.push(row as number[]);
        if (s.rows.length > s.manifest.window) s.rows.shift();
        if (s.rows.length < s.manifest.window) continue;
        const list = batches.get(s.key) ?? [];
        list.push(s);
        batches.set(s.key, list);
      }
      for (const [key, slots] of batches) await this.score(key, slots, ts);
    } finally {
      this.busy = false;
    }
  }

  private async score(key: string, slots: Slot[], ts: number): Promise<void> {
    const m = slots[0]!.manifest;
    const n = m.inputs.length;
    const x = new Float32Array(slots.length * m.window * n);
    slots.forEach((s, b) => s.rows.forEach((row, k) => normaliseRow(m, row, x, (b * m.window + k) * n)));
    this.trackDrift(key, m, slots);
    const reply = await this.call({ kind: 'infer', id: 0, key, x, count: slots.length });
    this.counters.ml_batches_total!++;
    if (!reply.ok || reply.out === undefined || reply.width === undefined) {
      this.counters.ml_errors_total!++;
      (this.o.log ?? silent).warn({ model: key, code: reply.ok ? undefined : reply.code }, reply.ok ? 'no output' : reply.message);
      return;
    }
    this.counters.ml_windows_scored_total! += slots.length;
    const w = reply.width;
    slots.forEach((s, b) => {
      const out = Array.from(reply.out!.subarray(b * w, (b + 1) * w));
      if (s.anomaly !== undefined) {
        const d = s.anomaly.update(out, ts);
        if (d !== null) this.emit(s, { ts, device: s.device, type: 'anomaly.detected', severity: 'minor', body: { model: m.name, version: m.version, score: d.score, threshold: d.threshold, contributing: d.contributing } });
      } else if (s.failure !== undefined) {
        const d = s.failure.update(out[0]!, ts);
        if (d !== null) this.emit(s, { ts, device: s.device, type: 'failure.predicted', severity: 'major', body: { model: m.name, version: m.version, horizonHours: d.horizonHours, confidence: d.confidence, healthIndex: d.healthIndex } });
      }
    });
  }

  private emit(s: Slot, e: MlEvent): void {
    if (s.shadow) {
      this.counters.ml_shadow_decisions_total!++;
      (this.o.log ?? silent).info({ shadow: true, device: e.device, type: e.type, body: e.body }, 'shadow model decision (not emitted)');
      return;
    }
    this.counters.ml_events_total!++;
    this.o.sink(e);
  }

  /** Running mean of each input over every window scored, for drift against trainingStats. */
  private trackDrift(key: string, m: ModelManifest, slots: Slot[]): void {
    const d = this.drift.get(key) ?? { n: 0, mean: m.inputs.map(() => 0) };
    for (const s of slots) {
      const row = s.rows[s.rows.length - 1]!;
      d.n++;
      const alpha = Math.max(1 / d.n, 1 / 8640); // a day of 10 s steps
      row.forEach((v, i) => (d.mean[i] = d.mean[i]! + alpha * (v - d.mean[i]!)));
    }
    this.drift.set(key, d);
  }

  /** Counters and drift gauges for /metrics: `ml_drift_z:<model>:<input>` = |live mean − training mean| / training std. */
  metrics(): Record<string, number> {
    const out: Record<string, number> = { ...this.counters, ml_refused_total: this.refused.length };
    for (const [key, d] of this.drift) {
      const m = this.slots.find((s) => s.key === key)?.manifest;
      const st = m?.trainingStats;
      if (m === undefined || st === undefined || d.n === 0) continue;
      m.inputs.forEach((p, i) => (out[`ml_drift_z_${key.replace(/[^a-z0-9]/g, '_')}_${p}`] = Math.abs(d.mean[i]! - st.mean[i]!) / (st.std[i]! || 1)));
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.worker.terminate();
  }
}
