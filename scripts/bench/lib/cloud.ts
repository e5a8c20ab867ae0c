/**
 * Helpers shared by the `ingest` and `drain` benchmarks: a real cloud in a child process
 * (`node bin/steward.js cloud`), so that the load and the cloud do not share one event
 * loop; gateway registration; and a throwaway PostgreSQL schema.
 * In lib/ so that bench/run.ts does not list it as a benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { addGateway, openCloudDatabase } from '../../../cloud/src/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = path.join(root, 'bin/steward.js');

/** The benchmark database: PostgreSQL on loopback, trust authentication, database `test`. */
export const POSTGRES_URL = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A free TCP port on 127.0.0.1 (closed again before returning: there is a small race, fine for a benchmark). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** A cloud running in a child process. */
export interface CloudProcess {
  readonly url: string;
  readonly proc: ChildProcess;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/** Starts `steward cloud --port P --database D` and resolves when it listens. */
export async function startCloudProcess(database: string, port = 0): Promise<CloudProcess> {
  const p = port === 0 ? await freePort() : port;
  const proc = spawn(process.execPath, [bin, 'cloud', '--port', String(p), '--database', database, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('listening on')) {
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve();
      }
    };
    proc.stdout!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`steward cloud exited ${code}: ${err}${out}`)));
  });
  return {
    url: `http://127.0.0.1:${p}`,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Registers a gateway in the database (migrating it first) and returns its one-time enrolment token. */
export async function registerGateway(database: string, site: string, gateway: string): Promise<string> {
  const cdb = await openCloudDatabase(database);
  try {
    return await addGateway(cdb, { site, gateway });
  } finally {
    await cdb.close();
  }
}

/** Trades an enrolment token for the gateway's secret, over HTTP. */
export async function enrol(url: string, gateway: string, token: string): Promise<string> {
  const res = await fetch(`${url}/v1/gateways/${gateway}/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (!res.ok) throw new Error(`enrolment of ${gateway} failed: HTTP ${res.status} ${await res.text()}`);
  return ((await res.json()) as { secret: string }).secret;
}

/**
 * A fresh schema name in the benchmark database, or the reason PostgreSQL cannot be used
 * (the benchmark then reports it and leaves the figure out).
 */
export async function postgresSchema(prefix: string): Promise<{ url: string; schema: string } | { unavailable: string }> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    return { unavailable: `PostgreSQL at ${POSTGRES_URL} unreachable: ${(err as Error).message}` };
  } finally {
    await client.end().catch(() => undefined);
  }
  const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}`;
  return { url: `${POSTGRES_URL}?schema=${schema}`, schema };
}

/** Drops a benchmark schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/** The 1-minute load average, printed next to the figures: the machine may be shared with other work. */
export function loadAverage(): number {
  return Number((loadavg()[0] ?? 0).toFixed(2));
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
