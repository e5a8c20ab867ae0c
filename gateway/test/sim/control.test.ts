/**
 * The simulator's fault-injection control API, over HTTP against a running simulator and
 * read back through the real Modbus driver: list, set, clear; the 400s name the problem
 * and the 404s the unknown device or fault; comms-loss makes the driver time out (and a
 * unit behind a shared port falls silent alone); slow-responses delays the answers.
 */
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import type { SiteConfig } from '../../src/core/config/load.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createDriver, loadDrivers } from '../../src/drivers/registry.js';
import { startSimControl, type SimControl } from '../../../scripts/sim/control.js';
import { startSimulator, type Simulator } from '../../../scripts/sim/sim.js';
import { readAll, silentLog } from '../drivers/modbus-fixture.js';
import { freePort } from '../../../test/support/ports.js';

await loadDrivers(['modbus']); // drivers are loaded on demand (drivers/registry.ts)


interface Setup {
  site: SiteConfig;
  sim: Simulator;
  control: SimControl;
  call(method: string, url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }>;
  driver(id: string): Promise<Driver>;
  read(id: string, names: string[]): Promise<Record<string, number | boolean | string>>;
}

async function setup(t: { testdir(files: Record<string, string>): string; teardown(fn: () => unknown): void }): Promise<Setup> {
  const shared = await freePort();
  const dir = t.testdir({
    'site.yaml': `site: { id: ctl, name: Control test, timezone: Asia/Shanghai }
devices:
  - { id: lift-1, profile: elevator/traction-elevator, system: elevator, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 15701, timeoutMs: 300 } }
  - { id: meter-1, profile: power/power-meter, system: power, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${shared}, unitId: 1, timeoutMs: 300 } }
  - { id: acb-1, profile: power/breaker, system: power, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${shared}, unitId: 2, timeoutMs: 300 } }
`,
  });
  const site = loadSiteConfig(path.join(dir, 'site.yaml'));
  const sim = await startSimulator(site, { seed: 3, tickMs: 20, ports: { 'lift-1': 0 } });
  t.teardown(() => sim.close());
  const control = await startSimControl(sim, { port: 0 });
  t.teardown(() => control.close());
  const drivers = new Map<string, Driver>();
  const driver = async (id: string) => {
    let d = drivers.get(id);
    if (d === undefined) {
      const device = site.devices.find((x) => x.id === id)!;
      const served = sim.devices.find((x) => x.id === id)!;
      d = createDriver({ ...device, connection: { ...device.connection, port: served.port } }, silentLog);
      drivers.set(id, d);
      t.teardown(() => d!.close());
    }
    if (!d.isConnected()) await d.connect();
    return d;
  };
  return {
    site,
    sim,
    control,
    async call(method, url, body) {
      const res = await fetch(`${control.url}${url}`, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
    },
    driver,
    async read(id, names) {
      const profile = site.devices.find((x) => x.id === id)!.profile;
      const raw = await readAll(await driver(id), profile.points.filter((p) => names.includes(p.name)));
      return Object.fromEntries(raw);
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 100));

t.test('GET /devices lists the devices with the faults they take and those on', async (t) => {
  const s = await setup(t);
  t.match(s.control.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const { status, json } = await s.call('GET', '/devices');
  t.equal(status, 200);
  const devices = json.devices as { id: string; profile: string; port: number; faults: { available: Record<string, unknown>; active: Record<string, unknown> } }[];
  t.same(devices.map((d) => d.id), ['lift-1', 'meter-1', 'acb-1']);
  t.same(Object.keys(devices[0]!.faults.available).sort(), ['comms-loss', 'door-fault', 'entrapment', 'slow-responses']);
  t.same(Object.keys(devices[1]!.faults.available).sort(), ['comms-loss', 'slow-responses'], 'a meter: only the server faults');
  t.same(Object.keys(devices[2]!.faults.available).sort(), ['breaker-trip', 'comms-loss', 'slow-responses']);
  t.match(devices[2]!.faults.available['breaker-trip'], { value: { min: 1, max: 7, default: 1 } });
  for (const d of devices) t.same(d.faults.active, {});
  const one = await s.call('GET', '/devices/acb-1');
  t.equal(one.status, 200);
  t.equal(one.json.profile, 'power/breaker');
});

t.test('POST sets a fault the device shows over Modbus; DELETE clears them all', async (t) => {
  const s = await setup(t);
  t.same(await s.read('lift-1', ['entrapment']), { entrapment: false });
  const on = await s.call('POST', '/devices/lift-1/faults', { fault: 'entrapment', on: true });
  t.equal(on.status, 200);
  t.same((on.json.faults as { active: unknown }).active, { entrapment: null });
  await tick();
  t.same(await s.read('lift-1', ['entrapment', 'fault_code', 'car_moving']), { entrapment: true, fault_code: 7, car_moving: false });

  const trip = await s.call('POST', '/devices/acb-1/faults', { fault: 'breaker-trip', on: true, value: 2 });
  t.equal(trip.status, 200);
  t.same((trip.json.faults as { active: unknown }).active, { 'breaker-trip': 2 });
  await tick();
  t.same(await s.read('acb-1', ['breaker_state', 'trip_cause', 'closed', 'tripped']), { breaker_state: 2, trip_cause: 2, closed: false, tripped: true });

  const cleared = await s.call('DELETE', '/devices/lift-1/faults');
  t.equal(cleared.status, 200);
  t.same((cleared.json.faults as { active: unknown }).active, {});
  await tick();
  t.same(await s.read('lift-1', ['entrapment']), { entrapment: false });
  const off = await s.call('POST', '/devices/acb-1/faults', { fault: 'breaker-trip', on: false });
  t.same((off.json.faults as { active: unknown }).active, {});
  await tick();
  t.same(await s.read('acb-1', ['breaker_state', 'tripped']), { breaker_state: 1, tripped: false }, 'reset and reclosed');
});

t.test('400 names the problem with the body; 404 the unknown device, fault or route; 405 the method', async (t) => {
  const s = await setup(t);
  const bad: [unknown, RegExp][] = [
    ['{not json', /not JSON/],
    [[1, 2], /must be an object/],
    [{ on: true }, /"fault" must be a fault name/],
    [{ fault: 'entrapment' }, /"on" must be true or false/],
    [{ fault: 'entrapment', on: 'yes' }, /"on" must be true or false, got "yes"/],
    [{ fault: 'entrapment', on: true, value: 'x' }, /"value" must be a number/],
    [{ fault: 'entrapment', on: true, zone: 3 }, /unknown key "zone"/],
    [{ fault: 'slow-responses', on: true, value: 0 }, /value of slow-responses must be an integer 1–60000/],
    [{ fault: 'entrapment', on: true, value: 3 }, /entrapment takes no value/],
  ];
  for (const [body, message] of bad) {
    const r = await s.call('POST', '/devices/lift-1/faults', body);
    t.equal(r.status, 400, JSON.stringify(body));
    t.match(r.json.error, message);
  }
  const unknownDevice = await s.call('POST', '/devices/lift-9/faults', { fault: 'entrapment', on: true });
  t.equal(unknownDevice.status, 404);
  t.match(unknownDevice.json.error, /no simulated device "lift-9" \(devices: lift-1, meter-1, acb-1\)/);
  t.equal((await s.call('GET', '/devices/lift-9')).status, 404);
  t.equal((await s.call('DELETE', '/devices/lift-9/faults')).status, 404);
  const unknownFault = await s.call('POST', '/devices/lift-1/faults', { fault: 'earthquake', on: true });
  t.equal(unknownFault.status, 404);
  t.match(unknownFault.json.error, /unknown fault "earthquake" \(faults: bearing-wear, .*camera-tamper\)/);
  const notHere = await s.call('POST', '/devices/meter-1/faults', { fault: 'entrapment', on: true });
  t.equal(notHere.status, 404);
  t.match(notHere.json.error, /meter-1 \(power\/power-meter\): no fault entrapment here \(faults: comms-loss, slow-responses\)/);
  t.equal((await s.call('GET', '/nope')).status, 404);
  const wrong = await s.call('PUT', '/devices/lift-1/faults', {});
  t.equal(wrong.status, 405);
  t.equal(wrong.headers.get('allow'), 'POST, DELETE');
  t.same((await s.call('GET', '/devices/lift-1')).json.faults, (await s.call('GET', '/devices/lift-1')).json.faults, 'nothing was set by the refused requests');
  t.same(((await s.call('GET', '/devices/lift-1')).json.faults as { active: unknown }).active, {});
});

t.test('comms-loss: the driver times out; a unit behind a shared port falls silent alone; off: answers again', async (t) => {
  const s = await setup(t);
  t.same(await s.read('lift-1', ['run_mode']), { run_mode: 0 });
  t.equal((await s.call('POST', '/devices/lift-1/faults', { fault: 'comms-loss', on: true })).status, 200);
  await t.rejects(s.read('lift-1', ['run_mode']), /no answer .* within 300 ms/);
  t.equal((await s.call('POST', '/devices/lift-1/faults', { fault: 'comms-loss', on: false })).status, 200);
  t.same(await s.read('lift-1', ['run_mode']), { run_mode: 0 }, 'reconnected and answered');

  await s.call('POST', '/devices/acb-1/faults', { fault: 'comms-loss', on: true });
  await t.rejects(s.read('acb-1', ['breaker_state']), /within 300 ms/);
  const meter = await s.read('meter-1', ['frequency']);
  t.ok(Math.abs((meter.frequency as number) - 50) < 0.5, 'the meter on the same port still answers');
  await s.call('DELETE', '/devices/acb-1/faults');
  t.same(await s.read('acb-1', ['breaker_state']), { breaker_state: 1 });
});

t.test('slow-responses delays every answer by the value in ms', async (t) => {
  const s = await setup(t);
  await s.read('lift-1', ['run_mode']);
  let started = Date.now();
  await s.read('lift-1', ['run_mode']);
  t.ok(Date.now() - started < 150, 'fast before');
  await s.call('POST', '/devices/lift-1/faults', { fault: 'slow-responses', on: true, value: 200 });
  started = Date.now();
  await s.read('lift-1', ['run_mode']);
  const ms = Date.now() - started;
  t.ok(ms >= 195 && ms < 300, `answered after ${ms} ms`);
  t.same(((await s.call('GET', '/devices/lift-1')).json.faults as { active: unknown }).active, { 'slow-responses': 200 });
  await s.call('POST', '/devices/lift-1/faults', { fault: 'slow-responses', on: false });
  started = Date.now();
  await s.read('lift-1', ['run_mode']);
  t.ok(Date.now() - started < 150, 'fast again');
});

t.test('`steward sim --control-port 0` prints the control URL and serves it until stopped', async (t) => {
  // A child process: the command writes to stdout, which in this process carries tap's report.
  const { spawn } = await import('node:child_process');
  const port = await freePort();
  const dir = t.testdir({
    'site.yaml': `site: { id: s, name: S }\ndevices:\n  - { id: fire-1, profile: fire/fire-panel, system: fire, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }\n`,
  });
  const bin = path.resolve('bin/steward.js');
  const bad = spawn(process.execPath, [bin, 'sim', '--config', path.join(dir, 'site.yaml'), '--control-port', 'x'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let badErr = '';
  bad.stderr.on('data', (d: Buffer) => (badErr += d.toString()));
  t.equal(await new Promise((r) => bad.on('exit', r)), 1);
  t.match(badErr, /--control-port must be an integer/);

  const child = spawn(process.execPath, [bin, 'sim', '--config', path.join(dir, 'site.yaml'), '--control-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise((r) => child.on('exit', r));
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  for (let i = 0; i < 300 && !/control API/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
  const url = /control API {2}(http:\/\/127\.0\.0\.1:\d+\/devices)/.exec(out)?.[1];
  t.ok(url, `printed: ${out}`);
  const res = await fetch(url!, { method: 'GET' });
  t.equal(res.status, 200);
  t.match(await res.json(), { devices: [{ id: 'fire-1', profile: 'fire/fire-panel', faults: { available: { 'fire-alarm': { value: { min: 1, max: 64 } } } } }] });
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
