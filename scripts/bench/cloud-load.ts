/**
 * `npm run bench -- cloud-load [--quick] [--gateways N] [--batches N] [--points N] [--rate ITEMS_PER_S]`
 *
 * N simulated gateways syncing at once against one cloud (a child process, `steward
 * cloud`), on SQLite and then on PostgreSQL. Each gateway sends its batches one after
 * another, as its uplink does; all gateways at once. A batch is what a gateway of
 * `--points` points sends each minute: one `telemetry.rollup` item with a roll-up of every
 * point (projected into the cloud's roll-up table), plus 10 events (one an alarm in lane 0,
 * projected into alarms and checked against the work-order rules). Batches are prebuilt
 * and gzipped, so the time is the cloud's.
 *
 * Two runs per database:
 * - **saturated**: every gateway sends its next batch the moment the last is acknowledged.
 *   `items_per_s_*` counts roll-ups + events acknowledged per second (the issue counts a
 *   roll-up as an item, like the ingest bench); `projected_items_per_s_*` until the cloud's
 *   projector had also written every roll-up. Its latency is no service figure: with N
 *   gateways always waiting, a batch waits for the N − 1 others (Little's law: p50 ≈ N ×
 *   batch items / throughput), reported as `p99_saturated_ms_*`.
 * - **paced** (`--rate`, default the goal's 100,000 items/s): the same gateways offer batches
 *   at that total rate, round robin, each gateway still one batch at a time; a batch's
 *   latency counts from when it was due (so a cloud that falls behind is not hidden).
 *   `p99_ms_*` is this run's 99th percentile, `paced_items_per_s_*` what was achieved.
 * `cloud_cpu_*` is the cloud process's CPU seconds per wall second (2 cores = 2.0),
 * `loadgen_cpu_*` this process's (the load generator shares the machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { uuidv7 } from '../../protocol/uuid.js';
import { PROTOCOL_VERSION, type Batch, type BatchAck, type OutboxItem } from '../../protocol/v1.js';
import { addGateway, openCloudDatabase } from '../../cloud/src/index.js';
import { createRng } from '../sim/models/prng.js';
import { cpuSeconds, dropSchema, enrol, loadAverage, postgresSchema, startCloudProcess } from './lib/cloud.js';
import { watchProjection } from './lib/projected.js';
import type { BenchOptions, BenchResult } from './run.js';

const MINUTE = 60_000;
const EVENTS_PER_BATCH = 10;

interface Prepared {
  body: Buffer;
  items: number;
}

function buildBatches(gateway: string, site: string, points: number, count: number, rand: () => number): Prepared[] {
  const out: Prepared[] = [];
  let minute = Math.floor(Date.now() / MINUTE) * MINUTE - 7 * 24 * 60 * MINUTE;
  let seq0 = 0;
  let seq1 = 0;
  let seq2 = 0;
  for (let b = 0; b < count; b++) {
    const rollups = Array.from({ length: points }, (_, i) => {
      const base = 1 + (i % 40);
      const min = Math.round((base - rand()) * 100) / 100;
      const max = Math.round((base + rand()) * 100) / 100;
      return { id: `dev-${Math.floor(i / 20) + 1}.${i % 20 === 0 ? 'energy' : `p${i % 20}`}`, minute, min, max, avg: (min + max) / 2, count: 60, last: max };
    });
    const items: OutboxItem[] = [{ lane: 2, seq: ++seq2, id: uuidv7(minute), kind: 'telemetry.rollup', ts: minute, body: { rollups } }];
    for (let e = 0; e < EVENTS_PER_BATCH; e++) {
      const ts = minute + e * 1000;
      const alarm = e === 0;
      const body = {
        id: uuidv7(ts),
        ts,
        site,
        device: `dev-${(e % 7) + 1}`,
        type: alarm ? 'alarm.raised' : e % 2 === 0 ? 'device.online' : 'access.granted',
        severity: alarm ? 'major' : 'info',
        body: alarm ? { rule: 'outlet_pressure.low', system: 'water', value: 1.2 } : { n: e },
      };
      items.push({ lane: alarm ? 0 : 1, seq: alarm ? ++seq0 : ++seq1, id: uuidv7(ts), kind: 'event', ts, body });
    }
    const batch: Batch = { v: PROTOCOL_VERSION, gateway, site, sentAt: Date.now(), items };
    out.push({ body: gzipSync(JSON.stringify(batch)), items: points + EVENTS_PER_BATCH });
    minute += MINUTE;
  }
  return out;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

interface Measured {
  /** Saturated: every gateway sends its next batch as soon as the last is acknowledged. */
  itemsPerS: number;
  /** Items per second until the cloud had also projected every roll-up (after the acks). */
  projectedItemsPerS: number;
  p50Saturated: number;
  p99Saturated: number;
  /** Paced: batches offered at `offered` items/s in all, round robin over the gateways; latency from each batch's scheduled time. */
  offered: number;
  pacedItemsPerS: number;
  p50: number;
  p99: number;
  cpu: number;
  cpuPaced: number;
  /** CPU of this process (the load generator) per wall second, while saturated. */
  loadgenCpu: number;
  seconds: number;
  batches: number;
  load: number;
}

async function measure(database: string, gateways: number, batches: number, points: number, offered: number): Promise<Measured> {
  const names = Array.from({ length: gateways }, (_, i) => `load-gw-${String(i + 1).padStart(4, '0')}`);
  const siteOf = (i: number): string => `load-site-${Math.floor(i / 2) + 1}`; // two gateways per community
  const cdb = await openCloudDatabase(database);
  const tokens: string[] = [];
  try {
    for (const [i, g] of names.entries()) tokens.push(await addGateway(cdb, { site: siteOf(i), gateway: g }));
  } finally {
    await cdb.close();
  }
  const rng = createRng(5);
  // Each gateway's batches: the first `batches` for the saturated run, the next `batches` (continuing its sequences) for the paced one.
  const loads = names.map((g, i) => buildBatches(g, siteOf(i), points, batches * 2, () => rng.next()));
  const watch = await watchProjection(database);
  const cloud = await startCloudProcess(database);
  try {
    const secrets: string[] = [];
    for (const [i, g] of names.entries()) secrets.push(await enrol(cloud.url, g, tokens[i]!));
    const send = async (i: number, p: Prepared): Promise<void> => {
      const res = await fetch(`${cloud.url}/v1/gateways/${names[i]!}/batches`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${secrets[i]!}` },
        body: p.body,
      });
      if (!res.ok) throw new Error(`batch refused: HTTP ${res.status} ${await res.text()}`);
      const ack = (await res.json()) as BatchAck;
      if (ack.accepted !== 1 + EVENTS_PER_BATCH) throw new Error(`the cloud accepted ${ack.accepted} items of a batch`);
    };

    // 1. Saturated: all gateways at once, each its batches back to back.
    const latencies: number[] = [];
    const cpu0 = cpuSeconds(cloud.proc.pid!);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      names.map(async (_g, i) => {
        for (const p of loads[i]!.slice(0, batches)) {
          const s = performance.now();
          await send(i, p);
          latencies.push(performance.now() - s);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (cpuSeconds(cloud.proc.pid!) - cpu0) / seconds;
    const own = process.cpuUsage(own0);
    await watch.caughtUp();
    const projectedSeconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const items = loads.flatMap((l) => l.slice(0, batches)).reduce((n, p) => n + p.items, 0);

    // 2. Paced: the same gateways offer `offered` items/s in all (each gateway its next
    // batch in turn, never before its previous one is acknowledged); the latency of a batch
    // counts from when it was due, so a cloud that falls behind shows it.
    const paced: number[] = [];
    const perBatch = points + EVENTS_PER_BATCH;
    const interval = (perBatch / offered) * 1000;
    const last: Promise<void>[] = names.map(() => Promise.resolve());
    const cpu1 = cpuSeconds(cloud.proc.pid!);
    const t1 = performance.now();
    const all: Promise<void>[] = [];
    for (let k = 0; k < gateways * batches; k++) {
      const i = k % gateways;
      const p = loads[i]![batches + Math.floor(k / gateways)]!;
      const due = t1 + k * interval;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      const prev = last[i]!;
      const done = prev.then(async () => {
        await send(i, p);
        paced.push(performance.now() - due);
      });
      last[i] = done;
      all.push(done);
    }
    await Promise.all(all);
    const pacedSeconds = (performance.now() - t1) / 1000;
    const cpuPaced = (cpuSeconds(cloud.proc.pid!) - cpu1) / pacedSeconds;
    await watch.caughtUp();
    paced.sort((a, b) => a - b);
    return {
      itemsPerS: Math.round(items / seconds),
      projectedItemsPerS: Math.round(items / projectedSeconds),
      p50Saturated: Math.round(percentile(latencies, 50)),
      p99Saturated: Math.round(percentile(latencies, 99)),
      offered,
      pacedItemsPerS: Math.round((gateways * batches * perBatch) / pacedSeconds),
      p50: Math.round(percentile(paced, 50)),
      p99: Math.round(percentile(paced, 99)),
      cpu: Number(cpu.toFixed(2)),
      cpuPaced: Number(cpuPaced.toFixed(2)),
      loadgenCpu: Number(((own.user + own.system) / 1e6 / seconds).toFixed(2)),
      seconds: Number(seconds.toFixed(1)),
      batches: latencies.length,
      load: loadAverage(),
    };
  } finally {
    await cloud.stop();
    await watch.close();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const gateways = Number(options.args.gateways ?? (options.quick ? 20 : 200));
  const batches = Number(options.args.batches ?? (options.quick ? 2 : 5));
  const points = Number(options.args.points ?? (options.quick ? 500 : 2000));
  const offered = Number(options.args.rate ?? (options.quick ? 20_000 : 100_000));
  const table: (string | number)[][] = [
    ['cloud database', 'gateways', 'items/s (saturated)', 'items/s projected', 'p50 / p99 ms (saturated)', `items/s paced (offered ${offered})`, 'p50 / p99 ms (paced)', 'cloud CPU sat. / paced', 'load-gen CPU', 'load (1 min)'],
  ];
  const figures: Record<string, number | string | boolean> = { gateways, points_per_gateway: points, batches_per_gateway: batches, offered_items_per_s: offered, load_before: loadAverage() };
  const record = (label: string, key: string, m: Measured): void => {
    table.push([label, gateways, m.itemsPerS, m.projectedItemsPerS, `${m.p50Saturated} / ${m.p99Saturated}`, m.pacedItemsPerS, `${m.p50} / ${m.p99}`, `${m.cpu} / ${m.cpuPaced}`, m.loadgenCpu, m.load]);
    Object.assign(figures, {
      [`items_per_s_${key}`]: m.itemsPerS,
      [`projected_items_per_s_${key}`]: m.projectedItemsPerS,
      [`p99_ms_${key}`]: m.p99,
      [`p50_ms_${key}`]: m.p50,
      [`paced_items_per_s_${key}`]: m.pacedItemsPerS,
      [`p99_saturated_ms_${key}`]: m.p99Saturated,
      [`p50_saturated_ms_${key}`]: m.p50Saturated,
      [`cloud_cpu_${key}`]: m.cpu,
      [`cloud_cpu_paced_${key}`]: m.cpuPaced,
      [`loadgen_cpu_${key}`]: m.loadgenCpu,
      [`load_${key}`]: m.load,
    });
  };
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-load-'));
  try {
    record('SQLite', 'sqlite', await measure(path.join(dir, 'cloud.db'), gateways, batches, points, offered));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pgTarget = await postgresSchema('bench_load');
  if ('unavailable' in pgTarget) {
    table.push([`PostgreSQL: not measured (${pgTarget.unavailable})`, '-', '-', '-', '-', '-', '-', '-', '-', '-']);
    figures.postgres = pgTarget.unavailable;
  } else {
    try {
      record('PostgreSQL', 'postgres', await measure(pgTarget.url, gateways, batches, points, offered));
    } finally {
      await dropSchema(pgTarget.schema);
    }
  }
  return { table, figures };
}
