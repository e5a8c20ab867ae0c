/**
 * The thin path end to end, with real processes' parts over real sockets: a simulated
 * VFD pump speaking Modbus TCP → the gateway polls it → SQLite → the uplink → the cloud
 * → visible over both HTTP APIs, within a few poll intervals.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, addUser, startCloud } from '../../cloud/src/index.js';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import { startSimulator } from '../../scripts/sim/sim.js';
import { until } from '../support/until.js';

interface Point {
  id: string;
  device: string;
  point: string;
  value: number | boolean | string | null;
  quality: string;
  ts: number;
}


function siteYaml(port: number, cloudUrl: string): string {
  return `site: { id: e2e-garden, name: E2E Garden }
gateway: { dataDir: ./gw-data, logLevel: silent }
cloud: { url: "${cloudUrl}", gatewayId: e2e-gw, enrolmentTokenEnv: E2E_TOKEN, snapshotIntervalMs: 200 }
devices:
  - id: pump-1
    profile: water/vfd-pump
    system: water
    pollIntervalMs: 200
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 500 }
`;
}

t.test('a pump reading reaches the gateway API and then the cloud API', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-e2e-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'e2e-garden', gateway: 'e2e-gw' });
  await addUser(cloud.app, { name: 'ops', password: 'correct horse battery', role: 'admin' });

  // The simulator on a free port, then the gateway's config pointed at it.
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, siteYaml(15999, cloud.url));
  const sim = await startSimulator(loadSiteConfig(file, { E2E_TOKEN: token }), { ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, siteYaml(sim.devices[0]!.port, cloud.url));
  const gw = await startGateway(loadSiteConfig(file, { E2E_TOKEN: token }), {
    httpPort: 0,
    log: createLogger({ level: 'silent' }),
    uplink: { idleMs: 50 },
  });
  t.teardown(() => gw.close());

  // 1. The gateway reads the pump: every point good, values in the profile's ranges.
  const points = await until('the gateway to read pump-1', async () => {
    const res = await fetch(`${gw.url}/api/v1/points?device=pump-1`);
    const list = (await res.json()) as Point[];
    return list.length === 14 && list.every((p) => p.quality === 'good') ? list : undefined;
  });
  const pressure = points.find((p) => p.point === 'outlet_pressure')!;
  t.type(pressure.value, 'number');
  t.ok((pressure.value as number) > 0 && (pressure.value as number) < 16, `outlet pressure ${String(pressure.value)} bar in range`);
  t.equal(points.find((p) => p.point === 'running')?.value, true, 'the pump runs');
  t.match(points.find((p) => p.point === 'frequency'), { unit: 'Hz' });

  const devices = (await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { id: string; state: string }[];
  t.match(devices, [{ id: 'pump-1', state: 'online' }]);

  // 2. The same readings arrive in the cloud, as the gateway stored them.
  const login = await fetch(`${cloud.url}/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'ops', password: 'correct horse battery' }),
  });
  t.equal(login.status, 200);
  const { token: session } = (await login.json()) as { token: string };
  const auth = { authorization: `Bearer ${session}` };

  const started = Date.now();
  const inCloud = await until('the cloud to have pump-1', async () => {
    const res = await fetch(`${cloud.url}/v1/sites/e2e-garden/points?device=pump-1`, { headers: auth });
    if (res.status !== 200) return undefined;
    const list = (await res.json()) as Point[];
    return list.length === 14 ? list : undefined;
  });
  t.comment(`cloud had all 14 points ${Date.now() - started} ms after the gateway did`);
  const cloudPressure = inCloud.find((p) => p.point === 'outlet_pressure')!;
  const [row] = gw.store.samples('pump-1.outlet_pressure', cloudPressure.ts, cloudPressure.ts + 1);
  t.ok(row !== undefined, 'the cloud value is one the gateway read');
  t.equal(cloudPressure.value, row?.value, 'and has the same value');
  t.equal(cloudPressure.quality, 'good');

  // 3. Both sides agree on what was acknowledged.
  const sync = (await (await fetch(`${gw.url}/api/v1/sync`)).json()) as { online: boolean; enrolled: boolean; lanes: Record<string, { ackedSeq: number }> };
  t.ok(sync.online && sync.enrolled, 'the gateway is enrolled and online');
  const status = (await (await fetch(`${cloud.url}/v1/gateways/e2e-gw`, { headers: auth })).json()) as { lanes: Record<string, { ackedSeq: number }> };
  t.ok(status.lanes['2']!.ackedSeq >= 1, 'telemetry lane acknowledged');
  t.ok(status.lanes['2']!.ackedSeq >= sync.lanes['2']!.ackedSeq, 'the cloud has at least what the gateway saw acknowledged');
});

t.test('a pump that goes away is reported offline, its points stale, and comes back by itself', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-e2e-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, siteYaml(15999, 'http://127.0.0.1:9').replace(/cloud:.*\n/, ''));
  let sim = await startSimulator(loadSiteConfig(file), { ports: { 'pump-1': 0 } });
  const port = sim.devices[0]!.port;
  writeFileSync(file, siteYaml(port, 'http://127.0.0.1:9').replace(/cloud:.*\n/, ''));
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }), backoff: { initialMs: 100, maxMs: 400 } });
  t.teardown(() => gw.close());
  const state = async () => ((await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { state: string }[])[0]!.state;

  await until('online', async () => ((await state()) === 'online' ? true : undefined));
  await sim.close();
  await until('offline', async () => ((await state()) === 'offline' ? true : undefined));
  // Readings are written on the next flush (gateway.store.flushIntervalMs) after the state changes.
  const points = await until('stale points', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/points?device=pump-1`)).json()) as Point[];
    return list.every((p) => p.quality === 'stale') ? list : undefined;
  }, 5000);
  t.ok(points.every((p) => p.quality === 'stale'), 'every point is stale');
  t.ok(points.every((p) => p.value !== null), 'stale points keep their last value');

  sim = await startSimulator(loadSiteConfig(file), { ports: { 'pump-1': port } });
  t.teardown(() => sim.close());
  await until('online again', async () => ((await state()) === 'online' ? true : undefined));
  const events = (await (await fetch(`${gw.url}/api/v1/events?type=device.*`)).json()) as { type: string }[];
  t.same(events.map((e) => e.type), ['device.online', 'device.offline'], 'offline then online, newest first');
});
