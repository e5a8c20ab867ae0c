/**
 * The broker lets in only the users of site.yaml and lets each do only what its role and
 * ACL allow — checked with Debian's mosquitto clients and the `mqtt` package, MQTT 3.1.1:
 * a wrong password and an anonymous client are refused at CONNECT; a viewer's `…/set` is
 * never written and costs it the connection (MQTT-3.3.5-2); a subscription outside the
 * ACL gets 0x80; an MQTT 5 client is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { hashPassword, verifyPassword } from '../../src/api/auth.js';
import { Broker } from '../../src/broker/broker.js';
import type { MqttConfig } from '../../src/core/config/mqtt.js';
import { createLogger } from '../../src/core/logger.js';
import type { Value } from '../../src/core/model.js';
import { client, mosquitto } from './mqtt-peers.js';

const log = createLogger({ level: 'silent' });
/** The broker in the calling thread, or in its worker thread (gateway.mqtt.worker): every test runs in both. */
let worker = false;

async function startBroker(t: Test, config: Partial<MqttConfig> = {}) {
  const writes: { device: string; point: string; value: Value; actor: string }[] = [];
  const broker = await Broker.start({
    site: 's1',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: true, maxPayloadBytes: 65536, users: [], ...config },
    gatewayUsers: [{ name: 'op', role: 'operator', passwordHash: await hashPassword('operator-pass') }],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: async (device, point, value, actor) => {
      writes.push({ device, point, value, actor });
      return { previous: 1 };
    },
    log,
    port: 0,
    worker,
    tlsPort: 0,
  });
  t.teardown(() => broker.close());
  return { broker, writes, port: Number(new URL(broker.url).port) };
}

function suite(t: Test): void {
  t.test('wrong password and anonymous clients are refused at CONNECT', async (t) => {
    const { port } = await startBroker(t, { users: [{ username: 'panel', role: 'viewer', password: 'panel-pass' }] });
    const wrong = await mosquitto('mosquitto_sub', port, ['-u', 'panel', '-P', 'nope', '-t', 'steward/v1/s1/#', '-C', '1', '-W', '5']);
    t.not(wrong.code, 0, 'mosquitto_sub fails');
    t.match(wrong.stderr, /bad user name or password/i, 'CONNACK 4');
    const unknown = await mosquitto('mosquitto_sub', port, ['-u', 'nobody', '-P', 'x', '-t', 'steward/v1/s1/#', '-C', '1', '-W', '5']);
    t.match(unknown.stderr, /bad user name or password/i, 'an unknown user gets the same answer');
    const anonymous = await mosquitto('mosquitto_sub', port, ['-t', 'steward/v1/s1/#', '-C', '1', '-W', '5']);
    t.not(anonymous.code, 0);
    t.match(anonymous.stderr, /not authori[sz]ed/i, 'CONNACK 5: anonymous access is off by default');
    await t.rejects(client(`mqtt://127.0.0.1:${port}`, { username: 'op', password: 'wrong' }), /Bad username or password/i, 'the mqtt package is refused too');
    const ok = await client(`mqtt://127.0.0.1:${port}`, { username: 'op', password: 'operator-pass' });
    t.ok(ok.connected, 'a gateway login (users:) connects with its password');
    await ok.endAsync();
  });

  t.test('anonymous clients read when allowAnonymous is on, and never write', async (t) => {
    const { port, writes, broker } = await startBroker(t, { allowAnonymous: true });
    broker.publishReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 1, value: 3.2, quality: 'good' }]);
    const sub = await mosquitto('mosquitto_sub', port, ['-t', 'steward/v1/s1/pump-1/outlet_pressure', '-C', '1', '-W', '5']);
    t.equal(sub.code, 0);
    t.same(JSON.parse(sub.stdout), { v: 3.2, ts: 1, q: 'good' });
    const anon = await client(`mqtt://127.0.0.1:${port}`);
    const closed = new Promise<void>((r) => anon.once('close', () => r()));
    anon.publish('steward/v1/s1/pump-1/pressure_setpoint/set', '5');
    await closed;
    t.same(writes, [], 'nothing written');
  });

  t.test('a viewer cannot publish …/set: the point is not written and its connection is closed', async (t) => {
    const { port, writes, broker } = await startBroker(t, { users: [{ username: 'panel', role: 'viewer', password: 'panel-pass' }] });
    const pub = await mosquitto('mosquitto_pub', port, ['-u', 'panel', '-P', 'panel-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '5']);
    t.not(pub.code, 0, 'mosquitto_pub sees the connection close before its PUBACK');
    const viewer = await client(`mqtt://127.0.0.1:${port}`, { username: 'panel', password: 'panel-pass' });
    const closed = new Promise<void>((r) => viewer.once('close', () => r()));
    viewer.publish('steward/v1/s1/pump-1/pressure_setpoint/set', '5', { qos: 1 });
    await closed;
    t.same(writes, [], 'no write reached the gateway');
    t.equal(broker.stats().publishRefused, 2);
  });

  t.test('an operator may write; nobody may publish the gateway’s own topics', async (t) => {
    const { port, writes } = await startBroker(t, { users: [{ username: 'bms', role: 'admin', password: 'bms-pass', acl: { subscribe: ['steward/v1/s1/#'], publish: ['#'] } }] });
    const results = await client(`mqtt://127.0.0.1:${port}`, { username: 'op', password: 'operator-pass' });
    await results.subscribeAsync('steward/v1/s1/+/+/set/result', { qos: 1 });
    const got = new Promise<Record<string, unknown>>((r) => results.once('message', (_topic, payload) => r(JSON.parse(payload.toString()) as Record<string, unknown>)));
    const pub = await mosquitto('mosquitto_pub', port, ['-u', 'op', '-P', 'operator-pass', '-q', '1', '-t', 'steward/v1/s1/pump-1/pressure_setpoint/set', '-m', '{"v": 5.5, "id": "w1"}']);
    t.equal(pub.code, 0);
    t.match(await got, { ok: true, v: 5.5, previous: 1, by: 'op', id: 'w1' });
    t.same(writes, [{ device: 'pump-1', point: 'pressure_setpoint', value: 5.5, actor: 'mqtt:op' }]);
    await results.endAsync();

    // Even an ACL of `#` does not let a client forge a value, an event or a result.
    const admin = await client(`mqtt://127.0.0.1:${port}`, { username: 'bms', password: 'bms-pass' });
    const closed = new Promise<void>((r) => admin.once('close', () => r()));
    admin.publish('steward/v1/s1/pump-1/outlet_pressure', '{"v":99}', { qos: 1, retain: true });
    await closed;
    const sub = await mosquitto('mosquitto_sub', port, ['-u', 'op', '-P', 'operator-pass', '-t', 'steward/v1/s1/pump-1/outlet_pressure', '-C', '1', '-W', '2']);
    t.equal(sub.stdout, '', 'the forged value was not retained');
    // Outside the site's tree the ACL decides.
    const admin2 = await client(`mqtt://127.0.0.1:${port}`, { username: 'bms', password: 'bms-pass' });
    await admin2.publishAsync('bms/zone-1/temperature', '21.5', { qos: 1 });
    t.ok(admin2.connected, 'a publish its ACL allows is acknowledged');
    await admin2.endAsync();
  });

  t.test('subscriptions outside the ACL get return code 0x80 (MQTT-3.9.3)', async (t) => {
    const { port } = await startBroker(t, { users: [{ username: 'pumps', role: 'viewer', password: 'pumps-pass', acl: { subscribe: ['steward/v1/s1/pump-1/#'], publish: [] } }] });
    const c = await client(`mqtt://127.0.0.1:${port}`, { username: 'pumps', password: 'pumps-pass' });
    // mqtt.js fails the whole call on any 0x80; the SUBACK it carries says which filter.
    const err = await c.subscribeAsync(['steward/v1/s1/pump-1/+', 'steward/v1/s1/#', '#', 'steward/v1/s1/pump-2/outlet_pressure']).catch((e: unknown) => e);
    t.same((err as { packet?: { granted?: number[] } }).packet?.granted, [0, 128, 128, 128]);
    t.ok(c.connected, 'a refused subscription does not cost the connection');
    await c.endAsync();
    const sub = await mosquitto('mosquitto_sub', port, ['-u', 'pumps', '-P', 'pumps-pass', '-t', 'steward/v1/s1/#', '-C', '1', '-W', '3']);
    t.equal(sub.stdout, '', 'nothing delivered');
    t.match(sub.stderr, /All subscription requests were denied/, 'mosquitto_sub reports the refused subscription');
  });

  t.test('an MQTT 5 client is refused (aedes speaks 3.1.1)', async (t) => {
    const { port } = await startBroker(t);
    const v5 = await mosquitto('mosquitto_sub', port, ['-V', 'mqttv5', '-u', 'op', '-P', 'operator-pass', '-t', 'steward/v1/s1/#', '-C', '1', '-W', '5']);
    t.not(v5.code, 0);
    t.comment(v5.stderr.trim());
  });

  t.test('a credential issued by the gateway (for Node-RED) works while the broker runs', async (t) => {
    const { port, broker, writes } = await startBroker(t);
    const cred = broker.issueCredential('node-red', 'operator');
    t.equal(cred.url, `mqtt://127.0.0.1:${port}`);
    const pub = await mosquitto('mosquitto_pub', port, ['-u', cred.username, '-P', cred.password, '-q', '1', '-t', 'steward/v1/s1/light-1/channel_1/set', '-m', 'true']);
    t.equal(pub.code, 0);
    const wrong = await mosquitto('mosquitto_pub', port, ['-u', cred.username, '-P', 'guess', '-t', 'x', '-m', '1']);
    t.not(wrong.code, 0);
    await new Promise((r) => setTimeout(r, 200));
    t.match(writes, [{ device: 'light-1', point: 'channel_1', value: true, actor: 'mqtt:node-red' }]);
  });

  t.test('TLS listener: mosquitto_sub over TLS with the CA, values delivered', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'steward-mqtt-tls-'));
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const { broker } = await startBroker(t, { tls: { port: 0, keyFile: key, certFile: cert } });
    t.match(broker.tlsUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    const tlsPort = Number(new URL(broker.tlsUrl!).port);
    broker.publishReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 5, value: 2.5, quality: 'good' }]);
    const sub = await mosquitto('mosquitto_sub', tlsPort, ['--cafile', cert, '-u', 'op', '-P', 'operator-pass', '-t', 'steward/v1/s1/pump-1/outlet_pressure', '-C', '1', '-W', '5']);
    t.equal(sub.code, 0, sub.stderr);
    t.same(JSON.parse(sub.stdout), { v: 2.5, ts: 5, q: 'good' });
    const c = await client(broker.tlsUrl!, { username: 'op', password: 'operator-pass', ca: (await import('node:fs')).readFileSync(cert) });
    t.ok(c.connected, 'the mqtt package over TLS');
    await c.endAsync();
  });
}

for (const mode of [false, true]) {
  t.test(mode ? 'the broker in a worker thread' : 'the broker in the calling thread', async (t) => {
    worker = mode;
    suite(t);
  });
}
