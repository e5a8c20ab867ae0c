/**
 * Fleet configuration end to end: `steward gateway --config site.yaml` (a real process)
 * enrolled with a real cloud. An admin releases a new site.yaml that adds a device with a
 * profile delivered in the same release; the gateway checks the whole, installs it,
 * restarts on it, polls the new device, and reports `applied`. A release whose site config
 * is wrong is reported `failed` with the reason, and the gateway goes on as it was.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, addUser, startCloud } from '../../cloud/src/index.js';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { startSimulator } from '../../scripts/sim/sim.js';
import { freePort } from '../support/ports.js';
import { until } from '../support/until.js';

t.setTimeout(180_000);
const bin = path.resolve(import.meta.dirname, '../../bin/steward.js');

t.test('a released site config with a new profile is installed, restarted on, and reported applied; a bad one is refused', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-fleet-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'fleet-site', gateway: 'fleet-gw' });
  await addUser(cloud.app, { name: 'root', password: 'fleet-test-pass', role: 'admin' });
  const login = (await (await fetch(`${cloud.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'root', password: 'fleet-test-pass' }) })).json()) as { token: string };
  const admin = { authorization: `Bearer ${login.token}`, 'content-type': 'application/json' };

  // Two simulated pumps; the gateway starts with one.
  const file = path.join(dir, 'site.yaml');
  const head = `site: { id: fleet-site, name: Fleet }
gateway: { dataDir: ./gw, logLevel: warn }
cloud: { url: "${cloud.url}", gatewayId: fleet-gw, enrolmentTokenEnv: FLEET_TOKEN, downlinkWaitMs: 1000, requestTimeoutMs: 2000 }
devices:
`;
  const pump = (id: string, port: number, profile = 'water/vfd-pump') =>
    `  - { id: ${id}, profile: ${profile}, system: water, pollIntervalMs: 200, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }\n`;
  writeFileSync(file, head + pump('pump-1', 1) + pump('pump-2', 1));
  const sim = await startSimulator(loadSiteConfig(file, { FLEET_TOKEN: token }), { ports: { 'pump-1': 0, 'pump-2': 0 } });
  t.teardown(() => sim.close());
  const portOf = (id: string) => sim.devices.find((d) => d.id === id)!.port;
  writeFileSync(file, head + pump('pump-1', portOf('pump-1')));

  const httpPort = await freePort();
  const gw: ChildProcess = spawn(process.execPath, [bin, 'gateway', '--config', file, '--port', String(httpPort)], { env: { ...process.env, FLEET_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  gw.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  gw.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  t.teardown(() => {
    gw.kill('SIGKILL');
  });
  const api = `http://127.0.0.1:${httpPort}`;
  const devices = async () => {
    try {
      return ((await (await fetch(`${api}/api/v1/devices`)).json()) as { id: string; state: string }[]).map((d) => `${d.id}:${d.state}`);
    } catch {
      return [];
    }
  };
  await until('pump-1 online', async () => (await devices()).includes('pump-1:online'), 60_000, 200);

  // The profile a technician made for this pump (the bundled one under another id), and the site with pump-2 on it.
  const profile = readFileSync(path.resolve(import.meta.dirname, '../../device-profiles/water/vfd-pump.yaml'), 'utf8').replace(/^id: .*$/m, 'id: acme/booster-pump');
  const release = async (parts: Record<string, string>) => {
    const r = await fetch(`${cloud.url}/v1/config/releases`, { method: 'POST', headers: admin, body: JSON.stringify({ parts }) });
    t.equal(r.status, 201, 'released');
    const { version } = (await r.json()) as { version: number };
    const rollout = await fetch(`${cloud.url}/v1/config/releases/${version}/rollout`, { method: 'POST', headers: admin, body: JSON.stringify({ gateways: ['fleet-gw'] }) });
    t.equal(rollout.status, 200);
    return version;
  };
  const status = async () => ((await (await fetch(`${cloud.url}/v1/gateways/fleet-gw`, { headers: admin })).json()) as { config: { appliedVersion: number | null; appliedStatus: string | null; appliedError: string | null } }).config;

  const v1 = await release({ site: head + pump('pump-1', portOf('pump-1')) + pump('pump-2', portOf('pump-2'), 'acme/booster-pump'), 'profiles/acme/booster-pump': profile });
  const applied = await until('the cloud sees v1 applied', async () => {
    const c = await status();
    return c.appliedVersion === v1 ? c : undefined;
  }, 90_000, 300);
  t.match(applied, { appliedStatus: 'applied', appliedError: null }, 'reported applied');
  await until('pump-2 online after the restart', async () => (await devices()).includes('pump-2:online'), 60_000, 200);
  t.match(out, /restarting on .*desired config v1/, 'the gateway restarted on it');
  t.match(readFileSync(file, 'utf8'), /acme\/booster-pump/, 'site.yaml is the new one');
  t.ok(existsSync(`${file}.previous`), 'the previous site.yaml is kept');
  t.ok(existsSync(path.join(dir, 'gw', 'config', 'profiles', 'acme', 'booster-pump.yaml')), 'the delivered profile is installed with the fleet profiles');

  // A site config naming a profile nobody delivered: refused as a whole, nothing changes.
  const before = readFileSync(file, 'utf8');
  const v2 = await release({ site: head + pump('pump-1', portOf('pump-1')) + pump('pump-3', portOf('pump-2'), 'acme/no-such-pump') });
  const failed = await until('the cloud sees v2 failed', async () => {
    const c = await status();
    return c.appliedVersion === v2 ? c : undefined;
  }, 90_000, 300);
  t.equal(failed.appliedStatus, 'failed');
  t.match(failed.appliedError, /acme\/no-such-pump/, `the reason names the missing profile: ${failed.appliedError}`);
  t.equal(readFileSync(file, 'utf8'), before, 'site.yaml untouched');
  t.same((await devices()).sort(), ['pump-1:online', 'pump-2:online'], 'the gateway goes on as it was');

  gw.kill('SIGTERM');
  t.equal(await new Promise((r) => gw.once('exit', (code) => r(code))), 0, 'a clean stop after a restart');
});
