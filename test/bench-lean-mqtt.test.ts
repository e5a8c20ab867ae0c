/**
 * The benches' lean MQTT subscriber (scripts/bench/lib/lean-mqtt.ts): its frame parser
 * (frames split across chunks at every byte, multi-byte remaining lengths, several frames in
 * one chunk, a malformed length) and the client against the gateway's own broker (login
 * refused with its CONNACK code, a refused subscription, a value delivered and counted).
 */
import t from 'tap';
import { verifyPassword } from '../gateway/src/api/auth.js';
import { Broker } from '../gateway/src/broker/broker.js';
import { createLogger } from '../gateway/src/core/logger.js';
import { encodeConnect, encodeRemainingLength, encodeSubscribe, FrameParser, LeanClient, publishView } from '../scripts/bench/lib/lean-mqtt.js';
import { until } from './support/until.js';

/** A PUBLISH frame (QoS 0 unless said) of `topic` and `payload`. */
function publish(topic: string, payload: string | Buffer, qos = 0, packetId = 7): Buffer {
  const t = Buffer.from(topic);
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const id = qos > 0 ? Buffer.from([packetId >> 8, packetId & 0xff]) : Buffer.alloc(0);
  const body = Buffer.concat([Buffer.from([t.length >> 8, t.length & 0xff]), t, id, p]);
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), encodeRemainingLength(body.length), body]);
}

/** Feeds `chunks` to a parser; the frames it handed over, as [header, body]. */
function parse(chunks: Buffer[]): { frames: [number, Buffer][]; pending: number } {
  const frames: [number, Buffer][] = [];
  const p = new FrameParser((h, b, s, e) => frames.push([h, Buffer.from(b.subarray(s, e))]));
  for (const c of chunks) p.push(c);
  return { frames, pending: p.pending };
}

t.test('remaining length: 1 to 4 bytes at the boundaries of the spec', async (t) => {
  t.same([...encodeRemainingLength(0)], [0]);
  t.same([...encodeRemainingLength(127)], [0x7f]);
  t.same([...encodeRemainingLength(128)], [0x80, 0x01]);
  t.same([...encodeRemainingLength(16_383)], [0xff, 0x7f]);
  t.same([...encodeRemainingLength(16_384)], [0x80, 0x80, 0x01]);
  t.same([...encodeRemainingLength(2_097_152)], [0x80, 0x80, 0x80, 0x01]);
  t.same([...encodeRemainingLength(268_435_455)], [0xff, 0xff, 0xff, 0x7f]);
  t.throws(() => encodeRemainingLength(268_435_456));
});

t.test('several frames in one chunk, with 1-, 2- and 3-byte remaining lengths', async (t) => {
  const big = Buffer.alloc(20_000, 0x61); // 3 bytes of remaining length
  const frames = [publish('a/b', '{"ts":1}'), publish('a/c', Buffer.alloc(300, 0x62)), Buffer.from([0xd0, 0x00]), publish('a/d', big), Buffer.from([0x90, 0x03, 0x00, 0x01, 0x00])];
  t.equal(frames[1]![1], 0x80 | ((2 + 3 + 300) % 128), '2-byte length');
  t.ok((frames[3]![1]! & frames[3]![2]! & 0x80) === 0x80 && (frames[3]![3]! & 0x80) === 0, '3-byte length');
  const { frames: got, pending } = parse([Buffer.concat(frames)]);
  t.equal(pending, 0);
  t.same(
    got.map(([h]) => h >> 4),
    [3, 3, 13, 3, 9],
  );
  t.equal(got[3]![1].length, 2 + 3 + 20_000);
  const v = publishView(0x30, got[0]![1], 0, got[0]![1].length);
  t.equal(got[0]![1].toString('utf8', v.topicStart, v.topicEnd), 'a/b');
  t.equal(got[0]![1].toString('utf8', v.payloadStart, v.payloadEnd), '{"ts":1}');
});

t.test('frames split across chunks at every byte give the same frames', async (t) => {
  const stream = Buffer.concat([publish('x/y', 'hello'), publish('x/z', Buffer.alloc(200, 0x63), 1, 513), Buffer.from([0xd0, 0x00]), publish('q', '')]);
  const whole = parse([stream]).frames;
  t.equal(whole.length, 4);
  for (let cut = 1; cut < stream.length; cut++) {
    const got = parse([stream.subarray(0, cut), stream.subarray(cut)]);
    t.same(got.frames, whole, `cut at ${cut}`);
    t.equal(got.pending, 0);
  }
  // One byte at a time: a remaining length split over its bytes too.
  const bytes = parse([...stream].map((b) => Buffer.from([b])));
  t.same(bytes.frames, whole);
  // A QoS 1 PUBLISH: the packet id sits between topic and payload.
  const [h, body] = whole[1]!;
  const v = publishView(h, body, 0, body.length);
  t.equal(body.toString('utf8', v.topicStart, v.topicEnd), 'x/z');
  t.equal(v.payloadEnd - v.payloadStart, 200);
});

t.test('an incomplete frame is held back, not handed over', async (t) => {
  const f = publish('a', Buffer.alloc(1000));
  const got = parse([f.subarray(0, 500)]);
  t.equal(got.frames.length, 0);
  t.equal(got.pending, 500);
});

t.test('a remaining length of 5 bytes is a protocol error', async (t) => {
  const p = new FrameParser(() => t.fail('no frame expected'));
  t.throws(() => p.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00])), /malformed remaining length/);
});

t.test('CONNECT and SUBSCRIBE encode as MQTT 3.1.1 says', async (t) => {
  const c = encodeConnect({ clientId: 'id', username: 'u', password: 'pw', keepaliveS: 60 });
  t.equal(c[0], 0x10);
  t.equal(c[1], c.length - 2, 'remaining length');
  t.same([...c.subarray(2, 12)], [0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2, 0, 60], 'protocol name, level 4, flags user+password+clean, keepalive');
  t.same([...c.subarray(12)], [0, 2, 0x69, 0x64, 0, 1, 0x75, 0, 2, 0x70, 0x77]);
  const s = encodeSubscribe(258, 'a/#', 0);
  t.same([...s], [0x82, 8, 1, 2, 0, 3, 0x61, 0x2f, 0x23, 0]);
});

t.test('against the gateway broker: refusals with their reason, values counted', async (t) => {
  const broker = await Broker.start({
    site: 'lean',
    config: { host: '127.0.0.1', port: 0, enabled: true, allowAnonymous: false, gatewayUsers: false, maxPayloadBytes: 65536, users: [{ username: 'viewer', role: 'viewer', password: 'right-pass' }] },
    gatewayUsers: [],
    verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
    writePoint: () => Promise.reject(new Error('read-only')),
    log: createLogger({ level: 'silent' }),
  });
  t.teardown(() => broker.close());
  const port = Number(new URL(broker.url).port);
  const got: string[] = [];
  const base = { host: '127.0.0.1', port, clientId: 'lean-test', keepaliveS: 2, connectTimeoutMs: 10_000 };
  const onPublish = (h: number, b: Buffer, s: number, e: number): void => {
    const v = publishView(h, b, s, e);
    got.push(`${b.toString('utf8', v.topicStart, v.topicEnd)} ${b.toString('utf8', v.payloadStart, v.payloadEnd)}`);
  };

  await t.rejects(LeanClient.connect({ ...base, username: 'viewer', password: 'wrong', onPublish }), /return code 4 \(bad user name or password\)/);

  const c = await LeanClient.connect({ ...base, username: 'viewer', password: 'right-pass', onPublish });
  t.teardown(() => c.end());
  await t.rejects(c.subscribe('elsewhere/#'), /subscription to "elsewhere\/#" refused \(SUBACK 0x80\)/);
  t.equal(await c.subscribe(`${broker.topics.prefix}/pump-1/+`, 0), 0, 'granted QoS 0');
  t.equal(broker.publishReadings('pump-1', [{ point: 'pump-1.flow', ts: 1234, value: 42, quality: 'good' }]), 1);
  await until('the value', () => got.length >= 1, 10_000);
  t.equal(got[0]!.split(' ')[0], `${broker.topics.prefix}/pump-1/flow`);
  t.match(JSON.parse(got[0]!.slice(got[0]!.indexOf(' ') + 1)), { ts: 1234, v: 42 }, got[0]!);
  // Keepalive: PINGREQ every half keepalive (1 s here), answered.
  await until('a PINGRESP', () => c.pingResponses > 0, 10_000);
  t.notOk(c.closed);
});
