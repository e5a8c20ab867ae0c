/**
 * `steward gateway --config site.yaml` as an operator runs it: refuses a bad config with
 * exit 1 and the problem named; runs, polls, and on SIGTERM stops cleanly (exit 0) with
 * the database closed and checkpointed, keeping what it stored.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { loadSiteConfig } from '../gateway/src/config.js';
import { startSimulator } from '../scripts/sim/sim.js';
import { until } from './support/until.js';

const bin = path.resolve('bin/steward.js');

function start(args: string[]) {
  const proc = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, out: () => out, err: () => err };
}


t.test('a bad config: exit 1 naming the problem, nothing started', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-gw-cli-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, 'site: { id: s1, name: S }\ndevices:\n  - { id: p1, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: "50x" } }\n');
  const gw = start(['gateway', '--config', file]);
  t.equal(await gw.exited, 1);
  t.match(gw.err(), /site\.yaml: devices\[0\]\.connection\.port: must be an integer 1–65535, got "50x"/);
  t.notOk(existsSync(path.join(dir, 'data')), 'no data folder was created');
});

t.test('runs, polls, and stops cleanly on SIGTERM', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-gw-cli-'));
  const file = path.join(dir, 'site.yaml');
  const yaml = (port: number) =>
    `site: { id: s1, name: S }\ngateway: { http: { port: 0 }, dataDir: ./data, logLevel: warn }\ndevices:\n  - { id: p1, profile: water/vfd-pump, system: water, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }\n`;
  writeFileSync(file, yaml(1));
  const sim = await startSimulator(loadSiteConfig(file), { ports: { p1: 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, yaml(sim.devices[0]!.port));

  const gw = start(['gateway', '--config', file]);
  t.teardown(() => gw.proc.kill('SIGKILL'));
  await until('the API address', () => /API (http:\/\/\S+)/.test(gw.out()));
  const url = /API (http:\/\/\S+)/.exec(gw.out())![1]!;
  await until('points read', async () => {
    const list = (await (await fetch(`${url}/api/v1/points?device=p1`)).json()) as unknown[];
    return list.length > 0;
  });
  gw.proc.kill('SIGTERM');
  t.equal(await gw.exited, 0, 'exit 0');
  const dbFile = path.join(dir, 'data', 'gateway.db');
  const wal = `${dbFile}-wal`;
  t.ok(!existsSync(wal) || statSync(wal).size === 0, 'the WAL was checkpointed into the database');
  const db = new Database(dbFile, { readonly: true });
  const { n } = db.prepare('SELECT COUNT(*) AS n FROM latest').get() as { n: number };
  db.close();
  t.equal(n, 14, 'what it read is in the database');
});
