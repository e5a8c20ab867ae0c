/**
 * The gateway's MQTT bus end to end, against a simulated pump and Debian's mosquitto
 * clients: a subscriber gets every point's latest value at once (retained) and the
 * device's state; an operator's `…/set` reaches the pump through the API's guards, is
 * audited as `mqtt:<user>` and answered on `…/set/result`; a refused value is answered
 * with the guard's error; a viewer's `…/set` is never written; events — a device going
 * offline, an alarm recorded by any part — are published.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../../scripts/sim/sim.js';
import { hashPassword } from '../../src/api/auth.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { until } from '../../../test/support/until.js';
import { client, mosquitto } from './mqtt-peers.js';

// The broker in the poller's thread, and in its worker thread (gateway.mqtt.worker: writes and logins cross the threads).
for (const worker of [false, true]) t.test(`values, states, writes and events on the gateway bus${worker ? ' (broker in a worker thread)' : ''}`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bus-'));
  const file = path.join(dir, 'site.yaml');
  const hash = await hashPassword('operator-pass');
  const yaml = (port: number) => `site: { id: s1, name: S }
gateway:
  dataDir: ./data
  logLevel: silent
  mqtt:${worker ? '\n    worker: true' : ''}
    users:
      - { username: panel, role: viewer, passwordEnv: PANEL_MQTT_PASSWORD }
users:
  - { name: op, role: operator, passwordHash: "${hash}" }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 200, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }
`;
  writeFileSync(file, yaml(1));
  const env = { PANEL_MQTT_PASSWORD: 'panel-pass' };
  const sim = await startSimulator(loadSiteConfig(file, env), { ports: { 'pump-1': 0 } });
  let simClosed = false;
  t.teardown(() => (simClosed ? undefined : sim.close()));
  writeFileSync(file, yaml(sim.devices[0]!.port));
  const config = loadSiteConfig(file, env);
  const gw = await startGateway(config, { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  t.ok(gw.broker, 'the broker runs by default');
  const port = Number(new URL(gw.broker!.url).port);
  t.not(port, 1884, 'tests get a free port, never the default');
  const points = config.devices[0]!.profile.points.length;

  await until('pump-1 online', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { state: string }[];
    return list[0]?.state === 'online' ? true : undefined;
  });

  // Retained: a late subscriber gets every point of the pump at once, and its state
  // (`--retained-only`: mosquitto_sub prints what was retained and stops at the first live message).
  const byTopic = await until('every point retained', async () => {
    const run = await mosquitto('mosquitto_sub', port, ['-u', 'panel', '-P', 'panel-pass', '-t', 'steward/v1/s1/pump-1/+', '-v', '--retained-only', '-W', '2']);
    const topics = new Map(
      run.stdout
        .trim()
        .split('\n')
        .filter((line) => line.includes(' '))
        .map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)] as const),
    );
    return topics.size === points + 1 ? topics : undefined;
  });
  t.equal(byTopic.get('steward/v1/s1/pump-1/$state'), 'online');
  t.match(JSON.parse(byTopic.get('steward/v1/s1/pump-1/pressure_setpoint')!), { v: 4.5, q: 'good', ts: Number });

  // The results of writes, and events, for an operator watching.
  const watcher = await client(gw.broker!.url, { username: 'op', password: 'operator-pass' });
  t.teardown(() => watcher.endAsync());
  const seen: { topic: string; body: Record<string, unknown> }[] = [];
  watcher.on('message', (topic, payload) => {
    if (topic.endsWith('/set/result') || topic.includes('/events/')) seen.push({ topic, body: JSON.parse(payload.toString()) as Record<string, unknown> });
  });
  await watcher.subscribeAsync(['steward/v1/s1/+/+/set/result', 'steward/v1/s1/events/#'], { qos: 1 });

  // An operator's write reaches the pump, audited as mqtt:op, answered on …/set/result.
  const ok = await mosquitto('mosquitto_pub', port, ['-u', 'op', '-P', 'operator-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '5.5']);
  t.equal(ok.code, 0, ok.stderr);
  const result = await until('the write result', () => seen.find((m) => m.topic === 'steward/v1/s1/pump-1/pressure_setpoint/set/result'));
  t.match(result.body, { ok: true, v: 5.5, previous: 4.5, by: 'op' });
  await until('the setpoint read back from the pump', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/points?device=pump-1`)).json()) as { point: string; value: unknown }[];
    return list.find((p) => p.point === 'pressure_setpoint')?.value === 5.5 ? true : undefined;
  });
  const newValue = await mosquitto('mosquitto_sub', port, ['-u', 'panel', '-P', 'panel-pass', '-t', 'steward/v1/s1/pump-1/pressure_setpoint', '-C', '1', '-W', '5']);
  t.match(JSON.parse(newValue.stdout), { v: 5.5 }, 'the retained value follows the device');
  t.match(gw.store.auditLog()[0], { actor: 'mqtt:op', action: 'point.write', target: 'pump-1.pressure_setpoint', detail: { old: 4.5, new: 5.5 }, result: 'ok' });

  // The guards answer on …/set/result, and the refusal is audited.
  seen.length = 0;
  await mosquitto('mosquitto_pub', port, ['-u', 'op', '-P', 'operator-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '{"v": 50, "id": "too-high"}']);
  const refused = await until('the refusal', () => seen.find((m) => m.body.id === 'too-high'));
  t.match(refused.body, { ok: false, v: 50, code: 'GW_ERR_WRITE_REFUSED', message: /outside the point's range/, by: 'op' });
  t.match(gw.store.auditLog()[0], { actor: 'mqtt:op', target: 'pump-1.pressure_setpoint', result: 'refused' });
  await mosquitto('mosquitto_pub', port, ['-u', 'op', '-P', 'operator-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/outlet_pressure/set', '-m', '{"v": 1, "id": "read-only"}']);
  t.match((await until('read-only refusal', () => seen.find((m) => m.body.id === 'read-only'))).body, { ok: false, code: 'GW_ERR_WRITE_REFUSED', message: /read-only/ });
  await mosquitto('mosquitto_pub', port, ['-u', 'op', '-P', 'operator-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '{"value": 5, "id": "bad"}']);
  t.match((await until('bad payload', () => seen.find((m) => m.body.id === 'bad'))).body, { ok: false, code: 'GW_ERR_MQTT_BAD_PAYLOAD' });

  // A viewer's write is never written, nor audited as a write.
  const audited = gw.store.auditLog().length;
  const viewer = await mosquitto('mosquitto_pub', port, ['-u', 'panel', '-P', 'panel-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '1']);
  t.not(viewer.code, 0, 'the viewer is disconnected');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(gw.store.auditLog().length, audited, 'no write attempted');
  const list = (await (await fetch(`${gw.url}/api/v1/points?device=pump-1`)).json()) as { point: string; value: unknown }[];
  t.equal(list.find((p) => p.point === 'pressure_setpoint')?.value, 5.5, 'the setpoint is unchanged');

  // Events recorded by any part (here as the alarm engine would) are published.
  seen.length = 0;
  gw.store.recordEvent({ ts: Date.now(), device: 'pump-1', type: 'alarm.raised', severity: 'major', body: { rule: 'outlet_pressure low' } });
  const alarm = await until('the alarm event', () => seen.find((m) => m.topic === 'steward/v1/s1/events/alarm.raised'));
  t.match(alarm.body, { type: 'alarm.raised', site: 's1', device: 'pump-1', severity: 'major', body: { rule: 'outlet_pressure low' }, id: String });

  // The pump goes away: device.offline is published and $state follows, retained.
  await sim.close();
  simClosed = true;
  const offline = await until('device.offline', () => seen.find((m) => m.topic === 'steward/v1/s1/events/device.offline'), 30_000);
  t.match(offline.body, { device: 'pump-1', type: 'device.offline' });
  const state = await mosquitto('mosquitto_sub', port, ['-u', 'panel', '-P', 'panel-pass', '-t', 'steward/v1/s1/pump-1/$state', '-C', '1', '-W', '5']);
  t.equal(state.stdout.trim(), 'offline');
  const stale = await mosquitto('mosquitto_sub', port, ['-u', 'panel', '-P', 'panel-pass', '-t', 'steward/v1/s1/pump-1/outlet_pressure', '-C', '1', '-W', '5']);
  t.match(JSON.parse(stale.stdout), { q: 'stale' }, 'values turn stale with the device');
});

t.test('retained values survive a restart: re-published from the store', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bus-restart-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(
    file,
    `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent, mqtt: { users: [{ username: panel, passwordEnv: P }] } }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, enabled: false, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
`,
  );
  const config = loadSiteConfig(file, { P: 'panel-pass' });
  const first = await startGateway(config, { httpPort: 0, log: createLogger({ level: 'silent' }) });
  first.store.writeReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 1000, value: 3.1, quality: 'good' }]);
  await first.close();
  const second = await startGateway(config, { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => second.close());
  const sub = await mosquitto('mosquitto_sub', Number(new URL(second.broker!.url).port), ['-u', 'panel', '-P', 'panel-pass', '-t', 'steward/v1/s1/pump-1/#', '-v', '-C', '2', '-W', '5']);
  t.equal(sub.code, 0, sub.stderr);
  t.match(sub.stdout, 'steward/v1/s1/pump-1/outlet_pressure {"v":3.1,"ts":1000,"q":"good"}');
  t.match(sub.stdout, 'steward/v1/s1/pump-1/$state disabled');
});
