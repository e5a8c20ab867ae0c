/**
 * The company dashboard (issue 8) in headless Chromium against a real cloud: served at
 * /dashboard/, a person signs in, sees every site with its gateway's health and its open
 * work orders, the company figures, switches language, and drills down into a site.
 * Also: both dictionaries have the same keys.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { addGateway, addUser, startCloud } from '../../src/index.js';
import { DASHBOARD_DIST } from '../../src/plugins/dashboard.js';
import { en } from '../../dashboard/src/en.js';
import { zhCN } from '../../dashboard/src/zh-CN.js';

const CHROMIUM = '/usr/bin/chromium';

t.test('both dictionaries have the same keys, none empty', async (t) => {
  t.same(Object.keys(zhCN).sort(), Object.keys(en).sort());
  for (const [k, v] of Object.entries(zhCN)) t.ok(v.trim() !== '', `${k} is translated`);
});

t.test('the dashboard in a browser', { skip: existsSync(CHROMIUM) ? false : 'no /usr/bin/chromium' }, async (t) => {
  if (!existsSync(`${DASHBOARD_DIST}/index.html`)) await build({ root: new URL('../../dashboard/', import.meta.url).pathname, logLevel: 'warn' });
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-dashboard-'));
  const cloud = await startCloud({ host: '127.0.0.1', port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  await addGateway(cloud.app, { site: 'garden-1', gateway: 'gw-1', siteName: '一号花园 Garden 1' });
  await addGateway(cloud.app, { site: 'garden-2', gateway: 'gw-2', siteName: '二号花园 Garden 2' });
  await addUser(cloud.app, { name: 'boss', password: 'correct horse battery', role: 'admin' });
  const { token } = (await (await fetch(`${cloud.url}/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'boss', password: 'correct horse battery' }) })).json()) as { token: string };
  const created = await fetch(`${cloud.url}/v1/work-orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ site: 'garden-1', title: 'Lift 3 door sensor', category: 'elevator', priority: 'P2' }),
  });
  t.equal(created.status, 201, 'a work order to show');

  const redirect = await fetch(`${cloud.url}/dashboard`, { redirect: 'manual' });
  t.equal(redirect.headers.get('location'), '/dashboard/');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext({ locale: 'en' })).newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(`${cloud.url}/dashboard/`);
  await page.getByLabel('User name').fill('boss');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-site="garden-1"]').waitFor();
  t.equal(await page.locator('[data-site]').count(), 2, 'both sites');
  t.match(await page.locator('[data-site="garden-1"]').textContent(), /1 open/);
  t.match(await page.locator('[data-site="garden-2"]').textContent(), /never connected/, 'a gateway that never connected is shown as such');
  t.match(await page.locator('.kpi', { hasText: 'Open work orders' }).textContent(), /1/);
  await page.getByRole('button', { name: 'Switch language to Chinese' }).click();
  await page.getByText('未完成工单').waitFor();
  await page.locator('[data-site="garden-1"]').click();
  await page.getByRole('heading', { name: /Garden 1/ }).waitFor();
  t.ok(await page.getByRole('row', { name: /Lift 3 door sensor/ }).isVisible(), 'the site shows its work order');
});
