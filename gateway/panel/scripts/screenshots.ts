/**
 * Screenshots of the control-room panel for the README and docs/panel.md, taken in
 * headless Chromium against the demo community with a few faults injected:
 *
 *   npx tsx gateway/panel/scripts/screenshots.ts [--out docs/screenshots]
 *
 * Needs /usr/bin/chromium and a built panel (npm run build:panel).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';
import { startDemoRig } from './demo-rig.js';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/screenshots' } } });
const out = path.resolve(values.out);
mkdirSync(out, { recursive: true });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rig = await startDemoRig({ cloud: true });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
try {
  const shot = async (page: Page, name: string) => {
    await sleep(400);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
    process.stdout.write(`${path.join(values.out, `${name}.png`)}\n`);
  };
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(rig.gateway.url);
  await shot(page, 'login');
  await page.getByLabel('用户名').fill(rig.login.name);
  await page.getByLabel('密码').fill(rig.login.password);
  await page.getByRole('button', { name: '登录' }).click();
  await page.locator('[data-device]').nth(12).waitFor();
  // Let the devices come online and some history build up, then some trouble.
  const fault = (id: string, f: string) => rig.community.devices.find((d) => d.id === id)?.faults.setFault(f, true);
  await sleep(4000);
  fault('light-garden', 'comms-loss');
  await sleep(8000);
  fault('elev-1-a', 'entrapment');
  fault('pump-2', 'pressure-loss');
  fault('cam-gate', 'camera-tamper');
  await sleep(15_000);
  await shot(page, 'overview-zh');

  await page.getByRole('button', { name: '切换为英文' }).click();
  await page.getByText('By system').or(page.getByText('System')).first().waitFor();
  await shot(page, 'overview-en');

  await page.locator('[data-device="pump-1"]').click();
  await page.locator('tr[data-point="outlet_pressure"]').waitFor();
  await page.getByRole('button', { name: 'Trend outlet_pressure' }).click();
  await page.locator('[data-testid="trend-chart"] canvas').waitFor();
  await shot(page, 'device-trend');

  await page.getByRole('link', { name: /^Alarms/ }).click();
  await sleep(1500);
  await shot(page, 'alarms');

  await page.getByRole('link', { name: 'Work orders' }).click();
  const create = page.getByRole('button', { name: 'New work order' });
  if (await create.isVisible().catch(() => false)) {
    await rig.cloud?.stop();
    await create.click();
    await page.getByLabel('Title').fill('Pump 2 outlet pressure low');
    await page.getByLabel('Priority').selectOption('P2');
    await page.getByLabel('Device').selectOption('pump-2');
    await page.getByTestId('wo-create').click();
    await sleep(1500);
  }
  await shot(page, 'work-orders');
  await rig.cloud?.start();

  await page.getByRole('link', { name: 'Cameras' }).click();
  await sleep(1500);
  await shot(page, 'cameras');

  if (rig.cloud !== undefined) {
    // Company dashboard: a second community that has not connected yet, beside the demo's.
    const dash = await (await browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } })).newPage();
    await dash.goto(`${rig.cloud.url}/dashboard/`);
    await dash.getByLabel('用户名').fill(rig.cloud.login.name);
    await dash.getByLabel('密码').fill(rig.cloud.login.password);
    await dash.getByRole('button', { name: '登录' }).click();
    await dash.locator('[data-site]').first().waitFor();
    await shot(dash, 'dashboard');
  }

  const phone = await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p2 = await phone.newPage();
  await p2.goto(rig.gateway.url);
  await p2.getByLabel('用户名').fill(rig.login.name);
  await p2.getByLabel('密码').fill(rig.login.password);
  await p2.getByRole('button', { name: '登录' }).click();
  await p2.locator('[data-device]').nth(12).waitFor();
  await sleep(1500);
  await shot(p2, 'phone-overview');
} finally {
  await browser.close();
  await rig.close();
}
