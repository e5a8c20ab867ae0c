/**
 * `npm run bench -- store [--quick] [--points N] [--seconds S] [--pace SAMPLES_PER_S]`
 *
 * The gateway store under load: N points (10,000) written in flush-sized batches as
 * main.ts writes them (one transaction per flush), as fast as it goes, while a 24-hour
 * raw trend of one point is queried every 100 ms — the control-room panel's trend, the
 * raw way (the API would take roll-ups for 24 h). That point has a full day of 1 Hz
 * samples behind it (86,400, written and packed before the clock starts), so the query
 * reads a day's worth of blocks, not just what the run wrote.
 *
 * Phases:
 * - **sustained** (the headline): per flush, then the maintenance loop (roll-ups and
 *   packing of complete minutes, retention) run until it has caught up, on the simulated
 *   clock (one sample per point per simulated second) — the rate counts all the work a
 *   sample costs while it is kept. rawRetentionDays 1.
 * - **sustained, retention keeping pace**: the same with raw samples kept 2 simulated
 *   minutes, so that from the third minute on as many samples are deleted as written
 *   (the steady state of a full gateway). The trend then holds only those minutes.
 * - **paced at the goal's rate** (`--pace`, 250,000 samples/s: the offline-first issue's
 *   200,000 and a margin): the sustained phase writing no faster than that, so the trend
 *   query is timed beside the write rate the goal names, not beside the fastest the store
 *   can go (where each query also waits on more garbage collection).
 * - one transaction per device cycle (14 readings), the way poll cycles were written
 *   before batching; no maintenance.
 * - writes only (no maintenance, no trend query: without the maintenance loop the
 *   in-memory tail of samples not packed yet overflows its bound and queries would scan
 *   the log), then the roll-up job alone over what was written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import type { Reading } from '../../gateway/src/core/model.js';
import { StoreMaintenance } from '../../gateway/src/store/maintenance.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import type { BenchOptions, BenchResult } from './run.js';

const DAY = 24 * 3600_000;
const TREND_POINT = 'dev-0.p0';

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface PhaseOptions {
  /** Readings per transaction. */
  readonly perTxn: number;
  readonly seconds: number;
  /** Run the maintenance loop after each flush, with this raw retention (days). */
  readonly maintain?: { readonly rawRetentionDays: number };
  readonly trend: boolean;
  /** Write no faster than this many samples a second (the goal's rate), sleeping between flushes. */
  readonly pace?: number;
}

interface Phase {
  samplesPerS: number;
  /** Samples per second of this process's CPU time (user + system): the rate on a core of its own. */
  samplesPerCpuS: number;
  trendP50: number;
  trendP99: number;
  trendRows: number;
  dbMb: number;
  store: GatewayStore;
  dir: string;
  written: number;
  maintenanceS: number;
  maintenance?: StoreMaintenance;
  stepP99: number;
}

/** A day of 1 Hz samples of the trend point before `t0`, written and packed (not timed). */
function prefill(store: GatewayStore, t0: number): void {
  for (let ts = t0 - DAY; ts < t0; ) {
    const readings: Reading[] = [];
    for (let k = 0; k < 3600 && ts < t0; k++, ts += 1000) readings.push({ point: TREND_POINT, ts, value: Math.sin(ts / 60_000) * 10, quality: 'good' });
    store.writeBatch([{ device: 'dev-0', readings }]);
  }
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  while (m.run(1000, () => t0 + 5_001));
}

/** Writes `seconds` worth of load: `perTxn` readings per transaction, cycling over `points`. */
async function phase(points: number, o: PhaseOptions): Promise<Phase> {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-store-'));
  const store = new GatewayStore({ dataDir: dir, site: 'bench' });
  const t0 = Math.floor(Date.now() / 60_000) * 60_000 - DAY; // a simulated day, one sample per point per simulated second
  if (o.trend) prefill(store, t0);
  const m = o.maintain === undefined ? undefined : new StoreMaintenance(store, { rawRetentionDays: o.maintain.rawRetentionDays, rollupRetentionDays: 365, maxBytes: 1e12 });
  let maintenanceMs = 0;
  const steps: number[] = [];
  const devices = Math.ceil(points / 14);
  // Device and point ids built once, as the poller's point table holds them (poller/points.ts).
  const deviceIds = Array.from({ length: devices }, (_, d) => `dev-${d}`);
  const pointIds = deviceIds.map((d) => Array.from({ length: 14 }, (_, k) => `${d}.p${k}`));
  let simTs = t0;
  let written = 0;
  const trend: number[] = [];
  let trendRows = 0;
  const end = Date.now() + o.seconds * 1000;
  let nextQuery = Date.now();
  const started = Date.now();
  const cpu0 = process.cpuUsage();
  let p = 0;
  while (Date.now() < end) {
    // One flush: `perTxn` readings.
    const batch: { device: string; readings: Reading[] }[] = [];
    let n = 0;
    while (n < o.perTxn) {
      const d = Math.floor(p / 14) % devices;
      const device = deviceIds[d]!;
      const readings: Reading[] = [];
      for (let k = 0; k < 14 && n < o.perTxn; k++, n++, p = (p + 1) % points) {
        if (p === 0) simTs += 1000;
        readings.push({ point: pointIds[d]![p % 14]!, ts: simTs, value: Math.sin(p + simTs / 60_000) * 10, quality: 'good' });
      }
      batch.push({ device, readings });
    }
    store.writeBatch(batch);
    written += n;
    if (m !== undefined) {
      // The maintenance loop until caught up, in the bounded steps main.ts runs (each step timed).
      const m0 = performance.now();
      for (let more = true; more; ) {
        const s0 = performance.now();
        more = m.budgetStep(simTs);
        more = m.rollupStep(simTs) || more;
        more = m.retentionStep(simTs) || more;
        steps.push(performance.now() - s0);
      }
      maintenanceMs += performance.now() - m0;
    }
    if (o.trend && Date.now() >= nextQuery) {
      const q0 = performance.now();
      trendRows = store.samples(TREND_POINT, simTs - DAY, simTs + 1, 100_000).length;
      trend.push(performance.now() - q0);
      nextQuery = Date.now() + 100;
      await new Promise((r) => setImmediate(r));
    }
    if (o.pace !== undefined) {
      const wait = started + (written / o.pace) * 1000 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  const elapsed = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    samplesPerS: Math.round(written / elapsed),
    samplesPerCpuS: Math.round(written / ((cpu.user + cpu.system) / 1e6)),
    trendP50: Number(percentile(trend, 50).toFixed(2)),
    trendP99: Number(percentile(trend, 99).toFixed(2)),
    trendRows,
    dbMb: Math.round(((store.db.pragma('page_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number)) / 2 ** 20),
    store,
    dir,
    written,
    maintenanceS: maintenanceMs / 1000,
    ...(m === undefined ? {} : { maintenance: m }),
    stepP99: Number(percentile(steps, 99).toFixed(1)),
  };
}

function done(p: Phase): void {
  p.store.close();
  rmSync(p.dir, { recursive: true, force: true });
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 10_000);
  const seconds = Number(options.args.seconds ?? (options.quick ? 5 : 20));

  const sustained = await phase(points, { perTxn: points, seconds, maintain: { rawRetentionDays: 1 }, trend: true });
  done(sustained);

  const paceRate = Number(options.args.pace ?? 250_000);
  const paced = await phase(points, { perTxn: points, seconds, maintain: { rawRetentionDays: 1 }, trend: true, pace: paceRate });
  done(paced);

  const pace = await phase(points, { perTxn: points, seconds, maintain: { rawRetentionDays: 2 / 1440 }, trend: true });
  const expired = pace.maintenance!.stats.samplesExpired;
  done(pace);

  const perCycle = await phase(points, { perTxn: 14, seconds: seconds / 2, trend: true });
  done(perCycle);

  const batched = await phase(points, { perTxn: points, seconds, trend: false });
  // The roll-up job over everything written, as the maintenance loop would run it.
  const m = new StoreMaintenance(batched.store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  const r0 = performance.now();
  const chunkMs: number[] = [];
  for (;;) {
    const c0 = performance.now();
    const more = m.rollupStep(Date.now());
    chunkMs.push(performance.now() - c0);
    if (!more) break;
  }
  const rollupS = (performance.now() - r0) / 1000;
  const rolled = m.stats.rolledUpSamples;
  done(batched);

  const maint = (p: Phase) => `${p.maintenanceS.toFixed(1)} s of maintenance, steps p99 ${p.stepP99} ms`;
  return {
    table: [
      ['write mode', 'samples/s', 'per CPU s', 'trend 24 h p50 ms', 'trend 24 h p99 ms', 'rows in trend', 'DB MB'],
      [`sustained: per flush (${points}) + roll-ups, packing, retention (${maint(sustained)})`, sustained.samplesPerS, sustained.samplesPerCpuS, sustained.trendP50, sustained.trendP99, sustained.trendRows, sustained.dbMb],
      [`sustained, paced at ${paceRate} samples/s (${maint(paced)})`, paced.samplesPerS, paced.samplesPerCpuS, paced.trendP50, paced.trendP99, paced.trendRows, paced.dbMb],
      [`sustained, raw kept 2 min: ${expired} samples expired (${maint(pace)})`, pace.samplesPerS, pace.samplesPerCpuS, pace.trendP50, pace.trendP99, pace.trendRows, pace.dbMb],
      ['one transaction per device cycle (14), no maintenance', perCycle.samplesPerS, perCycle.samplesPerCpuS, perCycle.trendP50, perCycle.trendP99, perCycle.trendRows, perCycle.dbMb],
      [`one transaction per flush (${points}), writes only, no trend query`, batched.samplesPerS, batched.samplesPerCpuS, '', '', '', batched.dbMb],
      [`roll-up job: ${rolled} samples in ${rollupS.toFixed(1)} s (${Math.round(rolled / rollupS)}/s), step p99 ${percentile(chunkMs, 99).toFixed(1)} ms`, '', '', '', '', '', ''],
    ],
    figures: {
      points,
      seconds,
      samples_per_s: Math.min(sustained.samplesPerS, pace.samplesPerS),
      trend_query_ms: Math.max(sustained.trendP99, pace.trendP99),
      trend_query_p50_ms: sustained.trendP50,
      trend_rows: sustained.trendRows,
      samples_per_cpu_s: Math.min(sustained.samplesPerCpuS, pace.samplesPerCpuS),
      load_1min: Number(loadavg()[0]!.toFixed(2)),
      samples_per_s_sustained: sustained.samplesPerS,
      samples_per_s_retention_pace: pace.samplesPerS,
      trend_query_ms_retention_pace: pace.trendP99,
      samples_per_s_paced: paced.samplesPerS,
      trend_query_ms_paced: paced.trendP99,
      trend_query_p50_ms_paced: paced.trendP50,
      maintenance_step_p99_ms: Math.max(sustained.stepP99, pace.stepP99),
      samples_per_s_writes_only: batched.samplesPerS,
      samples_per_s_per_cycle_txn: perCycle.samplesPerS,
      trend_query_ms_per_cycle_txn: perCycle.trendP99,
      rollup_samples_per_s: Math.round(rolled / rollupS),
      rollup_chunk_p99_ms: Number(percentile(chunkMs, 99).toFixed(1)),
    },
  };
}
