/**
 * The broker in a worker thread (`gateway.mqtt.worker: true`, broker/remote.ts and
 * worker.ts): a login's password is checked by the main thread (scrypt stays there); a
 * `…/set` is acknowledged by the worker, written by the main thread through `writePoint`
 * and answered by the worker on `…/set/result`; `stats()` reads the worker's counters from
 * shared memory; a worker that dies is logged and started again on the same port, with the
 * latest values, the device states and the issued credentials.
 */
import { PassThrough } from 'node:stream';
import { isMainThread } from 'node:worker_threads';
import t, { type Test } from 'tap';
import { hashPassword, verifyPassword } from '../../src/api/auth.js';
import type { BrokerOptions } from '../../src/broker/broker.js';
import { RemoteBroker } from '../../src/broker/remote.js';
import { GatewayError } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { Value } from '../../src/core/model.js';
import { until } from '../../../test/support/until.js';
import { client, mosquitto } from './mqtt-peers.js';

async function startWorkerBroker(t: Test, extra: Partial<BrokerOptions> = {}) {
  const verified: { password: string; mainThread: boolean }[] = [];
  const writes: { device: string; point: string; value: Value; actor: string; mainThread: boolean }[] = [];
  const lines: Record<string, unknown>[] = [];
  const out = new PassThrough();
  out.on('data', (d: Buffer) => {
    for (const l of d.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
  });
  const broker = await RemoteBroker.start({
    site: 's1',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: true, maxPayloadBytes: 65536, users: [{ username: 'all', role: 'viewer', password: 'all-pass' }], worker: true },
    gatewayUsers: [{ name: 'op', role: 'operator', passwordHash: await hashPassword('operator-pass') }],
    verifyPassword: (secret, password) => {
      verified.push({ password, mainThread: isMainThread });
      return verifyPassword({ name: '', role: 'viewer', ...secret }, password);
    },
    writePoint: async (device, point, value, actor) => {
      writes.push({ device, point, value, actor, mainThread: isMainThread });
      if (value === 99) throw new GatewayError('GW_ERR_WRITE_REFUSED', 'too high');
      return { previous: 4.5 };
    },
    log: createLogger({ level: 'warn', destination: out }),
    port: 0,
    ...extra,
  });
  t.teardown(() => broker.close());
  return { broker, verified, writes, lines, port: Number(new URL(broker.url).port) };
}

t.test('a login is checked by the main thread; refusals are counted in the shared counters', async (t) => {
  const { broker, verified, port } = await startWorkerBroker(t);
  const wrong = await mosquitto('mosquitto_sub', port, ['-u', 'op', '-P', 'nope', '-t', 'steward/v1/s1/#', '-C', '1', '-W', '5']);
  t.not(wrong.code, 0, 'a wrong password is refused');
  t.match(wrong.stderr, /not authori[sz]ed|bad user name or password/i);
  const c = await client(broker.url, { username: 'op', password: 'operator-pass' });
  t.teardown(() => c.endAsync());
  t.same(
    verified.map((v) => [v.password, v.mainThread]),
    [
      ['nope', true],
      ['operator-pass', true],
    ],
    'each password checked on the main thread',
  );
  t.equal(broker.stats().loginsRefused, 1, 'the refusal, counted by the worker, read here');
  t.equal(broker.stats().clients, 1);
  t.equal(broker.metrics().mqtt_logins_refused_total, 1);
});

t.test('a credential issued on the main thread logs in before the worker has received it: the main thread answers for it', async (t) => {
  const { broker, verified } = await startWorkerBroker(t);
  // Hold back the credential messages to the worker (white box: the port's postMessage), as
  // if a CONNECT were read before the worker handled them; everything else goes through.
  const w = broker.worker!;
  const post = w.postMessage.bind(w);
  const held: unknown[] = [];
  w.postMessage = (m: unknown, transfer?: Parameters<typeof post>[1]) => void ((m as { t?: string }).t === 'credential' ? held.push(m) : post(m, transfer));
  const cred = broker.issueCredential('node-red', 'operator', { subscribe: ['steward/v1/s1/pump-1/#'], publish: [] });
  const c = await client(broker.url, { username: cred.username, password: cred.password });
  t.teardown(() => c.endAsync());
  t.equal(held.length, 1, 'the worker had not been told of the credential');
  t.same(verified, [], 'no scrypt check: the main thread answered for its own credential');
  // Its ACL, not the operator's defaults, came with it: a filter outside it is refused.
  // (mqtt.js fails the whole call on any 0x80; the SUBACK it carries says which filter.)
  const err = await c.subscribeAsync(['steward/v1/s1/pump-1/flow', 'steward/v1/s1/tank-1/level']).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.same((err as { packet?: { granted?: number[] } } | undefined)?.packet?.granted, [0, 128], 'the ACL issued with it');
  const wrong = await client(broker.url, { username: cred.username, password: 'nope' }).then(
    (x) => (void x.end(true), 'connected'),
    (err: Error) => err.message,
  );
  t.match(wrong, /bad user ?name or password/i, 'a wrong password for it is refused');
  const unknown = await client(broker.url, { username: 'nobody', password: 'x' }).then(
    (x) => (void x.end(true), 'connected'),
    (err: Error) => err.message,
  );
  t.match(unknown, /bad user ?name or password/i, 'a user nobody issued is refused');
  t.same(
    verified.map((v) => v.password),
    ['x'],
    'the unknown user goes through the password check as before',
  );
  t.equal(broker.stats().loginsRefused, 2, 'each refusal counted once');
  // The held message arrives late: harmless, the same credential.
  w.postMessage = post;
  for (const m of held) post(m);
  await broker.settled();
  const again = await client(broker.url, { username: cred.username, password: cred.password });
  t.teardown(() => again.endAsync());
  t.equal(broker.stats().loginsRefused, 2);
});

t.test('…/set: acknowledged by the worker, written by the main thread, answered on …/set/result', async (t) => {
  const { broker, writes } = await startWorkerBroker(t);
  const op = await client(broker.url, { username: 'op', password: 'operator-pass' });
  t.teardown(() => op.endAsync());
  const results: Record<string, unknown>[] = [];
  op.on('message', (topic, payload) => (topic.endsWith('/set/result') ? results.push(JSON.parse(payload.toString('utf8')) as Record<string, unknown>) : undefined));
  await op.subscribeAsync('steward/v1/s1/+/+/set/result', { qos: 1 });
  await op.publishAsync('steward/v1/s1/pump-1/pressure_setpoint/set', JSON.stringify({ v: 5.5, id: 'w-1' }), { qos: 1 });
  await op.publishAsync('steward/v1/s1/pump-1/pressure_setpoint/set', JSON.stringify({ v: 99, id: 'w-2' }), { qos: 1 });
  await until('both results', () => results.length >= 2);
  t.same(writes, [
    { device: 'pump-1', point: 'pressure_setpoint', value: 5.5, actor: 'mqtt:op', mainThread: true },
    { device: 'pump-1', point: 'pressure_setpoint', value: 99, actor: 'mqtt:op', mainThread: true },
  ]);
  t.match(results, [
    { ok: true, v: 5.5, previous: 4.5, by: 'op', id: 'w-1' },
    { ok: false, v: 99, code: 'GW_ERR_WRITE_REFUSED', message: 'too high', by: 'op', id: 'w-2' },
  ]);
  t.match(broker.stats(), { writesAccepted: 1, writesRefused: 1 });
});

t.test('stats: values published here, delivered and retained counted by the worker in shared memory', async (t) => {
  const { broker } = await startWorkerBroker(t);
  t.equal(broker.publishReadings('pump-1', [{ point: 'pump-1.flow', ts: 1, value: 10, quality: 'good' }, { point: 'pump-1.mode', ts: 1, value: 'auto', quality: 'good' }]), 2);
  t.equal(broker.publishReadings('pump-1', [{ point: 'pump-1.flow', ts: 2, value: 10, quality: 'good' }, { point: 'pump-1.mode', ts: 2, value: 'auto', quality: 'good' }]), 0, 'by exception, on this thread');
  const c = await client(broker.url, { username: 'all', password: 'all-pass' });
  t.teardown(() => c.endAsync());
  const got: [string, string, boolean][] = [];
  c.on('message', (topic, payload, packet) => got.push([topic, payload.toString('utf8'), packet.retain]));
  await c.subscribeAsync(['steward/v1/s1/pump-1/flow', 'steward/v1/s1/pump-1/mode']);
  broker.publishReadings('pump-1', [{ point: 'pump-1.flow', ts: 3, value: null, quality: 'bad' }, { point: 'pump-1.mode', ts: 3, value: true, quality: 'stale' }]);
  await until('two retained and two live values', () => got.length >= 4);
  t.same(got, [
    ['steward/v1/s1/pump-1/flow', '{"v":10,"ts":1,"q":"good"}', true],
    ['steward/v1/s1/pump-1/mode', '{"v":"auto","ts":1,"q":"good"}', true],
    ['steward/v1/s1/pump-1/flow', '{"v":null,"ts":3,"q":"bad"}', false],
    ['steward/v1/s1/pump-1/mode', '{"v":true,"ts":3,"q":"stale"}', false],
  ]);
  t.match(broker.stats(), { clients: 1, valuesPublished: 4, valuesUnchanged: 2, retainedSent: 2, valuesDelivered: 2 });
  t.match(broker.metrics(), { mqtt_values_delivered_total: 2, mqtt_retained_sent_total: 2, mqtt_worker_restarts_total: 0 });
});

t.test('a worker that dies is logged and started again on the same port, with the latest values, states and credentials', async (t) => {
  const { broker, lines, port } = await startWorkerBroker(t);
  broker.publishReadings('tank-1', [{ point: 'tank-1.level', ts: 1, value: 70, quality: 'good' }]);
  broker.publishReadings('tank-1', [{ point: 'tank-1.level', ts: 2, value: 71, quality: 'good' }]);
  broker.setDeviceState('tank-1', 'online');
  const cred = broker.issueCredential('node-red', 'operator');
  await broker.settled();
  const before = await client(broker.url, { username: cred.username, password: cred.password });
  let closed = false;
  before.on('close', () => (closed = true));

  await broker.worker!.terminate();
  // A value that changes while it is down is there too.
  broker.publishReadings('tank-1', [{ point: 'tank-1.temp', ts: 3, value: 20.5, quality: 'good' }]);
  await until('the worker started again', () => broker.restarts === 1);
  await broker.whenReady();
  await until('the old connection closed', () => closed);
  before.end(true);
  t.equal(Number(new URL(broker.url).port), port, 'the same port');
  t.match(lines.find((l) => l.code === 'GW_ERR_MQTT_WORKER'), { level: 50, msg: /died/ }, 'its death logged');

  const sub = await mosquitto('mosquitto_sub', port, ['-u', cred.username, '-P', cred.password, '-t', 'steward/v1/s1/tank-1/+', '-v', '-C', '3', '-W', '5']);
  t.equal(sub.code, 0, sub.stderr);
  t.same(sub.stdout.trim().split('\n').sort(), ['steward/v1/s1/tank-1/$state online', 'steward/v1/s1/tank-1/level {"v":71,"ts":2,"q":"good"}', 'steward/v1/s1/tank-1/temp {"v":20.5,"ts":3,"q":"good"}'], 'the latest values and the state, retained, with the credential issued before');
  t.equal(broker.metrics().mqtt_worker_restarts_total, 1);
});

t.test('a worker behind by more than 4 messages gets the latest value of each changed point once it has caught up', async (t) => {
  const { broker } = await startWorkerBroker(t);
  const c = await client(broker.url, { username: 'all', password: 'all-pass' });
  t.teardown(() => c.endAsync());
  const got: string[] = [];
  c.on('message', (topic, payload) => got.push(`${topic.slice('steward/v1/s1/'.length)} ${(JSON.parse(payload.toString('utf8')) as { v: unknown }).v}`));
  await c.subscribeAsync(['steward/v1/s1/d1/p', 'steward/v1/s1/d1/q', 'steward/v1/s1/sentinel/done']);
  // As if 100 values messages were still in the worker's hands (white box: the count it is compared with).
  const inside = broker as unknown as { posted: number };
  inside.posted += 100;
  for (let v = 1; v <= 3; v++) t.equal(broker.publishReadings('d1', [{ point: 'd1.p', ts: v, value: v, quality: 'good' }, { point: 'd1.q', ts: 1, value: 7, quality: 'good' }]), v === 1 ? 2 : 1);
  t.equal(broker.metrics().mqtt_worker_values_conflated_total, 4, 'every change held back, none sent');
  inside.posted -= 100;
  broker.publishReadings('sentinel', [{ point: 'sentinel.done', ts: 1, value: 1, quality: 'good' }]);
  await until('the sentinel', () => got.includes('sentinel/done 1'));
  t.same(got, ['d1/p 3', 'd1/q 7', 'sentinel/done 1'], 'the latest of each, before what changed after; not the intermediate values');
  t.equal(broker.stats().valuesPublished, 5, 'published (by exception) on the main thread all the same');
});
