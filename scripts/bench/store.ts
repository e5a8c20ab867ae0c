/**
 * `npm run bench -- store [--quick] [--points N] [--seconds S]`
 *
 * The gateway store under load: N points (10,000) written in flush-sized batches as
 * main.ts writes them (one transaction per flush), as fast as it goes, while a 24-hour
 * trend query for one point (raw samples) is answered every 100 ms — the control-room
 * panel's trend. Then the roll-up job over what was written. Side by side: the same
 * samples with one transaction per device cycle (14 points), the way poll cycles were
 * written before batching; and **sustained**: the same flushes with the maintenance loop
 * (roll-ups of complete minutes, retention) keeping up between them — the headline figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Reading } from '../../gateway/src/core/model.js';
import { StoreMaintenance } from '../../gateway/src/store/maintenance.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import type { BenchOptions, BenchResult } from './run.js';

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Phase {
  samplesPerS: number;
  trendP50: number;
  trendP99: number;
  trendRows: number;
  dbMb: number;
}

/** Writes `seconds` worth of load: `perTxn` readings per transaction, cycling over `points`. */
async function phase(points: number, perTxn: number, seconds: number, maintain = false): Promise<Phase & { store: GatewayStore; dir: string; t0: number; written: number; maintenanceS: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-store-'));
  const store = new GatewayStore({ dataDir: dir, site: 'bench' });
  // Sustained mode: after every flush the maintenance loop (roll-ups, retention) runs until
  // it has caught up, on the simulated clock — so the rate counts all the work a sample costs.
  const m = maintain ? new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 }) : undefined;
  let maintenanceMs = 0;
  const devices = Math.ceil(points / 14);
  const t0 = Date.now() - 24 * 3600_000; // a simulated day, one sample per point per simulated second
  let simTs = t0;
  let written = 0;
  const trend: number[] = [];
  let trendRows = 0;
  const end = Date.now() + seconds * 1000;
  let nextQuery = Date.now();
  const started = Date.now();
  let p = 0;
  while (Date.now() < end) {
    // One flush: `perTxn` readings.
    const batch: { device: string; readings: Reading[] }[] = [];
    let n = 0;
    while (n < perTxn) {
      const device = `dev-${Math.floor(p / 14) % devices}`;
      const readings: Reading[] = [];
      for (let k = 0; k < 14 && n < perTxn; k++, n++, p = (p + 1) % points) {
        if (p === 0) simTs += 1000;
        readings.push({ point: `${device}.p${p % 14}`, ts: simTs, value: Math.sin(p + simTs / 60_000) * 10, quality: 'good' });
      }
      batch.push({ device, readings });
    }
    store.writeBatch(batch);
    written += n;
    if (m !== undefined) {
      const m0 = performance.now();
      while (m.run(50, () => simTs));
      maintenanceMs += performance.now() - m0;
    }
    if (Date.now() >= nextQuery) {
      const q0 = performance.now();
      trendRows = store.samples('dev-0.p0', simTs - 24 * 3600_000, simTs + 1, 100_000).length;
      trend.push(performance.now() - q0);
      nextQuery = Date.now() + 100;
      await new Promise((r) => setImmediate(r));
    }
  }
  const elapsed = (Date.now() - started) / 1000;
  return {
    samplesPerS: Math.round(written / elapsed),
    trendP50: Number(percentile(trend, 50).toFixed(2)),
    trendP99: Number(percentile(trend, 99).toFixed(2)),
    trendRows,
    dbMb: Math.round(((store.db.pragma('page_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number)) / 2 ** 20),
    store,
    dir,
    t0,
    written,
    maintenanceS: maintenanceMs / 1000,
  };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 10_000);
  const seconds = Number(options.args.seconds ?? (options.quick ? 5 : 20));

  const perCycle = await phase(points, 14, seconds / 2);
  perCycle.store.close();
  rmSync(perCycle.dir, { recursive: true, force: true });

  const sustained = await phase(points, points, seconds, true);
  sustained.store.close();
  rmSync(sustained.dir, { recursive: true, force: true });

  const batched = await phase(points, points, seconds);
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
  batched.store.close();
  rmSync(batched.dir, { recursive: true, force: true });

  return {
    table: [
      ['write mode', 'samples/s', 'trend 24 h p50 ms', 'trend 24 h p99 ms', 'rows in trend', 'DB MB'],
      ['one transaction per device cycle (14)', perCycle.samplesPerS, perCycle.trendP50, perCycle.trendP99, perCycle.trendRows, perCycle.dbMb],
      [`one transaction per flush (${points}), writes only`, batched.samplesPerS, batched.trendP50, batched.trendP99, batched.trendRows, batched.dbMb],
      [`sustained: per flush + roll-ups (${sustained.maintenanceS.toFixed(1)} s of maintenance)`, sustained.samplesPerS, sustained.trendP50, sustained.trendP99, sustained.trendRows, sustained.dbMb],
      [`roll-up job: ${rolled} samples in ${rollupS.toFixed(1)} s (${Math.round(rolled / rollupS)}/s), chunk p99 ${percentile(chunkMs, 99).toFixed(1)} ms`, '', '', '', '', ''],
    ],
    figures: {
      points,
      seconds,
      samples_per_s: sustained.samplesPerS,
      trend_query_ms: sustained.trendP99,
      trend_query_p50_ms: sustained.trendP50,
      samples_per_s_writes_only: batched.samplesPerS,
      trend_query_ms_writes_only: batched.trendP99,
      samples_per_s_per_cycle_txn: perCycle.samplesPerS,
      rollup_samples_per_s: Math.round(rolled / rollupS),
      rollup_chunk_p99_ms: Number(percentile(chunkMs, 99).toFixed(1)),
    },
  };
}
