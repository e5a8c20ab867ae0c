/**
 * The control-room panel in headless Chromium (Debian's, driven by playwright-core)
 * against the demo community on free ports, with a real cloud: sign in, see the
 * community's devices and the sync state, switch language, watch live values, open a
 * trend; acknowledge an alarm; create a work order while the cloud is down and see it
 * confirmed once it is back.
 */
import { existsSync } from 'node:fs';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { PANEL_DIST } from '../../src/api/panel.js';
import { startDemoRig, type DemoRig } from '../../panel/scripts/demo-rig.js';
import { until } from '../../../test/support/until.js';

const CHROMIUM = '/usr/bin/chromium';

async function ensureBuilt(): Promise<void> {
  if (existsSync(`${PANEL_DIST}/index.html`)) return;
  await build({ root: new URL('../../panel/', import.meta.url).pathname, logLevel: 'warn' });
}

t.test('the control room in a browser', { skip: existsSync(CHROMIUM) ? false : 'no /usr/bin/chromium (apt install chromium)' }, async (t) => {
  await ensureBuilt();
  // Reads need a login here, as a gateway on a shared network would have it: the panel's
  // live stream and pictures carry the session's token too.
  const rig: DemoRig = await startDemoRig({ cloud: true, readAccess: 'login' });
  t.teardown(() => rig.close());
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  t.teardown(() => browser.close());
  const context = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1600, height: 1000 } });
  const page: Page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const url = rig.gateway.url;
  const token = ((await (await fetch(`${url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rig.login) })).json()) as { token: string }).token;
  const auth = { headers: { authorization: `Bearer ${token}` } };
  t.equal((await fetch(`${url}/api/v1/devices`)).status, 401, 'the gateway wants a login for reads');

  await t.test('sign in with a gateway user; a wrong password is refused', async (t) => {
    await page.goto(`${url}/`);
    await page.getByLabel('用户名').fill('operator');
    await page.getByLabel('密码').fill('wrong');
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('alert').waitFor();
    t.match(await page.getByRole('alert').textContent(), /用户名或密码错误/);
    await page.getByLabel('密码').fill(rig.login.password);
    await page.getByRole('button', { name: '登录' }).click();
    await page.getByRole('navigation').waitFor();
    t.match(await page.locator('.who').textContent(), /operator/);
  });

  await t.test('the overview shows every device of the community by system, and the sync state', async (t) => {
    await until('13 tiles', async () => (await page.locator('[data-device]').count()) === 13);
    for (const id of ['pump-1', 'elev-1-a', 'meter-main', 'ahu-1', 'cam-gate', 'fire-panel']) t.equal(await page.locator(`[data-device="${id}"]`).count(), 1, `${id} on the overview`);
    t.ok(await page.getByRole('heading', { name: /电梯/ }).isVisible(), 'grouped by system');
    await until('the devices online', async () => Number(await page.getByTestId('count-normal').locator('.n').textContent()) >= 10, 30_000);
    await until('the cloud online', async () => /云端在线/.test((await page.getByTestId('sync').textContent()) ?? ''), 30_000);
    t.match(await page.getByTestId('live').textContent(), /实时/);
    await page.getByText('按楼栋 / 楼层').click();
    t.ok(await page.getByRole('heading', { name: /B1 · B2 层/ }).isVisible(), 'grouped by building and floor');
  });

  await t.test('switch language', async (t) => {
    await page.getByRole('button', { name: '切换为英文' }).click();
    await page.getByRole('link', { name: 'Overview' }).waitFor();
    t.equal(await page.locator('html').getAttribute('lang'), 'en');
    t.match(await page.getByTestId('sync').textContent(), /Cloud online/);
    t.ok(await page.getByRole('heading', { name: /Tower 1|T1 · floor RF/ }).first().isVisible());
  });

  await t.test('a device page shows live values with units and opens a trend', async (t) => {
    await page.locator('[data-device="pump-1"]').click();
    await page.getByRole('heading', { name: /Domestic pump 1/ }).waitFor();
    const row = page.locator('tr[data-point="outlet_pressure"]');
    await until('a pressure value', async () => ((await row.getByTestId('value-outlet_pressure').textContent()) ?? '—') !== '—');
    t.match(await row.textContent(), /bar/, 'with its unit');
    t.match(await row.textContent(), /good/, 'and its quality');
    // Live: the time of the pump's flow reading moves on while we watch.
    const timeCell = page.locator('tr[data-point="flow"] td').nth(3);
    const first = await timeCell.textContent();
    await until('a newer reading on screen', async () => (await timeCell.textContent()) !== first, 15_000);
    await row.getByRole('button', { name: 'Trend outlet_pressure' }).click();
    await page.locator('[data-testid="trend-chart"] canvas').waitFor();
    t.ok(await page.locator('.u-legend').isVisible(), 'uPlot drew the trend');
    await page.getByRole('button', { name: '30 d' }).click();
    await page.getByText('1-minute roll-ups').waitFor();
    t.pass('30 days come from the roll-ups');
  });

  await t.test('a writable point is written after a confirmation, and the device takes it', async (t) => {
    await page.getByRole('button', { name: 'Write… pressure_setpoint' }).click();
    await page.getByLabel('New value').fill('5.5');
    await page.getByTestId('write-submit').click();
    await page.getByText(/Write 5.5 bar to pump-1.pressure_setpoint\?/).waitFor();
    t.pass('asked to confirm first');
    await page.getByTestId('write-submit').click();
    await page.getByText('Written: pump-1.pressure_setpoint = 5.5').waitFor();
    await until('read back', async () => ((await page.getByTestId('value-pressure_setpoint').textContent()) ?? '') === '5.5', 15_000);
    t.pass('the new value is read back from the device');
  });

  await t.test('keyboard and labels', async (t) => {
    await page.goto(`${url}/#/`);
    await page.reload();
    await page.locator('[data-device]').first().waitFor();
    await page.keyboard.press('Tab');
    t.equal(await page.evaluate('document.activeElement.textContent'), 'Skip to content', 'the first Tab reaches the skip link');
    await page.locator('[data-device="pump-2"]').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /Domestic pump 2/ }).waitFor();
    t.pass('a tile opens with Enter');
    // Every control has a name a screen reader can say.
    const unnamed = (await page.evaluate(`[...document.querySelectorAll('button, a[href], input, select, textarea')]
      .filter((el) => !(el.getAttribute('aria-label') || (el.labels && el.labels.length > 0) || el.textContent.trim() || el.closest('label')))
      .map((el) => el.outerHTML.slice(0, 80))`)) as string[];
    t.same(unnamed, [], 'no unnamed controls on the device page');
    await page.goBack();
  });

  const hasAlarms = (await fetch(`${url}/api/v1/alarms`, auth)).status !== 404;
  await t.test('acknowledge an alarm with a note', { skip: hasAlarms ? false : 'this gateway has no alarm API yet' }, async (t) => {
    rig.community.devices.find((d) => d.id === 'elev-1-a')!.faults.setFault('entrapment', true);
    // A new P1 alarm is announced wherever the operator is.
    await page.locator('.p1-banner').waitFor({ timeout: 30_000 });
    t.match(await page.locator('.p1-banner').textContent(), /New P1 alarm/);
    await page.getByRole('link', { name: /^Alarms/ }).click();
    const row = page.locator('tr[data-alarm="elev-1-a:entrapment.state.true"]');
    await row.waitFor();
    // The profile's entrapment alarm, or the elevator flow's (passengers_trapped): both P1.
    t.match(await page.locator('table.alarms tbody tr').first().getAttribute('data-alarm'), /^elev-1-a:(entrapment\.state\.true|passengers_trapped)$/, 'a P1 entrapment alarm is first');
    await row.getByRole('button', { name: /^Acknowledge:/ }).click();
    await page.getByLabel('Note').fill('called the lift company');
    await page.getByTestId('alarm-action-submit').click();
    await until('acknowledged on screen', async () => (await row.getByRole('button', { name: /^Acknowledge:/ }).count()) === 0 && /acknowledged/.test((await row.textContent()) ?? ''), 15_000);
    const alarm = (await (await fetch(`${url}/api/v1/alarms/${encodeURIComponent('elev-1-a:entrapment.state.true')}`, auth)).json()) as { state: string; ackedBy: string; ackNote: string };
    t.match(alarm, { state: 'ack_active', ackedBy: 'operator', ackNote: 'called the lift company' });
    // The history, filtered to the lift, has the acknowledgement with its note.
    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByLabel('Device').selectOption('elev-1-a');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('row', { name: /alarm\.acked.*operator: called the lift company/ }).waitFor();
    t.pass('the acknowledgement is in the history');
    await page.getByRole('tab', { name: 'Active' }).click();
  });

  const hasWorkOrders = (await fetch(`${url}/api/v1/work-orders`, auth)).status !== 404;
  await t.test('a work order made while the cloud is down is pending, then confirmed', { skip: hasWorkOrders ? false : 'this gateway has no work-order API yet' }, async (t) => {
    await rig.cloud!.stop();
    await page.getByRole('link', { name: 'Overview' }).click();
    await until('the cloud shown offline', async () => /Cloud OFFLINE/.test((await page.getByTestId('sync').textContent()) ?? ''), 30_000);
    await page.getByRole('link', { name: 'Work orders' }).click();
    await page.getByRole('button', { name: 'New work order' }).click();
    await page.getByLabel('Title').fill('Pump 2 noisy bearing');
    await page.getByLabel('Priority').selectOption('P2');
    await page.getByLabel('Device').selectOption('pump-2');
    await page.getByTestId('wo-create').click();
    const row = page.locator('tr', { hasText: 'Pump 2 noisy bearing' });
    await row.getByTestId('wo-pending').waitFor();
    t.pass('pending while the cloud is down');
    await rig.cloud!.start();
    await row.getByTestId('wo-confirmed').waitFor({ timeout: 60_000 });
    t.pass('confirmed once the cloud is back');
  });
});
