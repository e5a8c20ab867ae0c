/**
 * gateway.http.readAccess: `open` (the default) answers reads without a login; `login`
 * wants a viewer's token for every read under /api/v1 — in the Authorization header, or
 * as `?access_token=` for the two reads a browser makes without headers of its own (the
 * live stream and camera pictures). Health and metrics stay open for monitoring.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';

const site = (readAccess: string | undefined) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-read-access-'));
  writeFileSync(
    path.join(dir, 'site.yaml'),
    `site: { id: ra-site, name: RA }
gateway: { dataDir: ./data${readAccess === undefined ? '' : `, http: { readAccess: ${readAccess} }`} }
users:
  - { name: watcher, role: viewer, passwordEnv: VIEW_PW }
devices:
  - { id: pump-9, profile: water/vfd-pump, system: water, enabled: false, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
`,
  );
  return path.join(dir, 'site.yaml');
};
const env = { VIEW_PW: 'view-pass' };

t.test('readAccess: login — every read needs a token; health and metrics do not', async (t) => {
  const gw = await startGateway(loadSiteConfig(site('login'), env), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  gw.store.writeReadings('pump-9', [{ point: 'pump-9.outlet_pressure', ts: 1000, value: 3.2, quality: 'good' }]);
  const get = (p: string, headers: Record<string, string> = {}) => fetch(`${gw.url}${p}`, { headers, signal: AbortSignal.timeout(10_000) });

  for (const p of ['/api/v1/devices', '/api/v1/points?device=pump-9', '/api/v1/events', '/api/v1/alarms', '/api/v1/work-orders', '/api/v1/sync', '/api/v1/live', '/api/v1/points/pump-9.outlet_pressure/history']) {
    const res = await get(p);
    t.equal(res.status, 401, `${p} without a token: 401`);
    t.match(await res.json(), { code: 'GW_ERR_AUTH_REQUIRED', message: /POST \/api\/v1\/auth\/login/ });
  }
  t.equal((await get('/healthz')).status, 200, 'health stays open');
  t.equal((await get('/metrics')).status, 200, 'metrics stay open');

  const login = await fetch(`${gw.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'watcher', password: 'view-pass' }) });
  t.equal(login.status, 200, 'the login itself needs no token');
  const { token } = (await login.json()) as { token: string };
  const points = await get('/api/v1/points?device=pump-9', { authorization: `Bearer ${token}` });
  t.equal(points.status, 200, 'a viewer reads');
  t.match(await points.json(), [{ id: 'pump-9.outlet_pressure', value: 3.2 }]);
  t.equal((await get('/api/v1/devices', { authorization: 'Bearer sgw_forged.token' })).status, 401, 'a forged token is refused');

  t.equal((await get(`/api/v1/points?device=pump-9&access_token=${encodeURIComponent(token)}`)).status, 401, 'a token in the query is not taken for ordinary reads');
  const stream = await get(`/api/v1/live?access_token=${encodeURIComponent(token)}`);
  t.equal(stream.status, 200, 'the live stream takes the token in the query (EventSource sends no headers)');
  t.match(stream.headers.get('content-type'), /text\/event-stream/);
  await stream.body?.cancel();
  t.equal((await get('/api/v1/live?access_token=nope')).status, 401, 'but not a bad one');
  t.equal((await get(`/api/v1/snapshots/pump-9/none.jpg?access_token=${encodeURIComponent(token)}`)).status, 404, 'a camera picture with the token in the query gets past the login (and there is no such picture)');
  t.equal((await get('/api/v1/snapshots/pump-9/none.jpg')).status, 401, 'a camera picture without a token does not');
});

t.test('readAccess: open (the default) — reads need no login, writes still do', async (t) => {
  const gw = await startGateway(loadSiteConfig(site(undefined), env), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  t.equal(gw.config.gateway.http.readAccess, 'open');
  t.equal((await fetch(`${gw.url}/api/v1/devices`)).status, 200);
  const write = await fetch(`${gw.url}/api/v1/points/pump-9.speed_setpoint/write`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: 40 }) });
  t.equal(write.status, 401);
});

t.test('a bad readAccess is a config error naming the key', async (t) => {
  t.throws(() => loadSiteConfig(site('sometimes'), env), /readAccess/);
});
