/**
 * What the company dashboard reads beyond the other routes: sites with region and position
 * (`GET /v1/sites`), every site's KPI totals in one request (`GET /v1/kpis/sites`), and the
 * map grid that places sites by their coordinates.
 */
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import { byRegion, layoutGrid } from '../../dashboard/src/map.js';
import { batchOf, enrolledGateway, eventItem, postBatch, testCloud, userWith } from '../fixtures/cloud.js';

t.test('GET /v1/sites: region and position where set, nothing more where not', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  await enrolledGateway(app, 's2', 'gw-2');
  const admin = await userWith(app, 'root', 'admin');
  t.equal((await app.inject({ method: 'PUT', url: '/v1/regions/east', headers: admin, payload: { name: 'East' } })).statusCode, 204);
  t.equal((await app.inject({ method: 'PATCH', url: '/v1/sites/s1', headers: admin, payload: { region: 'east', lat: 31.2, lon: 121.5 } })).statusCode, 204);
  const sites = (await app.inject({ url: '/v1/sites', headers: admin })).json();
  t.same(sites, [
    { id: 's1', name: 's1', gateways: ['gw-1'], region: 'east', regionName: 'East', lat: 31.2, lon: 121.5 },
    { id: 's2', name: 's2', gateways: ['gw-2'] },
  ]);
  const viewer = await userWith(app, 'v', 'viewer', ['s2']);
  t.same((await app.inject({ url: '/v1/sites', headers: viewer })).json(), [{ id: 's2', name: 's2', gateways: ['gw-2'] }], 'a scoped user sees its sites only');
});

t.test('GET /v1/kpis/sites: each site’s totals, in scope', async (t) => {
  const app = await testCloud(t);
  const gw1 = await enrolledGateway(app, 's1', 'gw-1');
  await enrolledGateway(app, 's2', 'gw-2');
  const admin = await userWith(app, 'root', 'admin');
  const now = Date.now();
  const t0 = now - 3 * 3600_000;
  const wo = await app.inject({ method: 'POST', url: '/v1/work-orders', headers: admin, payload: { site: 's1', title: 'a', category: 'general', priority: 'P3' } });
  const id = wo.json().workOrder.id as string;
  for (const [op, data] of [['assign', { assignee: 'x' }], ['start', {}], ['resolve', { resolution: 'done' }]] as const) await app.inject({ method: 'POST', url: `/v1/work-orders/${id}/ops`, headers: admin, payload: { op, data } });
  await app.inject({ method: 'POST', url: '/v1/work-orders', headers: admin, payload: { site: 's2', title: 'b', category: 'general', priority: 'P3' } });
  const r = await postBatch(
    app,
    gw1,
    batchOf(gw1, [
      eventItem(1, 's1', { type: 'alarm.raised', severity: 'major', device: 'pump-1', ts: t0, body: { rule: 'low_pressure' } }),
      eventItem(1, 's1', { type: 'device.offline', severity: 'major', device: 'elev-1', ts: t0 }),
      eventItem(2, 's1', { type: 'device.online', severity: 'info', device: 'elev-1', ts: t0 + 3600_000 }),
      eventItem(3, 's1', { type: 'device.online', severity: 'info', device: 'pump-1', ts: t0 }),
      { lane: 2, seq: 1, id: uuidv7(), kind: 'telemetry.rollup', ts: t0, body: { rollups: [{ id: 'meter-1.energy', minute: t0, min: 10, max: 11, avg: 10.5, count: 60, last: 11 }, { id: 'meter-1.energy', minute: t0 + 60_000, min: 11, max: 15, avg: 13, count: 60, last: 15 }] } },
    ]),
  );
  t.equal(r.statusCode, 200, r.body);
  const res = await app.inject({ url: '/v1/kpis/sites', headers: admin });
  t.equal(res.statusCode, 200, res.body);
  const [s1, s2] = res.json() as Record<string, unknown>[];
  t.match(s1, { site: 's1', created: 1, resolved: 1, alarms: 1, energyKwh: 5, slaResolveCompliance: 1 });
  t.type(s1!.resolveP50Ms, 'number');
  // elev-1 offline one hour of 30 days, pump-1 never: the mean of the two.
  const range = 30 * 86_400_000;
  t.ok(Math.abs((s1!.availability as number) - (1 - 3600_000 / range + 1) / 2) < 1e-3, `mean availability ${String(s1!.availability)}`);
  t.match(s2, { site: 's2', created: 1, resolved: 0, alarms: 0, energyKwh: null, availability: null, responseP50Ms: null });
  const viewer = await userWith(app, 'v', 'viewer', ['s2']);
  t.same(
    ((await app.inject({ url: '/v1/kpis/sites', headers: viewer })).json() as { site: string }[]).map((s) => s.site),
    ['s2'],
    'a scoped user sees its sites only',
  );
  t.equal((await app.inject({ url: `/v1/kpis/sites?from=${now}&to=${now - 1}`, headers: admin })).statusCode, 400);
  t.equal((await app.inject({ url: '/v1/kpis/sites' })).statusCode, 401);
});

t.test('the map grid: north up, east right, one site per cell', async (t) => {
  const sites = [
    { id: 'beijing', lat: 39.9, lon: 116.4 },
    { id: 'shanghai', lat: 31.23, lon: 121.47 },
    { id: 'shanghai-2', lat: 31.2, lon: 121.44 },
    { id: 'shenzhen', lat: 22.54, lon: 114.06 },
    { id: 'chengdu' },
  ];
  const g = layoutGrid(sites);
  t.same(g.unplaced.map((s) => s.id), ['chengdu'], 'a site without coordinates is not placed');
  const at = new Map(g.cells.map((c) => [c.item.id, c]));
  t.equal(at.size, 4);
  t.equal(new Set(g.cells.map((c) => `${c.col},${c.row}`)).size, 4, 'no two sites share a cell');
  for (const c of g.cells) t.ok(c.col >= 0 && c.col < g.cols && c.row >= 0 && c.row < g.rows, `${c.item.id} inside the grid`);
  t.ok(at.get('beijing')!.row < at.get('shanghai')!.row && at.get('shanghai')!.row < at.get('shenzhen')!.row, 'north to south');
  t.ok(at.get('shanghai')!.col > at.get('shenzhen')!.col, 'Shanghai east of Shenzhen');
  t.ok(Math.abs(at.get('shanghai')!.row - at.get('shanghai-2')!.row) + Math.abs(at.get('shanghai')!.col - at.get('shanghai-2')!.col) === 1, 'two sites in one city end up side by side');
  t.same(layoutGrid(sites), g, 'deterministic');
  const many = Array.from({ length: 300 }, (_, i) => ({ id: `s${i}`, lat: 30 + (i % 7) * 0.01, lon: 120 + (i % 5) * 0.01 }));
  const big = layoutGrid(many, 10);
  t.equal(big.cells.length, 300);
  t.equal(new Set(big.cells.map((c) => `${c.col},${c.row}`)).size, 300, '300 sites in a few streets: still one per cell');
  t.ok(big.cols <= 10);
  t.same(layoutGrid([{ id: 'x' }]), { cols: 0, rows: 0, cells: [], unplaced: [{ id: 'x' }] });
});

t.test('sites by region: named regions in order, the rest last', async (t) => {
  const groups = byRegion([
    { name: 'a', region: 'n', regionName: 'North' },
    { name: 'b' },
    { name: 'c', region: 'e', regionName: 'East' },
    { name: 'd', region: 'n', regionName: 'North' },
  ]);
  t.same(
    groups.map((g) => [g.name, g.sites.map((s) => s.name)]),
    [
      ['East', ['c']],
      ['North', ['a', 'd']],
      [null, ['b']],
    ],
  );
});
