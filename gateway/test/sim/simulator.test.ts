/**
 * `startSimulator` end to end, read through the real Modbus driver: the pump profile
 * serves plausible values that change over time and react to writes (setpoint, start/
 * stop); any other profile gets the generic model; devices sharing a port are routed by
 * unit id; bad ports are reported.
 */
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import type { DeviceConfig, SiteConfig } from '../../src/core/config/load.js';
import type { PointSpec } from '../../src/core/config/profile.js';
import type { Driver } from '../../src/drivers/driver.js';
import { createModbusDriver } from '../../src/drivers/modbus/driver.js';
import { startSimulator, type Simulator } from '../../../scripts/sim/sim.js';
import { readAll, silentLog } from '../drivers/modbus-fixture.js';
import { freePort } from '../../../test/support/ports.js';

const AHU_PROFILE = fileURLToPath(new URL('../fixtures/generic-ahu.yaml', import.meta.url));

function siteYaml(devices: string): string {
  return `site: { id: sim-test, name: Simulator test, timezone: Asia/Shanghai }
devices:
${devices}`;
}

const PUMP = (id: string, port: number, unitId = 1) => `  - { id: ${id}, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, unitId: ${unitId}, timeoutMs: 1000 } }\n`;
const AHU = (id: string, port: number, unitId = 1) => `  - { id: ${id}, profile: ${AHU_PROFILE}, system: hvac, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, unitId: ${unitId}, timeoutMs: 1000 } }\n`;

function loadSite(t: { testdir(files: Record<string, string>): string }, devices: string): SiteConfig {
  const dir = t.testdir({ 'site.yaml': siteYaml(devices) });
  return loadSiteConfig(path.join(dir, 'site.yaml'));
}


/** A driver connected to the simulated device `id` (at the port the simulator reports). */
async function driverFor(t: { teardown(fn: () => unknown): void }, site: SiteConfig, sim: Simulator, id: string): Promise<{ driver: Driver; device: DeviceConfig }> {
  const device = site.devices.find((d) => d.id === id)!;
  const served = sim.devices.find((d) => d.id === id)!;
  const driver = createModbusDriver({ ...device, connection: { ...device.connection, port: served.port } }, silentLog);
  t.teardown(() => driver.close());
  await driver.connect();
  return { driver, device };
}

/** Engineering values: raw × scale + offset, as the poller will compute them. */
async function readScaled(driver: Driver, points: readonly PointSpec[]): Promise<Record<string, number | boolean | string>> {
  const raw = await readAll(driver, points);
  const out: Record<string, number | boolean | string> = {};
  for (const p of points) {
    const v = raw.get(p.name)!;
    out[p.name] = typeof v === 'number' ? v * p.scale + p.offset : v;
  }
  return out;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

t.test('the pump simulator serves plausible values, changing over time', async (t) => {
  const site = loadSite(t, PUMP('pump-1', 15020));
  const sim = await startSimulator(site, { seed: 42, tickMs: 20, ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  t.equal(sim.devices.length, 1);
  t.match(sim.devices[0], { id: 'pump-1', host: '127.0.0.1', protocol: 'modbus-tcp', profile: 'water/vfd-pump' });
  t.ok(sim.devices[0]!.port > 0 && sim.devices[0]!.port !== 15020, 'an ephemeral port');

  const { driver, device } = await driverFor(t, site, sim, 'pump-1');
  const points = device.profile.points;
  const first = await readScaled(driver, points);
  for (const p of points) {
    const v = first[p.name];
    if (p.range !== undefined) t.ok(typeof v === 'number' && v >= p.range[0]! && v <= p.range[1]!, `${p.name} = ${String(v)} within [${p.range.join(', ')}]`);
  }
  t.ok(Math.abs((first.outlet_pressure as number) - 4.5) < 0.5, `outlet pressure ${first.outlet_pressure} near the 4.5 bar setpoint`);
  t.equal(first.pressure_setpoint, 4.5);
  t.equal(first.start_stop, true);
  t.equal(first.running, true);
  t.equal(first.fault, false);
  t.equal(first.remote_mode, true);
  t.equal(first.fault_code, 0);
  t.ok((first.frequency as number) >= 25 && (first.frequency as number) <= 50, `frequency ${first.frequency} Hz`);
  t.ok((first.motor_current as number) > 1, `current ${first.motor_current} A`);
  t.ok((first.flow as number) > 0, `flow ${first.flow} m3/h`);
  t.ok((first.run_hours as number) >= 2000, 'run hours start from a used pump');
  t.ok((first.energy as number) > 0);

  await new Promise((r) => setTimeout(r, 400));
  const later = await readScaled(driver, points);
  t.not(later.outlet_pressure, first.outlet_pressure, 'pressure moves (noise)');
  t.ok((later.energy as number) > (first.energy as number), `energy integrates while running (${first.energy} → ${later.energy} kWh)`);
});

t.test('the pump holds a new setpoint written over Modbus; start_stop stops and starts it', async (t) => {
  const site = loadSite(t, PUMP('pump-1', 15020));
  const sim = await startSimulator(site, { seed: 7, tickMs: 20, ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  const { driver, device } = await driverFor(t, site, sim, 'pump-1');
  const p = (name: string) => device.profile.points.find((q) => q.name === name)!;
  const pressure = async () => (await readScaled(driver, [p('outlet_pressure')])).outlet_pressure as number;

  await driver.write(p('pressure_setpoint'), 5.5 / 0.01); // raw: the poller unscales
  t.equal((await readScaled(driver, [p('pressure_setpoint')])).pressure_setpoint, 5.5);
  const ms = await until('pressure near 5.5 bar', async () => Math.abs((await pressure()) - 5.5) < 0.2, 8000);
  t.pass(`pressure reached 5.5 ± 0.2 bar after ${ms} ms`);

  await driver.write(p('start_stop'), false);
  await until('pump stopped', async () => (await readScaled(driver, [p('running')])).running === false, 6000);
  const stopped = await readScaled(driver, [p('frequency'), p('motor_current'), p('outlet_pressure'), p('flow')]);
  t.equal(stopped.frequency, 0);
  t.equal(stopped.motor_current, 0);
  t.ok((stopped.outlet_pressure as number) < 1.5, `pressure falls to the mains' (${stopped.outlet_pressure} bar)`);

  await driver.write(p('start_stop'), true);
  await until('pump running again and building pressure', async () => {
    const v = await readScaled(driver, [p('running'), p('outlet_pressure')]);
    return v.running === true && (v.outlet_pressure as number) > 3;
  }, 8000);
  t.pass('restarted');
});

t.test('a profile without a model gets the generic model: values in range, counters counting, writes kept', async (t) => {
  const site = loadSite(t, AHU('ahu-1', 15030));
  const sim = await startSimulator(site, { tickMs: 20, ports: { 'ahu-1': 0 } });
  t.teardown(() => sim.close());
  const { driver, device } = await driverFor(t, site, sim, 'ahu-1');
  const points = device.profile.points;
  const v = await readScaled(driver, points);
  for (const p of points) {
    if (p.range !== undefined) t.ok(typeof v[p.name] === 'number' && (v[p.name] as number) >= p.range[0]! && (v[p.name] as number) <= p.range[1]!, `${p.name} = ${String(v[p.name])} within range`);
  }
  t.ok((v.filter_dp as number) >= 0 && (v.filter_dp as number) <= 100, 'no range: 0…100');
  t.equal(v.serial_number, 'SIM-ahu-1');
  t.ok([0, 1, 2].includes(v.mode as number), 'a coded value is one of its states');
  for (const name of ['status_running', 'status_alarm', 'enable', 'fire_interlock']) t.type(v[name], 'boolean', name);

  await driver.write(points.find((p) => p.name === 'supply_setpoint')!, 21.5 / 0.1);
  await driver.write(points.find((p) => p.name === 'enable')!, true);
  await new Promise((r) => setTimeout(r, 200));
  const after = await readScaled(driver, points);
  t.equal(after.supply_setpoint, 21.5, 'a written setpoint stays');
  t.equal(after.enable, true, 'a written coil stays');
  t.not(after.return_air_humidity, v.return_air_humidity, 'measurements move');
});

t.test('devices sharing a host and port are one server, routed by unit id', async (t) => {
  const port = await freePort();
  const site = loadSite(t, PUMP('pump-1', port, 1) + PUMP('pump-2', port, 2) + AHU('ahu-1', port, 3));
  const sim = await startSimulator(site, { tickMs: 50 });
  t.teardown(() => sim.close());
  t.same(sim.devices.map((d) => `${d.id}@${d.port}`), [`pump-1@${port}`, `pump-2@${port}`, `ahu-1@${port}`]);
  t.equal(sim.devices[0]!.server, sim.devices[2]!.server);
  const { driver: d1 } = await driverFor(t, site, sim, 'pump-1');
  const { driver: d3, device: ahu } = await driverFor(t, site, sim, 'ahu-1');
  const setpoint = site.devices[0]!.profile.points.find((p) => p.name === 'pressure_setpoint')!;
  t.equal((await readAll(d1, [setpoint])).get('pressure_setpoint'), 450);
  t.equal((await readAll(d3, ahu.profile.points)).get('serial_number'), 'SIM-ahu-1', 'unit 3 is the AHU');
});

t.test('only, unknown ids, and a port that is taken', async (t) => {
  const port = await freePort();
  const site = loadSite(t, PUMP('pump-1', port) + AHU('ahu-1', port + 1 > 65535 ? port - 1 : port + 1));
  const only = await startSimulator(site, { only: ['ahu-1'], ports: { 'ahu-1': 0 } });
  t.same(only.devices.map((d) => d.id), ['ahu-1']);
  await only.close();
  await t.rejects(startSimulator(site, { only: ['nope'] }), /no Modbus TCP device with id nope/);

  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
  t.teardown(() => new Promise((r) => blocker.close(r)));
  await t.rejects(startSimulator(site, { ports: { 'ahu-1': 0 } }), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for pump-1: .*EADDRINUSE`));
});
