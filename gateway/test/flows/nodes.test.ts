/**
 * Steward's Node-RED nodes (flows/nodes/), each in a Node-RED runtime started by
 * node-red-node-test-helper, against a real MQTT broker (aedes, as the gateway embeds)
 * and a stand-in of the gateway's HTTP API that answers as the real one does and records
 * what it was asked (fixture.ts). One runtime for the whole file: Node-RED costs ~1 s.
 */
import t from 'tap';
import { until } from '../../../test/support/until.js';
import { helper, startFixture, stewardNodes as nodes } from './fixture.js';

const fx = await startFixture();
t.teardown(() => fx.close());
const { calls, workOrders, peer } = fx;

const gw = { id: 'gw', type: 'steward-gateway', url: fx.apiUrl, site: 'site-a', mqttUrl: fx.mqttUrl };
const creds = { gw: { user: 'node-red', password: 'nr-pw' } };
/** Loads a flow of `nodes` wired to a collecting helper node `out`; returns what it got. */
async function load(flow: Record<string, unknown>[]): Promise<Record<string, unknown>[]> {
  await helper.unload();
  await helper.load(nodes, [gw, ...flow, { id: 'out', type: 'helper' }], creds);
  const got: Record<string, unknown>[] = [];
  helper.getNode('out').on('input', (m) => got.push(m));
  return got;
}
const publishValue = (device: string, point: string, v: unknown, q = 'good') => fx.publishValue('site-a', device, point, v, q);

t.test('point in: the retained value at start, then each change, named device.point', async (t) => {
  await publishValue('pump-1', 'outlet_pressure', 3.1);
  await publishValue('pump-9', 'outlet_pressure', 9.9); // a device not watched
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: 'pump-1, pump-2', points: 'outlet_pressure,running', changesOnly: true, wires: [['out']] }]);
  await until('the retained value', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-1.outlet_pressure', payload: 3.1, device: 'pump-1', point: 'outlet_pressure', quality: 'good' });
  await publishValue('pump-1', 'outlet_pressure', 3.1); // same value and quality: not a change
  await publishValue('pump-2', 'running', true);
  await until('the change of pump-2', () => got.some((m) => m.topic === 'pump-2.running'));
  await publishValue('pump-1', 'outlet_pressure', 0.8, 'good');
  await until('the pressure drop', () => got.filter((m) => m.topic === 'pump-1.outlet_pressure').length === 2);
  t.same(
    got.map((m) => [m.topic, m.payload]),
    [
      ['pump-1.outlet_pressure', 3.1],
      ['pump-2.running', true],
      ['pump-1.outlet_pressure', 0.8],
    ],
  );
  t.notOk(got.some((m) => m.device === 'pump-9'), 'an unwatched device sends nothing');
});

t.test('point in: a message at its input reads the latest values (from the API before the bus has one)', async (t) => {
  await peer.publishAsync('steward/v1/site-a/pump-2/running', '', { retain: true, qos: 1 }); // no retained value
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: 'pump-2', points: 'running', wires: [['out']] }]);
  helper.getNode('in').receive({ topic: 'pump-2.running' });
  await until('the read', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-2.running', payload: true, quality: 'good', ts: 1700000000000 });
});

t.test('point in: devices from the environment, a ${VAR} property', async (t) => {
  process.env.TEST_STEWARD_DEVICES = 'pump-7';
  await publishValue('pump-7', 'running', false);
  const got = await load([{ id: 'in', type: 'steward-point-in', gateway: 'gw', devices: '${TEST_STEWARD_DEVICES}', points: 'running', wires: [['out']] }]);
  await until('the value of the device named by the environment', () => got.length >= 1);
  t.match(got[0], { topic: 'pump-7.running', payload: false });
});

t.test('point out by MQTT: {v, id} on …/set, the gateway answer on …/set/result goes on', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-point-out', gateway: 'gw', via: 'mqtt', wires: [['out']] }]);
  const requests = await fx.answerWrites((topic) => !topic.includes('channel_1'));
  await until('the MQTT link of the node', async () => {
    helper.getNode('w').receive({ topic: 'light-1.channel_1', payload: true });
    await new Promise((r) => setTimeout(r, 300));
    return got.length > 0;
  });
  t.match(got[0], { topic: 'light-1.channel_1', payload: { ok: true, point: 'light-1.channel_1', value: true, previous: false } });
  t.match(requests[0], { topic: 'steward/v1/site-a/light-1/channel_1/set', v: true });
  t.type(requests[0]?.id, 'string');
});

t.test('point out by API: the write, and a refused write is an error with the gateway code, not an output', async (t) => {
  const got = await load([
    { id: 'w', type: 'steward-point-out', gateway: 'gw', via: 'api', device: '', point: '', wires: [['out']] },
    { id: 'c', type: 'catch', scope: ['w'], wires: [['errors']] },
    { id: 'errors', type: 'helper' },
  ]);
  const errors: Record<string, unknown>[] = [];
  helper.getNode('errors').on('input', (m) => errors.push(m));
  helper.getNode('w').receive({ topic: 'pump-1.pressure_setpoint', payload: 4.5 });
  await until('the write', () => got.length === 1);
  t.match(got[0], { payload: { ok: true, point: 'pump-1.pressure_setpoint', value: 4.5 } });
  t.match(calls.at(-1), { method: 'POST', url: '/api/v1/points/pump-1.pressure_setpoint/write', auth: /^Bearer sgw_/, body: { value: 4.5 } });
  helper.getNode('w').receive({ topic: 'pump-1.outlet_pressure', payload: 1 });
  await until('the refusal', () => errors.length === 1);
  t.match(String((errors[0]?.error as { message: string }).message), /read-only/);
  t.equal(got.length, 1, 'nothing sent on for a refused write');
});

t.test('alarm: raise and clear by msg.payload, logged in again when the session expired', async (t) => {
  const got = await load([{ id: 'a', type: 'steward-alarm', gateway: 'gw', action: 'raise', source: '', alarmName: 'low_pressure_running', severity: 'major', message: 'low pressure while running', wires: [['out']] }]);
  fx.token = 'sgw_second'; // the gateway's earlier sessions are gone
  helper.getNode('a').receive({ device: 'pump-1', payload: true });
  await until('the raise', () => got.length === 1);
  t.match(got[0], { payload: { id: 'pump-1:low_pressure_running', state: 'unack_active' }, alarm: { source: 'pump-1', name: 'low_pressure_running', active: true, severity: 'major', id: 'pump-1:low_pressure_running' } });
  t.match(
    calls.filter((c) => c.url === '/api/v1/alarms/external').at(-1),
    { auth: 'Bearer sgw_second', body: { source: 'pump-1', name: 'low_pressure_running', active: true, severity: 'major', message: 'low pressure while running' } },
  );
  helper.getNode('a').receive({ device: 'pump-1', payload: false });
  await until('the clear', () => got.length === 2);
  t.match(got[1], { payload: { state: 'normal' } });
});

t.test('work order: linked to the alarm before it, with the newest camera picture attached', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-work-order', gateway: 'gw', title: '困人 Entrapment', priority: 'P1', category: 'elevator', camera: '', wires: [['out']] }]);
  helper.getNode('w').receive({ device: 'elev-1', alarm: { id: 'alarm-9' }, workOrder: { camera: 'cam-1', description: 'car stopped between floors' } });
  await until('the work order', () => got.length === 1);
  const body = calls.filter((c) => c.url === '/api/v1/work-orders').at(-1)?.body as Record<string, string>;
  t.match(body, { title: '困人 Entrapment', priority: 'P1', category: 'elevator', device: 'elev-1', alarm: 'alarm-9' });
  t.match(body.description, /car stopped between floors[\s\S]*cam-1: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/snapshots\/cam-1\/e1\.jpg/);
  t.match(got[0], { payload: { status: 'open', priority: 'P1' }, snapshot: { camera: 'cam-1', file: 'e1.jpg', event: 'e1' } });
  const wo = workOrders.find((w) => w.id === (got[0]?.payload as { id: string }).id);
  t.match(wo?.notes, [{ attachments: [{ kind: 'snapshot', camera: 'cam-1', file: 'e1.jpg', url: /\/api\/v1\/snapshots\/cam-1\/e1\.jpg$/ }] }], 'the picture is attached as a note');
});

t.test('work order: one open work order per alarm — raised again, the open one goes on', async (t) => {
  const got = await load([{ id: 'w', type: 'steward-work-order', gateway: 'gw', title: 'Low pressure', priority: 'P2', dedupe: true, wires: [['out']] }]);
  const before = workOrders.length;
  helper.getNode('w').receive({ device: 'pump-1', alarm: { id: 'pump-1:low_pressure_running' } });
  await until('the first', () => got.length === 1);
  helper.getNode('w').receive({ device: 'pump-1', alarm: { id: 'pump-1:low_pressure_running' } });
  await until('the second', () => got.length === 2);
  t.equal(workOrders.length, before + 1, 'one work order made');
  t.match(got, [{ existing: false }, { existing: true, payload: { id: (got[0]?.payload as { id: string }).id } }]);
});

t.test('work order: one opened first by a gateway rule gets the camera picture added', async (t) => {
  workOrders.push({ id: 'rule-made-1', status: 'open', title: 'by rule p1-alarms', alarm: 'elev-2:passengers_trapped' });
  const got = await load([{ id: 'w', type: 'steward-work-order', gateway: 'gw', title: 'Entrapment', priority: 'P1', camera: 'cam-1', wires: [['out']] }]);
  helper.getNode('w').receive({ device: 'elev-2', alarm: { id: 'elev-2:passengers_trapped' } });
  await until('the existing one', () => got.length === 1);
  t.match(got[0], { existing: true, payload: { id: 'rule-made-1' }, snapshot: { file: 'e1.jpg' } });
  t.match(workOrders.find((w) => w.id === 'rule-made-1')?.notes, [{ attachments: [{ kind: 'snapshot', camera: 'cam-1' }] }]);
});

t.test('event in: a model’s decision (anomaly.detected) from the bus, by type family and device', async (t) => {
  const got = await load([{ id: 'ev', type: 'steward-event-in', gateway: 'gw', types: 'anomaly.*,failure.predicted', devices: 'pump-1', wires: [['out']] }]);
  const publish = (type: string, device: string, body: Record<string, unknown>) =>
    peer.publishAsync(`steward/v1/site-a/events/${type}`, JSON.stringify({ id: `e-${type}-${device}`, ts: Date.now(), site: 'site-a', device, type, severity: 'minor', body }), { qos: 1 });
  await until('the node subscribed', async () => {
    await publish('anomaly.detected', 'pump-1', { model: 'pump-anomaly', score: 0.93, threshold: 0.7 });
    await new Promise((r) => setTimeout(r, 200));
    return got.length > 0;
  });
  await publish('anomaly.detected', 'pump-2', { score: 0.99 }); // another device
  await publish('alarm.raised', 'pump-1', {}); // another family
  await publish('failure.predicted', 'pump-1', { model: 'pump-rul', horizonH: 72 });
  await until('the prediction', () => got.some((m) => m.topic === 'failure.predicted'));
  t.match(got[0], { topic: 'anomaly.detected', device: 'pump-1', severity: 'minor', payload: { body: { score: 0.93, threshold: 0.7 } } });
  t.notOk(got.some((m) => m.device === 'pump-2' || m.topic === 'alarm.raised'), 'other devices and families are left out');
});
