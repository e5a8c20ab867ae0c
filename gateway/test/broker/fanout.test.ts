/**
 * The fast path of the gateway's own values (broker/fanout.ts): live values and device
 * batches reach exactly the subscribers whose granted filters match — once each, even with
 * overlapping filters, at QoS 0 with RETAIN 0 (MQTT-3.3.1-9) — and never a filter the ACL
 * refused; unchanged values are not sent again; after UNSUBSCRIBE nothing more comes; a
 * live mosquitto_sub reads them; a subscriber that stops reading loses QoS 0 values
 * without holding up the others, and is disconnected once it has not drained in time.
 *
 * Order on one connection is the order of writes, so "nothing else came" is checked with
 * a sentinel published last, never with a wait.
 */
import t, { type Test } from 'tap';
import type { MqttClient } from 'mqtt';
import { verifyPassword } from '../../src/api/auth.js';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import type { MqttConfig } from '../../src/core/config/mqtt.js';
import { createLogger } from '../../src/core/logger.js';
import type { Reading, Value } from '../../src/core/model.js';
import { until } from '../../../test/support/until.js';
import { client, subscriber } from './mqtt-peers.js';

const log = createLogger({ level: 'silent' });
/** The broker in the calling thread, or in its worker thread (gateway.mqtt.worker): every test runs in both. */
let worker = false;

async function startBroker(t: Test, users: MqttConfig['users'], extra: Partial<BrokerOptions> = {}) {
  const broker = await Broker.start({
    site: 's1',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: false, maxPayloadBytes: 65536, users },
    gatewayUsers: [],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: () => Promise.reject(new Error('no writes here')),
    log,
    port: 0,
    worker,
    ...extra,
  });
  t.teardown(() => broker.close());
  return { broker, port: Number(new URL(broker.url).port) };
}

interface Got {
  topic: string;
  body: string;
  retain: boolean;
  qos: number;
}
function collect(c: MqttClient): Got[] {
  const got: Got[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, body: payload.toString('utf8'), retain: packet.retain, qos: packet.qos }));
  return got;
}
const reading = (point: string, value: Value, ts = 1000): Reading => ({ point, ts, value, quality: 'good' });

function suite(t: Test): void {
  t.test('live values: matching granted filters only, once each, QoS 0, RETAIN 0; by exception; not after UNSUBSCRIBE', async (t) => {
    const { broker, port } = await startBroker(t, [
      { username: 'all', role: 'viewer', password: 'all-pass' },
      { username: 'pumps', role: 'viewer', password: 'pumps-pass', acl: { subscribe: ['steward/v1/s1/pump-1/#'], publish: [] } },
    ]);
    const url = `mqtt://127.0.0.1:${port}`;
    const all = await client(url, { username: 'all', password: 'all-pass' });
    t.teardown(() => all.endAsync());
    const pumps = await client(url, { username: 'pumps', password: 'pumps-pass' });
    t.teardown(() => pumps.endAsync());
    const gotAll = collect(all);
    const gotPumps = collect(pumps);
    // Two overlapping filters, at QoS 1: the values still come once, at QoS 0.
    await all.subscribeAsync(['steward/v1/s1/+/+', 'steward/v1/s1/#'], { qos: 1 });
    await pumps.subscribeAsync('steward/v1/s1/pump-1/+');
    const refused = await pumps.subscribeAsync('steward/v1/s1/#').catch((e: unknown) => e);
    t.same((refused as { packet?: { granted?: number[] } }).packet?.granted, [128], 'outside its ACL: refused');

    t.equal(broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.2), reading('pump-1.running', true)]), 2);
    t.equal(broker.publishReadings('pump-2', [reading('pump-2.outlet_pressure', 3.9)]), 1);
    t.equal(broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.2), reading('pump-1.running', true)]), 0, 'unchanged: not published');
    broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.3, 2000)]);

    await until('all four value messages and three batches at "all"', () => gotAll.filter((m) => !m.topic.endsWith('$values')).length >= 4 && gotAll.filter((m) => m.topic.endsWith('$values')).length >= 3);
    await until('pump-1’s at "pumps"', () => gotPumps.length >= 5);
    t.same(
      gotAll.filter((m) => !m.topic.endsWith('$values')).map((m) => [m.topic, m.body]),
      [
        ['steward/v1/s1/pump-1/outlet_pressure', '{"v":4.2,"ts":1000,"q":"good"}'],
        ['steward/v1/s1/pump-1/running', '{"v":true,"ts":1000,"q":"good"}'],
        ['steward/v1/s1/pump-2/outlet_pressure', '{"v":3.9,"ts":1000,"q":"good"}'],
        ['steward/v1/s1/pump-1/outlet_pressure', '{"v":4.3,"ts":2000,"q":"good"}'],
      ],
      'each value once, in order, the unchanged ones not again',
    );
    t.ok(
      gotAll.every((m) => !m.retain && m.qos === 0),
      'live delivery: RETAIN 0, QoS 0',
    );
    const batches = gotAll.filter((m) => m.topic.endsWith('$values')).map((m) => [m.topic, (JSON.parse(m.body) as { values: unknown }).values]);
    t.same(batches, [
      ['steward/v1/s1/pump-1/$values', { outlet_pressure: { v: 4.2, ts: 1000, q: 'good' }, running: { v: true, ts: 1000, q: 'good' } }],
      ['steward/v1/s1/pump-2/$values', { outlet_pressure: { v: 3.9, ts: 1000, q: 'good' } }],
      ['steward/v1/s1/pump-1/$values', { outlet_pressure: { v: 4.3, ts: 2000, q: 'good' } }],
    ]);
    t.same(
      gotPumps.map((m) => m.topic),
      ['steward/v1/s1/pump-1/outlet_pressure', 'steward/v1/s1/pump-1/running', 'steward/v1/s1/pump-1/$values', 'steward/v1/s1/pump-1/outlet_pressure', 'steward/v1/s1/pump-1/$values'],
      'the ACL-limited user gets pump-1 only: the refused filter delivers nothing',
    );

    // UNSUBSCRIBE: then a pump-1 value, then a sentinel on a filter still held.
    await all.unsubscribeAsync(['steward/v1/s1/+/+', 'steward/v1/s1/#']);
    await all.subscribeAsync('steward/v1/s1/sentinel/+');
    const before = gotAll.length;
    broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.4, 3000)]);
    broker.publishReadings('sentinel', [reading('sentinel.done', 1)]);
    await until('the sentinel', () => gotAll.some((m) => m.topic === 'steward/v1/s1/sentinel/done'));
    t.same(
      gotAll
        .slice(before)
        .map((m) => m.topic)
        .filter((topic) => topic !== 'steward/v1/s1/sentinel/$values'),
      ['steward/v1/s1/sentinel/done'],
      'nothing on the filters given up',
    );

    // A late subscriber gets the latest value retained (RETAIN 1), from the broker's last values.
    const late = await client(url, { username: 'all', password: 'all-pass' });
    t.teardown(() => late.endAsync());
    const gotLate = collect(late);
    await late.subscribeAsync('steward/v1/s1/pump-1/outlet_pressure');
    await until('the retained value', () => gotLate.length >= 1);
    t.match(gotLate[0], { topic: 'steward/v1/s1/pump-1/outlet_pressure', body: '{"v":4.4,"ts":3000,"q":"good"}', retain: true });
    t.match(broker.stats(), { valuesPublished: 6 });
    t.ok(broker.stats().valuesDelivered >= 14, 'deliveries counted');
  });

  t.test('retained: a SUBSCRIBE gets the last value of every matching point (RETAIN 1, once per topic), published with nobody subscribed, and $state', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }]);
    const url = `mqtt://127.0.0.1:${port}`;
    // Nobody subscribes yet: the values change three times, one goes bad, a device comes online.
    broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.1, 1000), reading('pump-1.running', true, 1000)]);
    broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.2, 2000)]);
    broker.publishReadings('pump-1', [reading('pump-1.outlet_pressure', 4.3, 3000)]);
    broker.publishReadings('pump-2', [{ point: 'pump-2.mode', ts: 1500, value: 'auto', quality: 'good' }]);
    broker.publishReadings('pump-2', [{ point: 'pump-2.mode', ts: 2500, value: 'auto', quality: 'stale' }]);
    broker.setDeviceState('pump-1', 'online');
    t.match(broker.stats(), { valuesPublished: 6, valuesDelivered: 0 }, 'published (by exception: a quality change too), delivered to nobody');

    const late = await client(url, { username: 'all', password: 'all-pass' });
    t.teardown(() => late.endAsync());
    const got = collect(late);
    // Overlapping filters in one SUBSCRIBE, and one that matches no point.
    await late.subscribeAsync(['steward/v1/s1/pump-1/+', 'steward/v1/s1/#', 'steward/v1/s1/nothing/+']);
    // A live value after the SUBSCRIBE comes after its retained values on the connection.
    broker.publishReadings('sentinel', [reading('sentinel.done', 1)]);
    await until('the sentinel and pump-1’s $state', () => got.some((m) => m.topic === 'steward/v1/s1/sentinel/done') && got.some((m) => m.topic === 'steward/v1/s1/pump-1/$state'));
    const sentinelAt = got.findIndex((m) => m.topic === 'steward/v1/s1/sentinel/done');
    t.same(
      got
        .slice(0, sentinelAt)
        .filter((m) => m.topic !== 'steward/v1/s1/pump-1/$state')
        .map((m) => [m.topic, m.body, m.retain])
        .sort(),
      [
        ['steward/v1/s1/pump-1/outlet_pressure', '{"v":4.3,"ts":3000,"q":"good"}', true],
        ['steward/v1/s1/pump-1/running', '{"v":true,"ts":1000,"q":"good"}', true],
        ['steward/v1/s1/pump-2/mode', '{"v":"auto","ts":2500,"q":"stale"}', true],
      ],
      'each point’s last value and quality, once, RETAIN 1; no $values',
    );
    t.match(got[sentinelAt], { body: '{"v":1,"ts":1000,"q":"good"}', retain: false }, 'then live: RETAIN 0');
    t.match(got.find((m) => m.topic === 'steward/v1/s1/pump-1/$state'), { body: 'online', retain: true }, '$state retained (aedes’ store, which answers once per matching filter)');

    // A SUBSCRIBE of a filter it already holds gets the retained values again (MQTT-3.8.4-3).
    const before = got.length;
    await late.subscribeAsync('steward/v1/s1/pump-2/mode');
    broker.publishReadings('sentinel', [reading('sentinel.done', 2)]);
    await until('the second sentinel', () => got.slice(before).some((m) => m.topic === 'steward/v1/s1/sentinel/done'));
    t.same(
      got
        .slice(before)
        .filter((m) => !m.topic.endsWith('/$values'))
        .map((m) => [m.topic, m.retain]),
      [
        ['steward/v1/s1/pump-2/mode', true],
        ['steward/v1/s1/sentinel/done', false],
      ],
    );
    t.match(broker.stats(), { retainedSent: 4 });
  });

  t.test('a persistent session that reconnects without subscribing gets the values of its stored subscriptions', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }]);
    const url = `mqtt://127.0.0.1:${port}`;
    const first = await client(url, { username: 'all', password: 'all-pass', clientId: 'keeper', clean: false });
    await first.subscribeAsync('steward/v1/s1/tank-1/+', { qos: 1 });
    await first.endAsync();
    const again = await client(url, { username: 'all', password: 'all-pass', clientId: 'keeper', clean: false, resubscribe: false });
    t.teardown(() => again.endAsync());
    const got = collect(again);
    broker.publishReadings('tank-1', [reading('tank-1.level', 71)]);
    await until('the value on the restored subscription', () => got.some((m) => m.topic === 'steward/v1/s1/tank-1/level'));
    t.match(
      got.find((m) => m.topic === 'steward/v1/s1/tank-1/level'),
      { body: '{"v":71,"ts":1000,"q":"good"}', retain: false },
    );
  });

  t.test('a live mosquitto_sub reads the values as they change', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }]);
    const sub = subscriber(port, ['-u', 'all', '-P', 'all-pass', '-t', 'steward/v1/s1/meter-1/power', '-v', '-C', '3', '-W', '10']);
    // Values until mosquitto_sub has three (the retained one may be among them); it exits on the third.
    let v = 0;
    let ended = false;
    void sub.done.then(() => (ended = true));
    await until('mosquitto_sub got three', () => {
      broker.publishReadings('meter-1', [reading('meter-1.power', ++v, v)]);
      return ended;
    });
    const run = await sub.done;
    t.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    t.equal(lines.length, 3);
    for (const line of lines) t.match(line, /^steward\/v1\/s1\/meter-1\/power \{"v":\d+,"ts":\d+,"q":"good"\}$/);
    const vs = lines.map((l) => (JSON.parse(l.slice(l.indexOf(' ') + 1)) as { v: number }).v);
    t.ok(vs[0]! < vs[1]! && vs[1]! < vs[2]!, 'in order, each a new value');
  });

  t.test('a subscriber that stops reading loses QoS 0 values, holds up nobody, and is disconnected', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }], { slowSubscriber: { maxBufferedBytes: 64 * 1024, drainTimeoutMs: 0 } });
    const url = `mqtt://127.0.0.1:${port}`;
    const slow = await client(url, { username: 'all', password: 'all-pass', keepalive: 0 });
    t.teardown(() => slow.end(true));
    const fast = await client(url, { username: 'all', password: 'all-pass' });
    t.teardown(() => fast.endAsync());
    await slow.subscribeAsync('steward/v1/s1/big/+');
    await fast.subscribeAsync('steward/v1/s1/big/last');
    const gotFast = collect(fast);
    let slowClosed = false;
    slow.on('close', () => (slowClosed = true));
    // The slow one stops reading: its socket and the kernel's buffers fill up.
    slow.stream.pause();
    const big = 'x'.repeat(16 * 1024);
    let round = 0;
    await until('the slow subscriber disconnected', () => {
      round++;
      broker.publishReadings(
        'big',
        Array.from({ length: 64 }, (_, i) => reading(`big.p${i}`, `${round}:${big}`)),
      );
      return broker.stats().slowSubscribersDisconnected >= 1;
    });
    t.ok(broker.stats().valuesDropped > 0, 'values dropped for it');
    broker.publishReadings('big', [reading('big.last', round)]);
    await until('the other subscriber got the last value', () => gotFast.some((m) => m.body.includes(`"v":${round},`)));
    slow.stream.resume();
    await until('the slow one sees its connection closed', () => slowClosed);
    t.pass('the slow subscriber was disconnected');
  });

  t.test('a subscriber that reads too slowly skips values but catches up with the latest of every topic it missed, in order', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }], { slowSubscriber: { maxBufferedBytes: 64 * 1024, drainTimeoutMs: 600_000 } });
    const url = `mqtt://127.0.0.1:${port}`;
    const slow = await client(url, { username: 'all', password: 'all-pass', keepalive: 0 });
    t.teardown(() => slow.endAsync());
    await slow.subscribeAsync('steward/v1/s1/big/+');
    const got = collect(slow);
    slow.stream.pause();
    const big = 'x'.repeat(16 * 1024);
    let round = 0;
    const publishRound = (body: string) => {
      round++;
      broker.publishReadings(
        'big',
        Array.from({ length: 16 }, (_, i) => reading(`big.p${i}`, `${round}:${body}`)),
      );
    };
    await until('values dropped for it', () => {
      publishRound(big);
      return broker.stats().valuesDropped > 0;
    });
    // More while it does not read, then the last values: missed too, its socket still full.
    for (let k = 0; k < 5; k++) publishRound(big);
    publishRound('last');
    const last = round;
    await broker.settled();
    t.ok(broker.stats().valuesDropped >= 16, 'the last round was not written either');
    slow.stream.resume();
    const lastOf = (i: number) => got.filter((m) => m.topic === `steward/v1/s1/big/p${i}`).at(-1);
    await until('every topic’s last value', () => Array.from({ length: 16 }, (_, i) => lastOf(i)).every((m) => m !== undefined && m.body.startsWith(`{"v":"${last}:last"`)));
    t.ok(broker.stats().valuesCaughtUp >= 16, 'the latest values sent when it drained');
    for (let i = 0; i < 16; i++) {
      const rounds = got.filter((m) => m.topic === `steward/v1/s1/big/p${i}`).map((m) => Number(/"v":"(\d+):/.exec(m.body)![1]));
      t.ok(
        rounds.every((r, k) => k === 0 || r > rounds[k - 1]!),
        `p${i}: newer values only, never an older one after a newer (${rounds.length} of ${last} rounds)`,
      );
    }
    t.equal(broker.stats().slowSubscribersDisconnected, 0);
  });

  t.test('publication by exception holds when a device reports its points in another order, a subset, or new id strings', async (t) => {
    const { broker, port } = await startBroker(t, [{ username: 'all', role: 'viewer', password: 'all-pass' }]);
    // Readings are matched to their topics by position in the device's last batch, else by id.
    t.equal(broker.publishReadings('d1', [reading('d1.a', 1), reading('d1.b', 2), reading('d1.c', 3)]), 3, 'first: all published');
    t.equal(broker.publishReadings('d1', [reading('d1.a', 1), reading('d1.b', 2), reading('d1.c', 3)]), 0, 'same order, unchanged');
    t.equal(broker.publishReadings('d1', [reading('d1.c', 3), reading('d1.a', 1)]), 0, 'another order, a subset: unchanged');
    t.equal(broker.publishReadings('d1', [reading('d1.c', 4), reading('d1.a', 1), reading('d1.b', 2)]), 1, 'c changed, in a third order');
    t.equal(broker.publishReadings('d1', [reading(['d1', 'a'].join('.'), 1), reading(['d1', 'b'].join('.'), 2), reading(['d1', 'c'].join('.'), 4)]), 0, 'equal ids in new strings: unchanged');
    t.equal(broker.publishReadings('d2', [reading('d2.a', 1), reading('d2.b', 2)]), 2, 'another device, its own points');
    t.equal(broker.publishReadings('d1', [reading('d1.b', 5), reading('d1.c', 4)]), 1, 'b changed, at the place c had');
    t.match(broker.stats(), { valuesPublished: 7 });

    const late = await client(`mqtt://127.0.0.1:${port}`, { username: 'all', password: 'all-pass' });
    t.teardown(() => late.endAsync());
    const got = collect(late);
    await late.subscribeAsync('steward/v1/s1/+/+');
    await until('five retained values', () => got.length >= 5);
    t.same(
      got.map((m) => [m.topic, (JSON.parse(m.body) as { v: number }).v, m.retain]).sort(),
      [
        ['steward/v1/s1/d1/a', 1, true],
        ['steward/v1/s1/d1/b', 5, true],
        ['steward/v1/s1/d1/c', 4, true],
        ['steward/v1/s1/d2/a', 1, true],
        ['steward/v1/s1/d2/b', 2, true],
      ],
      'each point’s latest value',
    );
  });
}

for (const mode of [false, true]) {
  t.test(mode ? 'the broker in a worker thread' : 'the broker in the calling thread', async (t) => {
    worker = mode;
    suite(t);
  });
}
