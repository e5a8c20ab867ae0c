/**
 * The default flows of flows/ (lighting, pump, elevator entrapment), exactly as the gateway
 * loads them on first start, running in Node-RED against a real MQTT broker and a
 * stand-in of the gateway's API (fixture.ts). They are bound to devices only through the
 * environment the gateway sets (STEWARD_LIGHTING, STEWARD_PUMP, STEWARD_ELEVATOR, …).
 */
import t from 'tap';
import { bindingsEnv } from '../../src/flows/bindings.js';
import { defaultFlows } from '../../src/flows/node-red.js';
import { until } from '../../../test/support/until.js';
import { coreNodes, helper, startFixture, stewardNodes } from './fixture.js';

const fx = await startFixture();
t.teardown(() => fx.close());
const SITE = 'site-b';

const hhmm = (ms: number) => new Date(ms).toTimeString().slice(0, 5);
// channel_1 all night; channel_2's window is already over at this time of day (it ends a minute ago).
const now = Date.now();
Object.assign(
  process.env,
  { STEWARD_SITE: SITE },
  bindingsEnv({
    lighting: {
      device: 'light-1',
      onBelowLux: 30,
      offAboveLux: 80,
      confirmMs: 300,
      channels: [
        { point: 'channel_1', from: '00:00', to: '24:00' },
        { point: 'channel_2', from: hhmm(now - 3 * 3600_000), to: hhmm(now - 60_000) },
      ],
    },
    pump: { devices: ['pump-1'], lowPressureBar: 1.5, deadbandBar: 0.2, delayMs: 500 },
    elevator: { devices: ['elev-1'], callPoint: 'entrapment', cameras: { 'elev-1': 'cam-1' } },
  }),
);

const flows = defaultFlows().map((n) => (n.type === 'steward-gateway' ? { ...n, url: fx.apiUrl, mqttUrl: fx.mqttUrl, site: SITE } : n));
await helper.load([...stewardNodes, ...coreNodes], flows, { 'steward-gw': { user: 'node-red', password: 'nr-pw' } });
const writes = await fx.answerWrites();
const value = (device: string, point: string, v: unknown) => fx.publishValue(SITE, device, point, v);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const alarmCalls = () => fx.calls.filter((c) => c.url === '/api/v1/alarms/external').map((c) => c.body);
const woCalls = () => fx.calls.filter((c) => c.method === 'POST' && c.url === '/api/v1/work-orders').map((c) => c.body);

t.test('the default flows name no device: every binding comes from the environment', async (t) => {
  const text = JSON.stringify(defaultFlows());
  for (const id of ['pump-1', 'pump-2', 'light-garden', 'elev-1-a', 'cam-gate', 'cam-b1']) t.notOk(text.includes(`"${id}"`) || text.includes(`${id}.`), `no ${id}`);
  t.ok(defaultFlows().some((n) => n.type === 'tab' && /Lighting/.test(String(n.label))));
  t.equal(defaultFlows().filter((n) => n.type === 'steward-gateway').length, 1, 'one shared gateway node');
});

t.test('pump: low pressure while running → alarm → work order; recovery clears; a second drop reuses the open work order', async (t) => {
  await value('pump-1', 'running', true);
  await value('pump-1', 'outlet_pressure', 3.0);
  await sleep(700);
  t.same(alarmCalls(), [], 'normal pressure: no alarm');
  await value('pump-1', 'outlet_pressure', 0.4); // pressure loss
  await until('the alarm', () => alarmCalls().length === 1);
  t.match(alarmCalls()[0], { source: 'pump-1', name: 'low_pressure_running', active: true, severity: 'major', priority: 'P2', message: /0\.40 bar < 1\.5 bar/ });
  await until('the work order', () => woCalls().length === 1);
  t.match(woCalls()[0], { priority: 'P2', category: 'plumbing', device: 'pump-1', alarm: 'pump-1:low_pressure_running', title: /pump-1/ });

  await value('pump-1', 'outlet_pressure', 1.6); // above the limit, inside the deadband: still active
  await sleep(300);
  t.equal(alarmCalls().length, 1);
  await value('pump-1', 'outlet_pressure', 3.1);
  await until('the clear', () => alarmCalls().length === 2);
  t.match(alarmCalls()[1], { source: 'pump-1', name: 'low_pressure_running', active: false });

  await value('pump-1', 'outlet_pressure', 0.5);
  await until('the second alarm', () => alarmCalls().length === 3);
  await sleep(500);
  t.equal(woCalls().length, 1, 'the open work order of the alarm is reused');
  await value('pump-1', 'running', false); // the pump stops: not a pressure fault any more
  await until('the clear on stop', () => alarmCalls().length === 4);
  t.match(alarmCalls()[3], { active: false });
});

t.test('lighting: on at dusk (with hysteresis and confirmation), within each channel’s timetable; manual override; the panel key', async (t) => {
  await value('light-1', 'manual_override', false);
  await value('light-1', 'channel_1', false);
  await value('light-1', 'channel_2', false);
  await value('light-1', 'illuminance', 5000);
  await sleep(500);
  t.same(writes, [], 'daylight: nothing to switch');

  await value('light-1', 'illuminance', 25); // dusk: below onBelowLux…
  await sleep(400); // …for confirmMs
  await value('light-1', 'illuminance', 20);
  await until('channel 1 on', () => writes.length >= 1);
  await sleep(300);
  t.same(
    writes.map((w) => [w.topic, w.v]),
    [[`steward/v1/${SITE}/light-1/channel_1/set`, true]],
    'channel_1 on; channel_2 stays off: its window is over',
  );
  await value('light-1', 'channel_1', true); // the controller reads back

  await value('light-1', 'illuminance', 60); // between the thresholds: stays dark
  await sleep(400);
  await value('light-1', 'illuminance', 70);
  await sleep(300);
  t.equal(writes.length, 1, 'hysteresis: no switch-off below offAboveLux');

  await value('light-1', 'illuminance', 90); // a passing headlight: not held for confirmMs
  await value('light-1', 'illuminance', 40);
  await sleep(400);
  await value('light-1', 'illuminance', 45);
  await sleep(300);
  t.equal(writes.length, 1, 'a short flash of light does not switch off');

  helper.getNode('steward-lighting-force-off').receive({ topic: 'override', payload: { mode: 'off', durationMs: 3600_000 } });
  await until('manual off', () => writes.length >= 2);
  await sleep(300);
  t.same(writes.slice(1).map((w) => [w.topic.split('/').at(-2), w.v]), [['channel_1', false]], 'manual override: off while dark');
  await value('light-1', 'channel_1', false);

  helper.getNode('steward-lighting-auto').receive({ topic: 'override', payload: { mode: 'auto' } });
  await until('back to automatic: on again', () => writes.length >= 3);
  t.same([writes[2]?.topic.split('/').at(-2), writes[2]?.v], ['channel_1', true]);
  await value('light-1', 'channel_1', true);

  await value('light-1', 'manual_override', true); // the panel's key switch in manual
  await value('light-1', 'illuminance', 5000);
  await sleep(400);
  await value('light-1', 'illuminance', 6000);
  await sleep(300);
  t.equal(writes.length, 3, 'the panel is in manual: the flow writes nothing');
});

t.test('elevator: entrapment → P1 alarm and P1 work order with the camera picture; released → cleared', async (t) => {
  await value('elev-1', 'car_moving', false);
  await value('elev-1', 'door_zone', true);
  await value('elev-1', 'door_state', 0);
  await value('elev-1', 'entrapment', false);
  await sleep(300);
  const before = alarmCalls().length;
  await value('elev-1', 'door_zone', false); // stopped between floors…
  await value('elev-1', 'entrapment', true); // …and a passenger calls
  await until('the P1 alarm', () => alarmCalls().length === before + 1);
  t.match(alarmCalls().at(-1), { source: 'elev-1', name: 'passengers_trapped', active: true, severity: 'critical', priority: 'P1' });
  await until('the work order', () => woCalls().some((w) => w?.device === 'elev-1'));
  const wo = woCalls().find((w) => w?.device === 'elev-1');
  t.match(wo, { priority: 'P1', category: 'elevator', alarm: 'elev-1:passengers_trapped', description: /snapshots\/cam-1\/e1\.jpg/ });
  await value('elev-1', 'door_zone', true); // rescued: the car is brought to a landing
  await until('the clear', () => alarmCalls().length === before + 2);
  t.match(alarmCalls().at(-1), { source: 'elev-1', name: 'passengers_trapped', active: false });
});
