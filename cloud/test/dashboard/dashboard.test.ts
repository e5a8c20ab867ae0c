/**
 * The company dashboard (issue 8) in headless Chromium against a real cloud: served at
 * /dashboard/, a person signs in and sees the sites on the map grid (placed by their
 * coordinates, north up; a site without coordinates under its region) and on the list,
 * each with its gateway's health, open alarms and open work orders; company figures;
 * switches language; drills down into a site: its KPIs as charts, its open alarms and its
 * work orders. Also: both dictionaries have the same keys.
 *
 * `STEWARD_SCREENSHOTS=docs/screenshots npx tap cloud/test/dashboard/dashboard.test.ts`
 * also saves dashboard.png (map, Chinese) and dashboard-site.png (a site, English).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { uuidv7 } from '../../../protocol/uuid.js';
import { addGateway, addUser, startCloud } from '../../src/index.js';
import { DASHBOARD_DIST } from '../../src/plugins/dashboard.js';
import { en } from '../../dashboard/src/en.js';
import { zhCN } from '../../dashboard/src/zh-CN.js';
import { batchOf, enrolledGateway, eventItem, postBatch } from '../fixtures/cloud.js';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = process.env.STEWARD_SCREENSHOTS;

t.test('both dictionaries have the same keys, none empty', async (t) => {
  t.same(Object.keys(zhCN).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(zhCN)) t.ok(v.trim() !== '', `${k} is translated`);
});

t.test('the dashboard in a browser', { skip: existsSync(CHROMIUM) ? false : 'no /usr/bin/chromium' }, async (t) => {
  if (!existsSync(`${DASHBOARD_DIST}/index.html`)) await build({ root: new URL('../../dashboard/', import.meta.url).pathname, logLevel: 'warn' });
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-dashboard-'));
  const cloud = await startCloud({ host: '127.0.0.1', port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const app = cloud.app;
  await addUser(cloud.app, { name: 'boss', password: 'correct horse battery', role: 'admin' });
  const { token } = (await (await fetch(`${cloud.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boss', password: 'correct horse battery' }) })).json()) as { token: string };
  const admin = { authorization: `Bearer ${token}` };
  const call = async (method: string, url: string, payload?: unknown) => {
    const r = await app.inject({ method: method as 'POST', url, headers: admin, ...(payload === undefined ? {} : { payload: payload as object }) });
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.statusCode === 204 ? null : (r.json() as Record<string, unknown>);
  };

  // Two regions; three sites with coordinates (Shanghai, Hangzhou, Beijing), one without.
  await call('PUT', '/v1/regions/east', { name: '华东 East' });
  await call('PUT', '/v1/regions/north', { name: '华北 North' });
  const gw1 = await enrolledGateway(app, 'garden-1', 'gw-1');
  const gw2 = await enrolledGateway(app, 'garden-2', 'gw-2');
  const gw3 = await enrolledGateway(app, 'garden-3', 'gw-3');
  await addGateway(cloud.app, { site: 'garden-4', gateway: 'gw-4', siteName: '四号花园 Garden 4' });
  await call('PATCH', '/v1/sites/garden-1', { name: '一号花园 Garden 1', region: 'east', lat: 31.23, lon: 121.47 });
  await call('PATCH', '/v1/sites/garden-2', { name: '二号花园 Garden 2', region: 'east', lat: 30.27, lon: 120.15 });
  await call('PATCH', '/v1/sites/garden-3', { name: '三号花园 Garden 3', region: 'north', lat: 39.9, lon: 116.4 });
  await call('PATCH', '/v1/sites/garden-4', { region: 'north' });

  // garden-1: an unacknowledged alarm, a device offline for 6 minutes, an energy meter; garden-3: an acknowledged one.
  const now = Date.now();
  const t0 = now - 3600_000;
  const r1 = await postBatch(
    app,
    gw1,
    batchOf(gw1, [
      eventItem(1, 'garden-1', { type: 'alarm.raised', severity: 'major', device: 'pump-1', ts: t0, body: { rule: 'low_pressure', system: 'water', message: 'Outlet pressure low' } }),
      eventItem(1, 'garden-1', { type: 'device.offline', severity: 'major', device: 'elev-1', ts: t0 }),
      eventItem(2, 'garden-1', { type: 'device.online', severity: 'info', device: 'elev-1', ts: t0 + 360_000 }),
      { lane: 2, seq: 1, id: uuidv7(), kind: 'telemetry.rollup', ts: t0, body: { rollups: [{ id: 'meter-1.energy', minute: t0, min: 100, max: 101, avg: 100.5, count: 60, last: 101 }, { id: 'meter-1.energy', minute: t0 + 60_000, min: 101, max: 142, avg: 120, count: 60, last: 142 }] } },
    ]),
  );
  t.equal(r1.statusCode, 200, r1.body);
  t.equal((await postBatch(app, gw2, batchOf(gw2, [eventItem(1, 'garden-2', { type: 'device.online', device: 'pump-1', ts: t0 })]))).statusCode, 200);
  const r3 = await postBatch(
    app,
    gw3,
    batchOf(gw3, [
      eventItem(1, 'garden-3', { type: 'alarm.raised', severity: 'minor', device: 'fan-2', ts: t0, body: { rule: 'high_temp', system: 'hvac' } }),
      eventItem(2, 'garden-3', { type: 'alarm.acked', severity: 'minor', device: 'fan-2', ts: t0 + 60_000, body: { rule: 'high_temp', system: 'hvac', note: 'seen' } }),
    ]),
  );
  t.equal(r3.statusCode, 200, r3.body);

  // garden-1: one open work order, one resolved (so response and resolution times exist).
  await call('POST', '/v1/work-orders', { site: 'garden-1', title: 'Lift 3 door sensor', category: 'elevator', priority: 'P2' });
  const done = (await call('POST', '/v1/work-orders', { site: 'garden-1', title: 'Pump 1 seal', category: 'plumbing', priority: 'P3' }))!.workOrder as { id: string };
  for (const [op, data] of [['assign', { assignee: 'wang' }], ['start', {}], ['resolve', { resolution: 'replaced' }]] as const) await call('POST', `/v1/work-orders/${done.id}/ops`, { op, data });

  const redirect = await fetch(`${cloud.url}/dashboard`, { redirect: 'manual' });
  t.equal(redirect.headers.get('location'), '/dashboard/');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext({ locale: 'en', viewport: { width: 1440, height: 900 } })).newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${cloud.url}/dashboard/`);
  await page.getByLabel('User name').fill('boss');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();

  // The map grid: three sites placed by their coordinates, the fourth under its region.
  await page.locator('.map [data-site="garden-1"]').waitFor();
  t.equal(await page.locator('.map [data-site]').count(), 3, 'three sites with coordinates on the map grid');
  t.equal(await page.locator('[data-region="north"] [data-site="garden-4"]').count(), 1, 'the site without coordinates is listed under its region');
  const cell = async (site: string) =>
    page.locator(`.map li:has([data-site="${site}"])`).evaluate((li) => {
      const style = (li as unknown as { style: { gridColumnStart: string; gridRowStart: string } }).style;
      return { col: Number(style.gridColumnStart), row: Number(style.gridRowStart) };
    });
  const [shanghai, hangzhou, beijing] = [await cell('garden-1'), await cell('garden-2'), await cell('garden-3')];
  t.ok(beijing.row < shanghai.row && beijing.row < hangzhou.row, 'Beijing (north) is above Shanghai and Hangzhou');
  t.ok(hangzhou.row > shanghai.row || hangzhou.row === shanghai.row, 'Hangzhou is not above Shanghai');
  t.ok(shanghai.col >= hangzhou.col && hangzhou.col >= beijing.col && shanghai.col > beijing.col, 'west to east: Beijing, Hangzhou, Shanghai');

  const health = (site: string) => page.locator(`[data-site="${site}"]`).getAttribute('data-health');
  t.equal(await health('garden-1'), 'alarm', 'an unacknowledged alarm makes a site red');
  t.equal(await health('garden-2'), 'ok');
  t.equal(await health('garden-3'), 'warn', 'an acknowledged, still active alarm: amber');
  t.equal(await health('garden-4'), 'offline', 'a gateway that never connected');
  t.match(await page.locator('[data-site="garden-4"]').textContent(), /never connected/);
  t.match(await page.locator('[data-site="garden-1"] [data-count="alarms"]').textContent(), /^1 open alarms/);
  t.match(await page.locator('[data-site="garden-1"] [data-count="work-orders"]').textContent(), /^1 open work orders/);
  t.match(await page.locator('[data-site="garden-1"]').textContent(), /online · last sync/);
  t.match(await page.locator('.kpi', { hasText: 'Open work orders' }).textContent(), /1/);
  t.match(await page.locator('.kpi', { hasText: 'Open alarms' }).textContent(), /2/);
  t.ok(await page.locator('[data-chart="Response time, p50 and p90"] svg circle').count() > 0, 'the company response-time chart has points');
  t.match(await page.locator('[data-chart="Resolved within SLA by site (lowest first)"]').textContent(), /Garden 1/, 'sites compared');

  // The list: every site, sortable.
  await page.getByRole('button', { name: 'List', exact: true }).click();
  await page.locator('table.site-list').waitFor();
  t.equal(await page.locator('table.site-list tbody tr').count(), 4, 'all four sites on the list');
  t.equal(await page.locator('table.site-list tbody tr').first().getAttribute('data-site-row'), 'garden-1', 'most open alarms first');
  await page.getByRole('button', { name: 'Sort by Open work orders' }).click();
  const order = () => page.locator('table.site-list tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-site-row')));
  t.equal((await order())[0], 'garden-1', 'by open work orders, most first');
  await page.getByRole('button', { name: 'Sort by Open work orders' }).click();
  t.equal((await order())[3], 'garden-1', 'and the other way round');
  await page.getByRole('button', { name: 'Map', exact: true }).click();

  await page.getByRole('button', { name: 'Switch language to Chinese' }).click();
  await page.getByText('未完成工单').first().waitFor();
  t.match(await page.locator('[data-site="garden-1"] [data-count="alarms"]').textContent(), /1 未消除报警/);
  if (SHOTS !== undefined) await page.screenshot({ path: path.join(SHOTS, 'dashboard.png'), fullPage: true });

  // Drill down: the site's KPIs, open alarms and work orders.
  await page.getByRole('button', { name: '切换为英文' }).click();
  await page.locator('.map [data-site="garden-1"]').click();
  await page.getByRole('heading', { name: /Garden 1/ }).waitFor();
  await page.locator('table.open-alarms').waitFor();
  t.match(await page.locator('table.open-alarms').textContent(), /low_pressure.*pump-1/, 'its open alarm');
  t.match(await page.locator('table.open-alarms').textContent(), /unacknowledged/);
  t.ok(await page.getByRole('row', { name: /Lift 3 door sensor/ }).isVisible(), 'its open work order');
  t.equal(await page.getByRole('row', { name: /Pump 1 seal/ }).count(), 0, 'resolved work orders hidden by default');
  await page.getByRole('button', { name: 'All', exact: true }).click();
  t.ok(await page.getByRole('row', { name: /Pump 1 seal/ }).isVisible(), 'and shown with All');
  t.match(await page.locator('.kpi', { hasText: 'Time to resolve p50' }).textContent(), /min/, 'its time to resolve');
  t.match(await page.locator('.kpi', { hasText: 'Resolved within SLA' }).textContent(), /100 %/);
  t.match(await page.locator('.kpi', { hasText: 'Energy (30 d)' }).textContent(), /42 kWh/);
  t.ok(await page.locator('[data-chart="Time to resolve, p50 and p90"] svg circle').count() > 0, 'resolution-time chart');
  t.ok(await page.locator('[data-chart="Energy per day, kWh"] svg rect').count() > 0, 'energy chart');
  t.match(await page.locator('[data-chart="Availability by device (worst 10)"]').textContent(), /elev-1/, 'availability by device');
  t.match(await page.locator('[data-chart="Alarms by system"]').textContent(), /water/);
  t.match(await page.locator('#h-events + .table-wrap').textContent(), /Outlet pressure low/, 'its alarm events');
  if (SHOTS !== undefined) await page.screenshot({ path: path.join(SHOTS, 'dashboard-site.png'), fullPage: true });
  await page.getByRole('link', { name: /All sites/ }).click();
  await page.locator('.map [data-site="garden-1"]').waitFor();
});
