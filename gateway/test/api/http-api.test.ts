/**
 * The gateway's HTTP API answers health, metrics, devices, points, events and sync, and
 * refuses bad requests with a 4xx that names the problem.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';

const dir = mkdtempSync(path.join(tmpdir(), 'steward-api-'));
writeFileSync(
  path.join(dir, 'site.yaml'),
  `site: { id: api-site, name: API }
gateway: { dataDir: ./data }
devices:
  - id: pump-9
    profile: water/vfd-pump
    system: water
    enabled: false
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 }
`,
);

t.test('the API of a gateway without a cloud', async (t) => {
  const gw = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  gw.store.writeReadings('pump-9', [{ point: 'pump-9.outlet_pressure', ts: 1000, value: 3.2, quality: 'good' }]);
  gw.store.recordEvent({ ts: 1000, device: 'pump-9', type: 'device.offline', severity: 'major', body: {} });

  const get = async (p: string) => {
    const res = await fetch(`${gw.url}${p}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: res.headers.get('content-type')?.includes('json') ? ((await res.json()) as unknown) : await res.text() };
  };

  const health = await get('/healthz');
  t.equal(health.status, 200);
  t.match(health.body, { status: 'ok', site: 'api-site', devices: { disabled: 1 }, sync: { enabled: false } });

  const devices = await get('/api/v1/devices');
  t.match(devices.body, [{ id: 'pump-9', state: 'disabled', system: 'water', profile: 'water/vfd-pump', protocol: 'modbus-tcp' }]);

  const points = await get('/api/v1/points?device=pump-9');
  t.same(points.body, [{ id: 'pump-9.outlet_pressure', device: 'pump-9', point: 'outlet_pressure', value: 3.2, unit: 'bar', quality: 'good', ts: 1000 }]);

  const unknown = await get('/api/v1/points?device=nope');
  t.equal(unknown.status, 404);
  t.match(unknown.body, { code: 'GW_ERR_DEVICE_NOT_FOUND', message: /no device "nope"/ });

  const bad = await get('/api/v1/events?since=yesterday');
  t.equal(bad.status, 400);
  t.match(bad.body, { code: 'GW_ERR_HTTP_BAD_REQUEST', message: /since/ });

  const events = await get('/api/v1/events?type=device.*');
  t.match(events.body, [{ type: 'device.offline', device: 'pump-9', site: 'api-site' }]);

  const sync = await get('/api/v1/sync');
  t.match(sync.body, { enabled: false, online: false, lanes: { '0': { backlog: 0 }, '1': { backlog: 1 }, '2': { backlog: 0 } } });

  const metrics = await get('/metrics');
  t.match(metrics.type, /^text\/plain/);
  t.match(metrics.body, /# TYPE steward_device_state gauge\nsteward_device_state\{device="pump-9",state="connecting"\} 0/);
  t.match(metrics.body, /steward_sync_backlog_items\{lane="1"\} 1/);

  gw.store.writeReadings('pump-9', [1100, 1200, 61_000].map((ts, i) => ({ point: 'pump-9.outlet_pressure', ts, value: 3 + i / 10, quality: 'good' as const })));
  const raw = await get('/api/v1/points/pump-9.outlet_pressure/history?from=0&to=100000');
  t.match(raw.body, { id: 'pump-9.outlet_pressure', unit: 'bar', resolution: 'raw', samples: [{ ts: 1000, value: 3.2 }, { ts: 1100, value: 3 }, { ts: 1200, value: 3.1 }, { ts: 61_000, value: 3.2 }] });
  gw.maintenance.rollupStep(200_000);
  const minutes = await get('/api/v1/points/pump-9.outlet_pressure/history?from=0&to=100000&resolution=minute');
  t.match(minutes.body, { resolution: 'minute', rollups: [{ minute: 0, count: 3, min: 3, max: 3.2 }, { minute: 60_000, count: 1 }] });
  t.equal((await get('/api/v1/points/pump-9.nope/history')).status, 404);
  t.equal((await get('/api/v1/points/pump-9.outlet_pressure/history?from=5&to=1')).status, 400);

  const missing = await get('/nope');
  t.equal(missing.status, 404);
  t.match(missing.body, { code: 'GW_ERR_HTTP_NOT_FOUND' });
});
