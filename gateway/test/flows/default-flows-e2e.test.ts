/**
 * The default flows end to end: the simulated community (a pump, the lighting controller,
 * a lift and a camera), the gateway polling it with its broker, alarm engine and work
 * orders, and its Node-RED running the default flows — nothing stands in for anything.
 *
 * - Lighting: the lighting controller's simulator starts a little before today's sunset at
 *   Shenzhen and runs 60× faster; as its sky darkens, the flow switches the channel whose
 *   timetable window is now on at dusk (and not before), and keeps the one outside its
 *   window off, through the broker's guarded `…/set` writes, down to the simulated relays.
 * - Pump: an injected pressure loss gives the flow's alarm and its work order.
 * - Elevator: an entrapment gives the P1 alarm and a work order with the camera's picture.
 *
 * Hysteresis and confirmation in detail are in default-flows.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startCommunity } from '../../../scripts/sim/community.js';
import { solarElevationDeg } from '../../../scripts/sim/models/lighting-controller.js';
import { startSimulator } from '../../../scripts/sim/sim.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { freePort } from '../../../test/support/ports.js';
import { until } from '../../../test/support/until.js';

t.setTimeout(240_000);
const dir = mkdtempSync(path.join(tmpdir(), 'steward-flows-e2e-'));
const file = path.join(dir, 'site.yaml');
const nrPort = await freePort();
const siteTime = (ms: number) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(ms);
const later = [siteTime(Date.now() + 2 * 3600_000), siteTime(Date.now() + 3 * 3600_000)];
const yaml = (ports: Record<string, number>) => `site: { id: e2e-flows, name: E2E, timezone: Asia/Shanghai }
gateway:
  dataDir: ./data
  logLevel: silent
  nodeRed:
    enabled: true
    port: ${nrPort}
    # On below 50 lx (civil twilight), off above 100 lx; channel_4's window is later today.
    lighting: { device: light-garden, onBelowLux: 50, offAboveLux: 100, confirmMs: 0, channels: [{ point: channel_4, from: "${later[0]}", to: "${later[1]}" }, { point: channel_7, from: "00:00", to: "24:00" }] }
    pump: { devices: [pump-1], lowPressureBar: 1.5, delayMs: 1000 }
    elevator: { devices: [elev-1-a], cameras: { elev-1-a: cam-b1 } }
users:
  - { name: tech, role: technician, passwordEnv: TECH_PW }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 250, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${ports['pump-1']} } }
  - { id: light-garden, profile: lighting/lighting-controller, system: lighting, pollIntervalMs: 250, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${ports['light-garden']} } }
  - { id: elev-1-a, profile: elevator/traction-elevator, system: elevator, location: { building: T1 }, pollIntervalMs: 250, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${ports['elev-1-a']} } }
  - { id: cam-b1, profile: camera/onvif-camera, system: camera, connection: { protocol: onvif, url: "http://127.0.0.1:${ports['cam-b1']}", username: admin, passwordEnv: CAM_PW } }
`;
const env = { TECH_PW: 'tech-pass', CAM_PW: 'cam-pass' };
const ids = ['pump-1', 'light-garden', 'elev-1-a', 'cam-b1'];
writeFileSync(file, yaml(Object.fromEntries(ids.map((id) => [id, 1]))));
const sim = await startCommunity(loadSiteConfig(file, env), { seed: 7, ports: Object.fromEntries(ids.map((id) => [id, 0])), only: ids.filter((id) => id !== 'light-garden') });
t.teardown(() => sim.close());
// The lighting controller on a clock of its own, from the next moment the sun is 1.5° above
// Shenzhen's horizon: at the real pace while Node-RED starts, then 60× (dark ~0.5 min later).
let dusk = Math.ceil(Date.now() / 60_000) * 60_000;
while (!(solarElevationDeg(dusk) >= 1.5 && solarElevationDeg(dusk + 60_000) < 1.5)) dusk += 60_000;
const sky = await startSimulator(loadSiteConfig(file, env), { seed: 7, only: ['light-garden'], ports: { 'light-garden': 0 }, startAt: dusk, tickMs: 50 });
t.teardown(() => sky.close());
writeFileSync(file, yaml(Object.fromEntries([...sim.devices, ...sky.devices].map((d) => [d.id, d.port]))));
const gw = await startGateway(loadSiteConfig(file, env), { httpPort: 0, log: createLogger({ level: 'silent' }) });
t.teardown(() => gw.close());
const device = (id: string) => sim.devices.find((d) => d.id === id)!;

const token = ((await (await fetch(`${gw.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'tech', password: 'tech-pass' }) })).json()) as { token: string }).token;
const get = async <T>(p: string): Promise<T> => (await (await fetch(`${gw.url}${p}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
const point = async (id: string, name: string) => (await get<{ point: string; value: unknown }[]>(`/api/v1/points?device=${id}`)).find((p) => p.point === name)?.value;
type Alarm = { id: string; state: string; severity: string; priority: string };
type WorkOrder = { id: string; title: string; priority: string; alarm?: string; createdBy: string; status: string; notes: { text: string; attachments?: { kind: string; camera: string; file: string }[] }[] };
const alarm = async (id: string) => (await get<Alarm[]>('/api/v1/alarms')).find((a) => a.id === id);
const workOrderOf = async (alarmId: string) => (await get<{ items: WorkOrder[] }>(`/api/v1/work-orders?alarm=${encodeURIComponent(alarmId)}`)).items[0];

await until('Node-RED running the default flows', () => gw.nodeRed?.status().state === 'running', 120_000, 200);

t.test('lighting: at dusk in the simulated sky the flow switches the relays through the guarded MQTT writes', async (t) => {
  // At start the simulator has the lobby (channel_4) on and the spare (channel_7) off; the sun is up.
  const seen: { lux: number; ch7: boolean }[] = [];
  await until('the flow has seen the light sky', async () => (await point('light-garden', 'channel_4')) === false, 60_000, 200); // its timetable turned the lobby off
  sky.setTimeScale(60);
  await until('channel_7 on at dusk', async () => {
    const lux = (await point('light-garden', 'illuminance')) as number;
    const ch7 = (await point('light-garden', 'channel_7')) === true;
    if (typeof lux === 'number') seen.push({ lux, ch7 });
    return ch7;
  }, 120_000, 200);
  t.ok(seen.some((x) => !x.ch7 && x.lux >= 100), `channel_7 was off while the sky was light (first ${Math.round(seen[0]?.lux ?? NaN)} lx)`);
  const on = seen.findIndex((x) => x.ch7);
  t.ok(on > 0 && seen[on - 1]!.lux < 100, `it came on as the illuminance fell through the thresholds (${Math.round(seen[on - 1]?.lux ?? NaN)} lx just before)`);
  t.equal(await point('light-garden', 'channel_4'), false, 'channel_4 stays off: dark, but outside its window');
  const audit = await get<{ actor: string; action: string; target: string; result: string }[]>('/api/v1/audit?limit=1000');
  t.ok(audit.some((a) => a.target === 'light-garden.channel_7' && a.actor === 'mqtt:node-red' && a.result === 'ok'), 'the write is audited under Node-RED’s login');
  t.ok(audit.some((a) => a.target === 'light-garden.channel_4' && a.actor === 'mqtt:node-red' && a.result === 'ok'));
});

t.test('pump: an injected pressure loss → the flow’s alarm → its work order', async (t) => {
  await until('pump-1 running', async () => (await point('pump-1', 'running')) === true, 60_000, 200);
  device('pump-1').faults.setFault('pressure-loss', true, 0.9);
  const a = await until('the flow’s alarm', () => alarm('pump-1:low_pressure_running').then((x) => (x?.state === 'unack_active' ? x : undefined)), 60_000, 200);
  t.match(a, { severity: 'major', priority: 'P2' });
  const wo = await until('its work order', () => workOrderOf('pump-1:low_pressure_running'), 30_000, 200);
  t.match(wo, { priority: 'P2', status: 'open', createdBy: 'node-red', title: /pump-1/ });
  device('pump-1').faults.setFault('pressure-loss', false);
  await until('the alarm cleared', () => alarm('pump-1:low_pressure_running').then((x) => x !== undefined && !x.state.endsWith('_active')), 60_000, 200);
});

t.test('elevator: an entrapment → P1 alarm and a work order with the camera’s picture', async (t) => {
  // A picture of cam-b1 to attach: a tamper event comes with a snapshot.
  device('cam-b1').faults.setFault('camera-tamper', true);
  await until('a picture of cam-b1', async () => (await get<{ body: { snapshot?: { file: string } } }[]>('/api/v1/events?device=cam-b1')).some((e) => e.body.snapshot?.file !== undefined), 60_000, 200);
  device('elev-1-a').faults.setFault('entrapment', true);
  const a = await until('the P1 alarm', () => alarm('elev-1-a:passengers_trapped').then((x) => (x?.state === 'unack_active' ? x : undefined)), 60_000, 200);
  t.match(a, { severity: 'critical', priority: 'P1' });
  // The flow's work order, or one a gateway rule opened first for the P1 alarm: either way with the picture.
  const wo = await until('the work order with the picture', () => workOrderOf('elev-1-a:passengers_trapped').then((w) => (w?.notes.some((n) => n.attachments?.some((x) => x.kind === 'snapshot')) ? w : undefined)), 30_000, 200);
  t.match(wo, { priority: 'P1', status: 'open' });
  t.match(wo.notes.find((n) => n.attachments !== undefined)?.attachments, [{ kind: 'snapshot', camera: 'cam-b1', file: /\.(jpg|png)$/ }]);
  // One incident, one work order: the profile's entrapment alarm and the flow's are linked
  // to the same one (by its alarm or a note), not two.
  const open = (await get<{ items: WorkOrder[] }>('/api/v1/work-orders?open=true&device=elev-1-a')).items;
  t.equal(open.length, 1, 'one work order for the entrapment');
  t.equal((await get<{ items: WorkOrder[] }>('/api/v1/work-orders?open=true&alarm=elev-1-a:passengers_trapped')).items.length, 1, 'found by the flow\'s alarm');
  device('elev-1-a').faults.setFault('entrapment', false);
  await until('the alarm cleared', () => alarm('elev-1-a:passengers_trapped').then((x) => x !== undefined && !x.state.endsWith('_active')), 60_000, 200);
});
