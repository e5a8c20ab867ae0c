/**
 * Screenshots of the company dashboard for the docs, against a real cloud filled with a
 * made-up company: 12 communities in four regions (one without coordinates), 30 days of
 * work orders with response and resolution times and ratings, alarms, device outages and
 * energy meters — all through the cloud's API and gateway batches, except that the work
 * orders' timestamps are moved back in time in the database (the API stamps "now").
 * The figures are generated from a fixed seed: illustration, not measurement.
 *
 *   npx tsx cloud/test/dashboard/screenshots.ts docs/screenshots
 *
 * Writes dashboard.png (map grid, Chinese), dashboard-list.png (list, English) and
 * dashboard-site.png (one site's KPIs, alarms and work orders, English). Needs
 * /usr/bin/chromium and the built dashboard (npm run build:dashboard).
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { OutboxItem } from '../../../protocol/v1.js';
import { addGateway, addUser, startCloud } from '../../src/index.js';
import { batchOf, enrolledGateway, eventItem, postBatch } from '../fixtures/cloud.js';

const out = process.argv[2] ?? 'docs/screenshots';
mkdirSync(out, { recursive: true });
const DAY = 86_400_000;
let seed = 20261127;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const regions = { east: '华东 East', north: '华北 North', south: '华南 South', west: '西南 Southwest' };
const sites: { id: string; name: string; region: keyof typeof regions; lat?: number; lon?: number; gateway: 'online' | 'offline' | 'never'; busy: number }[] = [
  { id: 'sh-lujiazui', name: '陆家嘴花园 Lujiazui', region: 'east', lat: 31.24, lon: 121.5, gateway: 'online', busy: 1.4 },
  { id: 'sh-xujiahui', name: '徐汇苑 Xujiahui', region: 'east', lat: 31.19, lon: 121.44, gateway: 'online', busy: 1 },
  { id: 'sh-minhang', name: '闵行新城 Minhang', region: 'east', lat: 31.11, lon: 121.38, gateway: 'online', busy: 0.8 },
  { id: 'hz-xixi', name: '西溪雅苑 Xixi', region: 'east', lat: 30.27, lon: 120.08, gateway: 'online', busy: 0.9 },
  { id: 'sz-suzhou', name: '金鸡湖公寓 Jinji Lake', region: 'east', lat: 31.3, lon: 120.7, gateway: 'offline', busy: 0.7 },
  { id: 'nj-hexi', name: '河西名邸 Hexi', region: 'east', lat: 32.0, lon: 118.73, gateway: 'online', busy: 0.6 },
  { id: 'bj-chaoyang', name: '朝阳华庭 Chaoyang', region: 'north', lat: 39.92, lon: 116.46, gateway: 'online', busy: 1.2 },
  { id: 'bj-haidian', name: '海淀学府 Haidian', region: 'north', lat: 39.96, lon: 116.3, gateway: 'online', busy: 0.9 },
  { id: 'tj-binhai', name: '滨海花园 Binhai', region: 'north', lat: 39.03, lon: 117.7, gateway: 'online', busy: 0.5 },
  { id: 'gz-tianhe', name: '天河御景 Tianhe', region: 'south', lat: 23.13, lon: 113.33, gateway: 'online', busy: 1.1 },
  { id: 'szn-nanshan', name: '南山海岸 Nanshan', region: 'south', lat: 22.52, lon: 113.93, gateway: 'online', busy: 1 },
  { id: 'cd-jinjiang', name: '锦江府 Jinjiang', region: 'west', gateway: 'never', busy: 0.6 },
];

const dir = mkdtempSync(path.join(tmpdir(), 'steward-dashboard-shots-'));
const cloud = await startCloud({ host: '127.0.0.1', port: 0, database: path.join(dir, 'cloud.db') });
const app = cloud.app;
const db = app.stewardDb.db;
try {
  await addUser(app, { name: 'boss', password: 'correct horse battery', role: 'admin' });
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'boss', password: 'correct horse battery' } });
  const admin = { authorization: `Bearer ${(login.json() as { token: string }).token}` };
  const call = async (method: 'POST' | 'PUT' | 'PATCH', url: string, payload: object) => {
    const r = await app.inject({ method, url, headers: admin, payload });
    if (r.statusCode >= 300) throw new Error(`${method} ${url}: ${r.statusCode} ${r.body}`);
    return r.statusCode === 204 ? null : (r.json() as Record<string, unknown>);
  };
  for (const [id, name] of Object.entries(regions)) await call('PUT', `/v1/regions/${id}`, { name });
  const now = Date.now();
  const today = Math.floor(now / DAY) * DAY;
  for (const s of sites) {
    const place = () => call('PATCH', `/v1/sites/${s.id}`, { name: s.name, region: s.region, ...(s.lat === undefined ? {} : { lat: s.lat, lon: s.lon! }) });
    if (s.gateway === 'never') {
      await addGateway(app, { site: s.id, gateway: `gw-${s.id}` });
      await place();
      continue;
    }
    const gw = await enrolledGateway(app, s.id, `gw-${s.id}`);
    await place();
    const items: OutboxItem[] = [];
    let e0 = 0;
    let e1 = 0;
    // Alarms over 30 days; some still active today, some of them acknowledged.
    const systems = [
      ['water', 'pump', 'low_pressure', 'Outlet pressure low'],
      ['elevator', 'elev', 'door_fault', 'Door fault'],
      ['hvac', 'ahu', 'high_temp', 'Supply air too warm'],
      ['power', 'meter', 'voltage_sag', 'Voltage sag'],
    ] as const;
    for (let d = 29; d >= 0; d--) {
      const n = Math.round(rnd() * 3 * s.busy);
      for (let i = 0; i < n; i++) {
        const [system, dev, rule, message] = systems[Math.floor(rnd() * systems.length)]!;
        const device = `${dev}-${1 + Math.floor(rnd() * 3)}`;
        const ts = today - d * DAY + Math.floor(rnd() * DAY * 0.9);
        if (ts > now - 60_000) continue;
        items.push(eventItem(++e0, s.id, { type: 'alarm.raised', severity: rnd() < 0.3 ? 'major' : 'minor', device, ts, body: { rule, system, message, alarm: `${device}:${rule}:${ts}` } }));
        const stillActive = d === 0 && rnd() < 0.7;
        if (!stillActive || rnd() < 0.5) items.push(eventItem(++e0, s.id, { type: 'alarm.acked', severity: 'minor', device, ts: ts + 120_000, body: { rule, system, alarm: `${device}:${rule}:${ts}`, note: 'on it' } }));
        if (!stillActive) items.push(eventItem(++e0, s.id, { type: 'alarm.cleared', severity: 'minor', device, ts: ts + 1_800_000, body: { rule, system, alarm: `${device}:${rule}:${ts}` } }));
      }
      if (rnd() < 0.15 * s.busy) {
        const device = `elev-${1 + Math.floor(rnd() * 3)}`;
        const ts = today - d * DAY + Math.floor(rnd() * DAY * 0.5);
        if (ts < now - DAY) {
          items.push(eventItem(++e1, s.id, { type: 'device.offline', severity: 'major', device, ts }));
          items.push(eventItem(++e1, s.id, { type: 'device.online', severity: 'info', device, ts: ts + Math.floor((0.5 + rnd() * 6) * 3600_000) }));
        }
      }
    }
    // Energy: a cumulative kWh counter, one roll-up at the start and the end of each day.
    let kwh = 10_000 + rnd() * 5_000;
    const rollups: { id: string; minute: number; min: number; max: number; avg: number; count: number; last: number }[] = [];
    for (let d = 29; d >= 0; d--) {
      const start = today - d * DAY;
      const used = (900 + 500 * rnd() + (d % 7 < 2 ? -200 : 0)) * s.busy;
      rollups.push({ id: 'meter-main.energy', minute: start, min: kwh, max: kwh, avg: kwh, count: 60, last: kwh });
      kwh += used;
      const end = Math.min(start + DAY - 60_000, Math.floor(now / 60_000) * 60_000 - 60_000);
      rollups.push({ id: 'meter-main.energy', minute: end, min: kwh, max: kwh, avg: kwh, count: 60, last: kwh });
    }
    items.push({ lane: 2, seq: 1, id: uuidv7(), kind: 'telemetry.rollup', ts: now, body: { rollups } });
    if (e1 === 0) items.push(eventItem(++e1, s.id, { type: 'device.online', severity: 'info', device: 'pump-1', ts: now - 60_000 }));
    const r = await postBatch(app, gw, batchOf(gw, items));
    if (r.statusCode !== 200) throw new Error(`batch ${s.id}: ${r.statusCode} ${r.body}`);
    if (s.gateway === 'offline') await db.updateTable('gateways').set({ last_seen_at: now - 47 * 60_000 }).where('id', '=', gw.id).execute();

    // Work orders over 30 days, moved back in time; most resolved, the recent ones open.
    const titles = ['Lift door sensor', 'Pump seal leaking', 'Corridor lights out', 'AHU filter', 'Water heater fault', 'Gate barrier stuck', 'Camera offline', 'Leak in car park'];
    const cats = ['elevator', 'plumbing', 'electrical', 'hvac', 'plumbing', 'general', 'security', 'plumbing'];
    for (let d = 29; d >= 0; d--) {
      const n = Math.round(rnd() * 2.2 * s.busy);
      for (let i = 0; i < n; i++) {
        const k = Math.floor(rnd() * titles.length);
        const priority = rnd() < 0.15 ? 'P1' : rnd() < 0.5 ? 'P2' : 'P3';
        const created = today - d * DAY + Math.floor(rnd() * DAY * 0.8);
        if (created > now - 600_000) continue;
        const res = (await call('POST', '/v1/work-orders', { site: s.id, title: titles[k], category: cats[k], priority, forResident: true }))!;
        const wo = res.workOrder as { id: string; dueAt: number; createdAt: number };
        const responseMs = Math.round((5 + rnd() * 40 * s.busy) * 60_000);
        const resolveMs = Math.round((1 + rnd() * 30 * s.busy) * 3600_000);
        const resolved = created + resolveMs < now - 3600_000 && rnd() < 0.92;
        const ops: [string, object][] = [['assign', { assignee: ['wang', 'li', 'zhang', 'chen'][Math.floor(rnd() * 4)]! }]];
        if (resolved || rnd() < 0.5) ops.push(['start', {}]);
        if (resolved) ops.push(['resolve', { resolution: 'fixed' }]);
        for (const [op, data] of ops) await call('POST', `/v1/work-orders/${wo.id}/ops`, { op, data });
        if (resolved && rnd() < 0.6) {
          const stars = Math.min(5, Math.max(1, Math.round(3.2 + rnd() * 2 - (s.busy - 1))));
          await app.inject({ method: 'POST', url: `${(res.residentLink as { path: string }).path}/rating`, payload: { stars } });
        }
        const row = await db.selectFrom('work_orders').select('state_json').where('id', '=', wo.id).executeTakeFirstOrThrow();
        const state = JSON.parse(row.state_json) as Record<string, unknown>;
        const shift = created - wo.createdAt;
        for (const k of ['createdAt', 'dueAt', 'updatedAt', 'resolvedAt']) if (typeof state[k] === 'number') state[k] = (state[k] as number) + shift;
        if (resolved) state['resolvedAt'] = created + resolveMs;
        await db
          .updateTable('work_orders')
          .set({
            state_json: JSON.stringify(state),
            created_at: created,
            due_at: created + (wo.dueAt - wo.createdAt),
            response_due_at: created + (priority === 'P1' ? 15 : 30) * 60_000,
            responded_at: created + responseMs,
            resolved_at: resolved ? created + resolveMs : null,
          })
          .where('id', '=', wo.id)
          .execute();
      }
    }
  }

  // Every request the dashboard makes answers (a failing one shows only "internal error" in the browser).
  for (const url of ['/v1/sites', '/v1/gateways', '/v1/work-orders?status=open&limit=500', '/v1/work-orders?status=assigned&limit=500', '/v1/work-orders?status=in_progress&limit=500', '/v1/alarms?state=active&limit=1000', `/v1/events?type=alarm.raised&since=${now - DAY}&limit=1000`, '/v1/kpis', '/v1/kpis/sites']) {
    const r = await app.inject({ url, headers: admin });
    if (r.statusCode !== 200) throw new Error(`GET ${url}: ${r.statusCode} ${r.body}`);
  }
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${cloud.url}/dashboard/`);
    await page.locator('#name').fill('boss');
    await page.locator('#password').fill('correct horse battery');
    await page.locator('button[type=submit]').click();
    await page.locator('.map [data-site]').first().waitFor();
    await page.screenshot({ path: path.join(out, 'dashboard.png'), fullPage: true });
    await page.getByRole('button', { name: '切换为英文' }).click();
    await page.getByRole('button', { name: 'List', exact: true }).click();
    await page.locator('table.site-list').waitFor();
    await page.screenshot({ path: path.join(out, 'dashboard-list.png'), fullPage: true });
    await page.getByRole('button', { name: 'Map', exact: true }).click();
    await page.locator('.map [data-site="sh-lujiazui"]').click();
    await page.locator('table.work-orders').waitFor();
    // The KPIs, charts, open alarms and work orders; the alarm events below are cut off.
    const bottom = ((await page.locator('#h-events').boundingBox())?.y ?? 1600) + 220;
    await page.screenshot({ path: path.join(out, 'dashboard-site.png'), fullPage: true, clip: { x: 0, y: 0, width: 1440, height: Math.round(bottom) } });
  } finally {
    await browser.close();
  }
} finally {
  await cloud.close();
}
console.log(`screenshots in ${out}`);
