/**
 * `npm run bench -- ingest [--quick] [--gateways N] [--batches N]`
 *
 * Cloud ingest throughput: a real cloud in a child process (`steward cloud`), fed over
 * HTTP on loopback by this process with prebuilt, pre-gzipped batches — so what is timed
 * is the cloud (gunzip, validation, one transaction per batch, projections), not the
 * building of the load. N gateways (2) post at once, each its batches one after another
 * as a gateway's uplink does. SQLite, then PostgreSQL (a fresh schema, dropped after).
 *
 * Two workloads, because "an item" means two things:
 * - **roll-ups**: `telemetry.rollup` outbox items of 2,000 roll-ups each (one minute of
 *   2,000 points, as StoreMaintenance queues them), as many per batch as the uplink puts
 *   in its 4 MiB byte budget (15). The issue counts roll-ups as items (its drain's "2.9
 *   million items" are roll-ups), so `items_per_s_*` is **roll-ups per second** here.
 * - **events**: `event` outbox items, 500 per batch (the uplink's default batchMaxItems):
 *   one outbox item = one event, the cloud's per-item cost (events are projected into
 *   the events table too). Figures `events_per_s_*`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { uuidv7 } from '../../protocol/uuid.js';
import { LIMITS, PROTOCOL_VERSION, type Batch, type BatchAck, type OutboxItem } from '../../protocol/v1.js';
import { cpuSeconds, dropSchema, enrol, loadAverage, postgresSchema, registerGateway, startCloudProcess } from './lib/cloud.js';
import { watchProjection } from './lib/projected.js';
import type { BenchOptions, BenchResult } from './run.js';
import { createRng } from '../sim/models/prng.js';

const MINUTE = 60_000;
const SITE = 'bench-site';
const PUMP_POINTS = ['outlet_pressure', 'flow', 'motor_current', 'frequency', 'bearing_temperature', 'vibration', 'run_hours', 'running', 'fault', 'remote_mode', 'fault_code', 'pressure_setpoint', 'energy', 'start_stop'];
const ROLLUPS_PER_ITEM = 2000;
const EVENTS_PER_BATCH = 500;

type Workload = 'rollups' | 'events';

/** A prebuilt request: gzip body and what it carries. */
interface Prepared {
  body: Buffer;
  items: number;
  rollups: number;
}


/** One gateway's batches, numbered 1, 2, 3, … per lane, gzipped like the uplink does. */
function buildBatches(gateway: string, workload: Workload, count: number, rand: () => number): Prepared[] {
  const out: Prepared[] = [];
  let seq2 = 0;
  let seq0 = 0;
  let seq1 = 0;
  let minute = Math.floor(Date.now() / MINUTE) * MINUTE - 30 * 24 * 60 * MINUTE;
  for (let b = 0; b < count; b++) {
    const items: OutboxItem[] = [];
    let rollups = 0;
    if (workload === 'rollups') {
      let bytes = 0;
      // The uplink's budget: JSON of the bodies + 200 bytes per item, under maxBatchBytes / 2.
      for (;;) {
        const body = {
          rollups: Array.from({ length: ROLLUPS_PER_ITEM }, (_, i) => {
            const base = 1 + (i % 50);
            const min = Math.round((base - rand()) * 100) / 100;
            const max = Math.round((base + rand()) * 100) / 100;
            return { id: `pump-${Math.floor(i / PUMP_POINTS.length) + 1}.${PUMP_POINTS[i % PUMP_POINTS.length]}`, minute, min, max, avg: ((min + max) * 30 + (rand() - 0.5) * 3) / 60, count: 60, last: max };
          }),
        };
        const size = JSON.stringify(body).length + 200;
        if (items.length > 0 && bytes + size > LIMITS.maxBatchBytes / 2) break;
        items.push({ lane: 2, seq: ++seq2, id: uuidv7(minute), kind: 'telemetry.rollup', ts: minute, body });
        bytes += size;
        rollups += ROLLUPS_PER_ITEM;
        minute += MINUTE;
      }
    } else {
      for (let i = 0; i < EVENTS_PER_BATCH; i++) {
        const ts = minute + i * 100;
        const alarm = i % 10 === 0;
        const id = uuidv7(ts);
        const body = {
          id,
          ts,
          site: SITE,
          device: `pump-${(i % 143) + 1}`,
          type: alarm ? 'alarm.raised' : i % 2 === 0 ? 'device.offline' : 'access.granted',
          severity: alarm ? 'major' : 'info',
          body: alarm ? { rule: 'outlet_pressure.low', value: Math.round(rand() * 100) / 100, threshold: 1.5 } : { reason: 'bench', n: i },
        };
        items.push({ lane: alarm ? 0 : 1, seq: alarm ? ++seq0 : ++seq1, id: uuidv7(ts), kind: 'event', ts, body });
      }
      minute += MINUTE;
    }
    const batch: Batch = { v: PROTOCOL_VERSION, gateway, site: SITE, sentAt: Date.now(), items };
    const body = gzipSync(JSON.stringify(batch));
    if (body.length > LIMITS.maxCompressedBytes) throw new Error(`a prebuilt batch is ${body.length} bytes gzipped, over the cloud's limit`);
    out.push({ body, items: items.length, rollups });
  }
  return out;
}

interface Measured {
  /** Until the last batch was acknowledged. */
  seconds: number;
  /** Until the last roll-up was also projected into the cloud's roll-up table (the projector runs after the ack). */
  projectedSeconds: number;
  /** CPU seconds the cloud process used until everything was projected. */
  cloudCpuS: number;
  items: number;
  rollups: number;
  batches: number;
  mbPerS: number;
  load: number;
}

/** Registers the gateways, starts the cloud, sends every gateway's batches (gateways in parallel), times it. */
async function measure(database: string, workload: Workload, gateways: number, batches: number): Promise<Measured> {
  const names = Array.from({ length: gateways }, (_, i) => `bench-gw-${i + 1}`);
  const tokens: string[] = [];
  for (const g of names) tokens.push(await registerGateway(database, SITE, g));
  const rng = createRng(11); // the simulator's mulberry32: the same backlog every run
  const rand = () => rng.next();
  const loads = names.map((g) => buildBatches(g, workload, batches, rand));
  const watch = await watchProjection(database);
  const cloud = await startCloudProcess(database);
  try {
    const secrets = await Promise.all(names.map((g, i) => enrol(cloud.url, g, tokens[i]!)));
    const cpu0 = cpuSeconds(cloud.proc.pid!);
    const t0 = performance.now();
    await Promise.all(
      names.map(async (g, i) => {
        for (const p of loads[i]!) {
          const res = await fetch(`${cloud.url}/v1/gateways/${g}/batches`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${secrets[i]!}` },
            body: p.body,
          });
          if (!res.ok) throw new Error(`batch refused: HTTP ${res.status} ${await res.text()}`);
          const ack = (await res.json()) as BatchAck;
          if (ack.accepted !== p.items) throw new Error(`the cloud accepted ${ack.accepted} of ${p.items} items`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    await watch.caughtUp();
    const projectedSeconds = (performance.now() - t0) / 1000;
    const cloudCpuS = cpuSeconds(cloud.proc.pid!) - cpu0;
    const all = loads.flat();
    const bytes = all.reduce((n, p) => n + p.body.length, 0);
    return { seconds, projectedSeconds, cloudCpuS, items: all.reduce((n, p) => n + p.items, 0), rollups: all.reduce((n, p) => n + p.rollups, 0), batches: all.length, mbPerS: bytes / 2 ** 20 / seconds, load: loadAverage() };
  } finally {
    await cloud.stop();
    await watch.close();
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const gateways = Number(options.args.gateways ?? 2);
  const rollupBatches = Number(options.args.batches ?? (options.quick ? 4 : 20));
  const eventBatches = rollupBatches * 2;
  const table: (string | number)[][] = [['cloud database, workload', 'outbox items/s', 'roll-ups/s acked', 'roll-ups/s projected', 'roll-ups per cloud CPU-s', 'batches', 'gzip MB/s in', 's', 'load (1 min)']];
  const figures: Record<string, number | string | boolean> = { gateways, load_before: loadAverage() };

  const runBoth = async (db: string, label: string, key: string): Promise<void> => {
    const r = await measure(db, 'rollups', gateways, rollupBatches);
    table.push([`${label}, roll-ups (${ROLLUPS_PER_ITEM}/item, ${Math.round(r.items / r.batches)} items/batch)`, Math.round(r.items / r.seconds), Math.round(r.rollups / r.seconds), Math.round(r.rollups / r.projectedSeconds), Math.round(r.rollups / r.cloudCpuS), r.batches, Number(r.mbPerS.toFixed(1)), Number(r.seconds.toFixed(1)), r.load]);
    const e = await measure(db, 'events', gateways, eventBatches);
    table.push([`${label}, events (${EVENTS_PER_BATCH}/batch)`, Math.round(e.items / e.seconds), '-', '-', `${Math.round(e.items / e.cloudCpuS)} events`, e.batches, Number(e.mbPerS.toFixed(1)), Number(e.seconds.toFixed(1)), e.load]);
    Object.assign(figures, {
      [`items_per_s_${key}`]: Math.round(r.rollups / r.seconds),
      [`projected_items_per_s_${key}`]: Math.round(r.rollups / r.projectedSeconds),
      [`items_per_cloud_cpu_s_${key}`]: Math.round(r.rollups / r.cloudCpuS),
      [`events_per_cloud_cpu_s_${key}`]: Math.round(e.items / e.cloudCpuS),
      [`rollup_items_per_s_${key}`]: Math.round(r.items / r.seconds),
      [`events_per_s_${key}`]: Math.round(e.items / e.seconds),
      [`load_${key}`]: e.load,
    });
  };

  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-ingest-'));
  try {
    await runBoth(path.join(dir, 'cloud.db'), 'SQLite', 'sqlite');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pgTarget = await postgresSchema('bench_ingest');
  if ('unavailable' in pgTarget) {
    table.push([`PostgreSQL: not measured (${pgTarget.unavailable})`, '-', '-', '-', '-', '-', '-', '-', '-']);
    figures.postgres = pgTarget.unavailable;
  } else {
    try {
      await runBoth(pgTarget.url, 'PostgreSQL', 'postgres');
    } finally {
      await dropSchema(pgTarget.schema);
    }
  }
  return { table, figures };
}
