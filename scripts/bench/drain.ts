/**
 * `npm run bench -- drain [--quick] [--points N] [--hours H] [--events E] [--batch-items N] [--backlog DIR]`
 *
 * Backlog drain: a gateway that was offline for 24 hours with 2,000 points holds 1-minute
 * roll-ups of each (2,880,000 roll-ups, queued by StoreMaintenance as `telemetry.rollup`
 * outbox items of 2,000 roll-ups — one minute of every point each) plus 10,000 events
 * (10 % alarms, lane 0; the rest lane 1). The real Uplink (gateway/src/sync/uplink.ts,
 * its default batch limits) then delivers it to a real cloud in a child process on
 * loopback: SQLite, then PostgreSQL. The clock runs from `uplink.start()` (enrolment
 * included) until every lane is acknowledged.
 *
 * The backlog is generated the way the gateway builds it, but fast: roll-up rows go
 * straight into the store's `rollups` table, then StoreMaintenance queues them hour by
 * hour exactly as it does after each complete minute. Generation is not timed.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SiteConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import type { Severity } from '../../gateway/src/core/model.js';
import { StoreMaintenance } from '../../gateway/src/store/maintenance.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import { Uplink } from '../../gateway/src/sync/uplink.js';
import { LANES } from '../../protocol/v1.js';
import { cpuSeconds, dropSchema, loadAverage, postgresSchema, registerGateway, startCloudProcess } from './lib/cloud.js';
import { watchProjection } from './lib/projected.js';
import type { BenchOptions, BenchResult } from './run.js';
import { createRng } from '../sim/models/prng.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const SITE = 'bench-site';
const GATEWAY = 'bench-gw';

/** Point names of the VFD pump profile: realistic ids (`pump-17.outlet_pressure`) make realistic item sizes. */
const PUMP_POINTS = ['outlet_pressure', 'flow', 'motor_current', 'frequency', 'bearing_temperature', 'vibration', 'run_hours', 'running', 'fault', 'remote_mode', 'fault_code', 'pressure_setpoint', 'energy', 'start_stop'];


interface Backlog {
  store: GatewayStore;
  dir: string;
  rollups: number;
  outboxItems: number;
  events: number;
  generateS: number;
  dbMb: number;
}

/** Builds the offline backlog in a fresh gateway store. */
function buildBacklog(points: number, hours: number, events: number, into?: string): Backlog {
  const started = Date.now();
  const dir = into ?? mkdtempSync(path.join(tmpdir(), 'steward-bench-drain-'));
  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: SITE });
  const db = store.db;
  const rng = createRng(7); // the simulator's mulberry32: the same backlog every run
  const rand = () => rng.next();
  const minutes = hours * 60;
  // The offline stretch ended a minute ago.
  const t0 = Math.floor(Date.now() / MINUTE) * MINUTE - minutes * MINUTE;

  const ids: number[] = [];
  const insertPoint = db.prepare('INSERT INTO points (name, device) VALUES (?, ?) RETURNING id');
  db.transaction(() => {
    for (let i = 0; i < points; i++) {
      const device = `pump-${Math.floor(i / PUMP_POINTS.length) + 1}`;
      ids.push((insertPoint.get(`${device}.${PUMP_POINTS[i % PUMP_POINTS.length]}`, device) as { id: number }).id);
    }
  })();

  // One roll-up per point and minute: 60 samples (1 s polling), values with the two
  // decimals of a scaled register, the average as long as a division makes it.
  const insertRollup = db.prepare('INSERT INTO rollups (point, minute, min, max, sum, count, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const base = ids.map(() => 1 + rand() * 50);
  for (let m = 0; m < minutes; m++) {
    const minute = t0 + m * MINUTE;
    db.transaction(() => {
      for (let i = 0; i < ids.length; i++) {
        const b = base[i]!;
        const min = Math.round((b - rand()) * 100) / 100;
        const max = Math.round((b + rand()) * 100) / 100;
        const sum = (min + max) * 30 + (rand() - 0.5) * 3;
        insertRollup.run(ids[i]!, minute, min, max, sum, 60, Math.round((min + (max - min) * rand()) * 100) / 100, minute + 59_000);
      }
    })();
  }

  // Queue them as the maintenance job does, an hour of complete minutes at a time.
  const maintenance = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 64 * 2 ** 30 });
  store.setState('rollup.queuedMinute', String(t0 - MINUTE));
  for (let h = 1; h <= hours; h++) maintenance.rollupStep(t0 + h * HOUR + 5_001);

  // The events of the stretch: every tenth an alarm (lane 0), the others lane 1.
  const types = ['device.offline', 'device.online', 'access.granted', 'access.denied'];
  for (let i = 0; i < events; i++) {
    const ts = t0 + Math.floor((i / events) * minutes * MINUTE);
    const device = `pump-${(i % Math.ceil(points / PUMP_POINTS.length)) + 1}`;
    const alarm = i % 10 === 0;
    const severity: Severity = alarm ? 'major' : 'info';
    store.recordEvent({
      ts,
      device,
      type: alarm ? 'alarm.raised' : types[i % types.length]!,
      severity,
      body: alarm ? { rule: 'outlet_pressure.low', value: Math.round(rand() * 100) / 100, threshold: 1.5 } : { reason: 'bench', n: i },
    });
  }
  const outboxItems = LANES.reduce((n: number, l) => n + store.lane(l).lastSeq, 0);
  const dbMb = Math.round(((db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number)) / 2 ** 20);
  return { store, dir, rollups: points * minutes, outboxItems, events, generateS: (Date.now() - started) / 1000, dbMb };
}

/** A backlog generated by an earlier run with `--backlog DIR`. */
function openBacklog(dir: string, points: number, hours: number, events: number): Backlog {
  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: SITE });
  const outboxItems = LANES.reduce((n: number, l) => n + store.lane(l).lastSeq, 0);
  const dbMb = Math.round(((store.db.pragma('page_count', { simple: true }) as number) * (store.db.pragma('page_size', { simple: true }) as number)) / 2 ** 20);
  return { store, dir, rollups: points * hours * 60, outboxItems, events, generateS: 0, dbMb };
}

interface DrainResult {
  /** Until every lane was acknowledged (the goal's figure). */
  seconds: number;
  /** Until the cloud had also projected every roll-up into its roll-up table (after the ack, sync/projector.ts). */
  projectedSeconds: number;
  /** CPU seconds until the acknowledgement: the cloud process, and this one (the gateway's store and uplink). On a shared machine these carry over better than the wall time. */
  cloudCpuS: number;
  gatewayCpuS: number;
  batches: number;
  failures: number;
  load: number;
}

/** Drains a copy of the backlog (the store file is copied, so each database gets the same one) to a cloud on `database`. */
async function drain(backlogDir: string, database: string, batchItems: number): Promise<DrainResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-drain-run-'));
  const gwDir = path.join(dir, 'gw');
  mkdirSync(gwDir);
  copyFileSync(path.join(backlogDir, 'gw', 'gateway.db'), path.join(gwDir, 'gateway.db'));
  const store = new GatewayStore({ dataDir: gwDir, site: SITE });
  const token = await registerGateway(database, SITE, GATEWAY);
  const watch = await watchProjection(database);
  const cloud = await startCloudProcess(database);
  const cfg: NonNullable<SiteConfig['cloud']> = {
    url: cloud.url,
    gatewayId: GATEWAY,
    enrolmentTokenValue: token,
    // The defaults of site.yaml, but for the batch size (the --batch-items option) and no snapshots during the run.
    snapshotIntervalMs: HOUR,
    batchMaxItems: batchItems,
    requestTimeoutMs: 15_000,
    downlinkWaitMs: 1000, maxClockSkewMs: 10_000,
  };
  const uplink = new Uplink({ store, cloud: cfg, site: SITE, dataDir: gwDir, log: createLogger({ level: 'silent' }), idleMs: 1000 });
  const target = LANES.map((l) => store.lane(l).lastSeq);
  try {
    const cloudCpu0 = cpuSeconds(cloud.proc.pid!);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    uplink.start();
    for (let n = 0; ; n++) {
      if (LANES.every((l, i) => store.lane(l).ackedSeq >= target[i]!)) break;
      // The full status counts each lane's backlog in the outbox: once a second, not every
      // 10 ms (it cost more CPU than the uplink itself and was counted as the gateway's).
      if (n % 100 === 99) {
        const s = uplink.status();
        if (s.lastError?.code === 'GW_ERR_SYNC_AUTH' || s.lastError?.code === 'GW_ERR_SYNC_REFUSED') throw new Error(`the uplink was refused: ${s.lastError.message}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const seconds = (performance.now() - t0) / 1000;
    const cloudCpuS = cpuSeconds(cloud.proc.pid!) - cloudCpu0;
    const own = process.cpuUsage(own0);
    const s = uplink.status();
    await uplink.stop();
    await watch.caughtUp();
    const projectedSeconds = (performance.now() - t0) / 1000;
    return { seconds, projectedSeconds, cloudCpuS: Number(cloudCpuS.toFixed(1)), gatewayCpuS: Number(((own.user + own.system) / 1e6).toFixed(1)), batches: s.counters.batches, failures: s.counters.failures, load: loadAverage() };
  } finally {
    await uplink.stop();
    store.close();
    await cloud.stop();
    await watch.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 2000);
  const hours = Number(options.args.hours ?? (options.quick ? 2 : 24));
  const events = Number(options.args.events ?? (options.quick ? 1000 : 10_000));
  const batchItems = Number(options.args['batch-items'] ?? 500);
  const loadBefore = loadAverage();
  // --backlog DIR: generate the backlog there once and reuse it on later runs (same options), kept afterwards.
  const keep = typeof options.args.backlog === 'string' ? path.resolve(options.args.backlog) : undefined;
  const reuse = keep !== undefined && existsSync(path.join(keep, 'gw', 'gateway.db'));
  if (keep !== undefined) mkdirSync(keep, { recursive: true });
  const backlog = reuse ? openBacklog(keep!, points, hours, events) : buildBacklog(points, hours, events, keep);
  backlog.store.close();
  const items = backlog.rollups + backlog.events;
  const label = `${points} points × ${hours} h of 1-minute roll-ups (${backlog.rollups.toLocaleString('en')}) + ${events.toLocaleString('en')} events = ${backlog.outboxItems.toLocaleString('en')} outbox items, ${backlog.dbMb} MB`;
  const table: (string | number)[][] = [['cloud database', 'drain s', 'projected s', 'roll-ups+events /s', 'cloud CPU s', 'gateway CPU s', 'batches', 'failures', 'load (1 min)']];
  const figures: Record<string, number | string | boolean> = { points, hours, items, rollups: backlog.rollups, events, outbox_items: backlog.outboxItems, batch_max_items: batchItems, generate_s: Number(backlog.generateS.toFixed(1)), load_before: loadBefore };
  try {
    const cloudDir = mkdtempSync(path.join(tmpdir(), 'steward-bench-drain-cloud-'));
    const sqlite = await drain(backlog.dir, path.join(cloudDir, 'cloud.db'), batchItems).finally(() => rmSync(cloudDir, { recursive: true, force: true }));
    table.push(['SQLite', Number(sqlite.seconds.toFixed(1)), Number(sqlite.projectedSeconds.toFixed(1)), Math.round(items / sqlite.seconds), sqlite.cloudCpuS, sqlite.gatewayCpuS, sqlite.batches, sqlite.failures, sqlite.load]);
    Object.assign(figures, { drain_s_sqlite: Number(sqlite.seconds.toFixed(2)), projected_s_sqlite: Number(sqlite.projectedSeconds.toFixed(2)), cloud_cpu_s_sqlite: sqlite.cloudCpuS, gateway_cpu_s_sqlite: sqlite.gatewayCpuS, batches_sqlite: sqlite.batches, failures_sqlite: sqlite.failures, load_sqlite: sqlite.load });

    const pgTarget = await postgresSchema('bench_drain');
    if ('unavailable' in pgTarget) {
      table.push([`PostgreSQL: not measured (${pgTarget.unavailable})`, '-', '-', '-', '-', '-', '-', '-', '-']);
      figures.postgres = pgTarget.unavailable;
    } else {
      try {
        const p = await drain(backlog.dir, pgTarget.url, batchItems);
        table.push(['PostgreSQL', Number(p.seconds.toFixed(1)), Number(p.projectedSeconds.toFixed(1)), Math.round(items / p.seconds), p.cloudCpuS, p.gatewayCpuS, p.batches, p.failures, p.load]);
        Object.assign(figures, { drain_s_postgres: Number(p.seconds.toFixed(2)), projected_s_postgres: Number(p.projectedSeconds.toFixed(2)), cloud_cpu_s_postgres: p.cloudCpuS, gateway_cpu_s_postgres: p.gatewayCpuS, batches_postgres: p.batches, failures_postgres: p.failures, load_postgres: p.load });
      } finally {
        await dropSchema(pgTarget.schema);
      }
    }
  } finally {
    if (keep === undefined) rmSync(backlog.dir, { recursive: true, force: true });
  }
  table.push([label, '', '', '', '', '', '', '', '']);
  return { table, figures };
}
