/**
 * The uplink against a real cloud: what is recorded while the cloud is down is delivered
 * once it is back, alarms (lane 0) before telemetry, and nothing is dropped before the
 * cloud acknowledges it; a refused credential is reported, not retried in a storm.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, startCloud } from '../../cloud/src/index.js';
import type { SiteConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import { Uplink } from '../../gateway/src/sync/uplink.js';
import { until } from '../support/until.js';
import { freePort } from '../support/ports.js';



function cloudConfig(url: string, token: string | undefined, batchMaxItems = 500): NonNullable<SiteConfig['cloud']> {
  return { url, gatewayId: 'gw-1', snapshotIntervalMs: 60_000, batchMaxItems, requestTimeoutMs: 2000, downlinkWaitMs: 1000, maxClockSkewMs: 10_000, ...(token === undefined ? {} : { enrolmentTokenValue: token }) };
}

t.test('recorded while the cloud is down, delivered when it is back, lane 0 first', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dbFile = path.join(dir, 'cloud.db');

  // Register the gateway, then take the cloud down.
  let cloud = await startCloud({ port, database: dbFile });
  const token = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  await cloud.close();

  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: 'site-1' });
  t.teardown(() => store.close());
  for (let i = 0; i < 6; i++) store.writeReadings('p1', [{ point: `p1.v${i}`, ts: 1000 + i, value: i, quality: 'good' }]);
  store.queueTelemetrySnapshot();
  for (let i = 0; i < 3; i++) store.queueTelemetrySnapshot(); // nothing new: no items
  store.writeReadings('p1', [{ point: 'p1.v0', ts: 2000, value: 99, quality: 'good' }]);
  store.queueTelemetrySnapshot();
  store.recordEvent({ ts: 3000, device: 'p1', type: 'alarm.raised', severity: 'critical', body: { rule: 'fault' } });
  store.recordEvent({ ts: 3001, device: 'p1', type: 'alarm.acked', severity: 'critical', body: {} });
  store.recordEvent({ ts: 3002, device: 'p1', type: 'device.offline', severity: 'major', body: {} });

  // Two items per batch, so the order of delivery shows.
  const uplink = new Uplink({ store, cloud: cloudConfig(url, token, 2), site: 'site-1', dataDir: path.join(dir, 'gw'), log: createLogger({ level: 'silent' }), idleMs: 20, maxBackoffMs: 200 });
  uplink.start();
  t.teardown(() => uplink.stop());

  await until('a failed attempt', () => uplink.status().lastError !== null);
  const down = uplink.status();
  t.equal(down.online, false);
  t.equal(down.lastError?.code, 'GW_ERR_SYNC_HTTP');
  t.match(down.lanes, { '0': { backlog: 2 }, '1': { backlog: 1 }, '2': { backlog: 2 } }, 'everything waits in the outbox');

  // Every acknowledgement applied (the uplink acks lanes 0, 1, 2 in turn after each answer).
  const seen: string[] = [];
  const ack = store.ack.bind(store);
  store.ack = (lane, seq) => {
    ack(lane, seq);
    const marks = `${store.lane(0).ackedSeq}/${store.lane(1).ackedSeq}/${store.lane(2).ackedSeq}`;
    if (lane === 2 && marks !== '0/0/0' && seen[seen.length - 1] !== marks) seen.push(marks); // 0/0/0: the enrolment's marks
  };
  cloud = await startCloud({ port, database: dbFile });
  t.teardown(() => cloud.close());
  await until('everything delivered', () => {
    const s = uplink.status();
    return s.lanes['0'].backlog + s.lanes['1'].backlog + s.lanes['2'].backlog === 0;
  });
  t.equal(seen[0], '2/0/0', 'the first batch carried the two alarm items, before any telemetry');
  t.equal(seen[seen.length - 1], '2/1/2');
  t.equal(uplink.status().online, true);
  t.same(store.peek(0, 10), [], 'acknowledged items left the outbox');

  // The cloud has them all, once — asked with the gateway's own credential.
  const { secret } = JSON.parse(readFileSync(path.join(dir, 'gw', 'cloud-credential.json'), 'utf8')) as { secret: string };
  const auth = { authorization: `Bearer ${secret}` };
  const events = (await (await fetch(`${url}/v1/events?site=site-1`, { headers: auth })).json()) as { type: string }[] | { items: { type: string }[] };
  const list = Array.isArray(events) ? events : events.items;
  t.same(list.map((e) => e.type).sort(), ['alarm.acked', 'alarm.raised', 'device.offline']);
  const points = (await (await fetch(`${url}/v1/sites/site-1/points`, { headers: auth })).json()) as { id: string; value: unknown }[];
  t.equal(points.length, 6);
  t.equal(points.find((p) => p.id === 'p1.v0')?.value, 99, 'the newer value won');
});

t.test('a wrong enrolment token is a lasting, reported error — not a retry storm', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  const store = new GatewayStore({ dataDir: ':memory:', site: 'site-1' });
  t.teardown(() => store.close());
  store.recordEvent({ ts: 1, type: 'alarm.raised', severity: 'major', body: {} });
  const uplink = new Uplink({ store, cloud: cloudConfig(cloud.url, 'not-the-right-token'), site: 'site-1', dataDir: path.join(dir, 'gw'), log: createLogger({ level: 'silent' }), idleMs: 20, maxBackoffMs: 50 });
  uplink.start();
  t.teardown(() => uplink.stop());
  await until('the refusal', () => uplink.status().lastError !== null);
  await new Promise((r) => setTimeout(r, 300));
  const s = uplink.status();
  t.equal(s.lastError?.code, 'GW_ERR_SYNC_AUTH');
  t.match(s.lastError?.message, /401/);
  t.equal(s.counters.failures, 1, 'one attempt, then a long wait');
  t.equal(s.enrolled, false);
  t.equal(s.lanes['0'].backlog, 1, 'the alarm is still kept');
});

t.test('a gateway whose database was replaced re-numbers its outbox after the cloud’s marks and loses nothing', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const log = createLogger({ level: 'silent' });
  const events = async (secret: string) =>
    ((await (await fetch(`${cloud.url}/v1/events?site=site-1&limit=100`, { headers: { authorization: `Bearer ${secret}` } })).json()) as { items?: { body: { n: number } }[] } | { body: { n: number } }[]);
  const ns = (list: Awaited<ReturnType<typeof events>>) => (Array.isArray(list) ? list : (list.items ?? [])).map((e) => e.body.n).sort((a, b) => a - b);

  // Gateway A delivers three events.
  const tokenA = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  const a = new GatewayStore({ dataDir: path.join(dir, 'a'), site: 'site-1' });
  for (let n = 1; n <= 3; n++) a.recordEvent({ ts: n, type: 'device.online', severity: 'info', body: { n } });
  const upA = new Uplink({ store: a, cloud: cloudConfig(cloud.url, tokenA), site: 'site-1', dataDir: path.join(dir, 'a'), log, idleMs: 20 });
  upA.start();
  await until('A delivered', () => upA.status().lanes['1'].backlog === 0);
  await upA.stop();
  const credential = readFileSync(path.join(dir, 'a', 'cloud-credential.json'), 'utf8');

  // B: a new, empty database but A's credential (the disk was replaced, the credential restored).
  const { writeFileSync, mkdirSync } = await import('node:fs');
  mkdirSync(path.join(dir, 'b'), { recursive: true });
  writeFileSync(path.join(dir, 'b', 'cloud-credential.json'), credential);
  const b = new GatewayStore({ dataDir: path.join(dir, 'b'), site: 'site-1' });
  t.teardown(() => b.close());
  for (let n = 4; n <= 5; n++) b.recordEvent({ ts: n, type: 'device.online', severity: 'info', body: { n } });
  const upB = new Uplink({ store: b, cloud: cloudConfig(cloud.url, undefined), site: 'site-1', dataDir: path.join(dir, 'b'), log, idleMs: 20 });
  upB.start();
  t.teardown(() => upB.stop());
  await until('B delivered', () => upB.status().lanes['1'].backlog === 0);
  t.match(b.lane(1), { lastSeq: 5, ackedSeq: 5 }, 'B continued after the cloud’s mark');

  // C: a new database and a new enrolment token.
  const tokenC = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  const c = new GatewayStore({ dataDir: path.join(dir, 'c'), site: 'site-1' });
  t.teardown(() => c.close());
  c.recordEvent({ ts: 6, type: 'device.online', severity: 'info', body: { n: 6 } });
  const upC = new Uplink({ store: c, cloud: cloudConfig(cloud.url, tokenC), site: 'site-1', dataDir: path.join(dir, 'c'), log, idleMs: 20 });
  upC.start();
  t.teardown(() => upC.stop());
  await until('C delivered', () => upC.status().enrolled && upC.status().lanes['1'].backlog === 0);
  const secret = (JSON.parse(readFileSync(path.join(dir, 'c', 'cloud-credential.json'), 'utf8')) as { secret: string }).secret;
  t.same(ns(await events(secret)), [1, 2, 3, 4, 5, 6], 'every event reached the cloud once');
});

t.test('a gateway clock far from the cloud’s is flagged once, as an event', async (t) => {
  // A cloud whose clock runs a minute ahead: the real cloud's clock cannot be moved, so a
  // stand-in answers the two calls the uplink makes when idle.
  const { createServer: createHttp } = await import('node:http');
  const server = createHttp((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'POST' && req.url === '/v1/gateways/gw-1/enrol') {
      res.end(JSON.stringify({ gateway: 'gw-1', site: 'site-1', secret: 'stg_test', acked: { '0': 0, '1': 0, '2': 0 }, serverTime: Date.now() + 60_000 }));
    } else res.end(JSON.stringify({ id: 'gw-1', serverTime: Date.now() + 60_000 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const store = new GatewayStore({ dataDir: ':memory:', site: 'site-1' });
  t.teardown(() => store.close());
  const uplink = new Uplink({ store, cloud: cloudConfig(url, 'a-token-123'), site: 'site-1', dataDir: dir, log: createLogger({ level: 'silent' }), idleMs: 20, pingIntervalMs: 20 });
  uplink.start();
  t.teardown(() => uplink.stop());
  await until('the offset measured', () => uplink.status().clockOffsetMs !== null);
  await new Promise((r) => setTimeout(r, 200));
  const s = uplink.status();
  t.ok(Math.abs(s.clockOffsetMs! - 60_000) < 1000, `offset ${s.clockOffsetMs} ms`);
  t.equal(s.clockSkewed, true);
  const events = store.events({ type: 'gateway.*' });
  t.equal(events.length, 1, 'flagged once, not on every answer');
  t.match(events[0], { type: 'gateway.clock_skew', severity: 'warning', body: { skewed: true, limitMs: 10_000 } });
});

t.test('enrolment is crash-safe: a gateway that died before hearing the answer carries on with its pending secret', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });

  // The first life wrote its pending secret, sent the request, and died before the answer:
  // the cloud has spent the token and knows the secret; the file still says pending.
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const secret = `stg_${'A'.repeat(43)}`;
  const spent = await fetch(`${cloud.url}/v1/gateways/gw-1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, secret }) });
  t.equal(spent.status, 200, 'the cloud took the gateway-made secret');
  mkdirSync(path.join(dir, 'gw'), { recursive: true });
  writeFileSync(path.join(dir, 'gw', 'cloud-credential.json'), JSON.stringify({ gateway: 'gw-1', site: '', url: cloud.url, secret, pending: true }));

  // The second life: same token in site.yaml (now spent), same data folder.
  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: 'site-1' });
  t.teardown(() => store.close());
  store.recordEvent({ ts: 1, type: 'alarm.raised', severity: 'major', body: {} });
  const uplink = new Uplink({ store, cloud: cloudConfig(cloud.url, token), site: 'site-1', dataDir: path.join(dir, 'gw'), log: createLogger({ level: 'silent' }), idleMs: 20 });
  uplink.start();
  t.teardown(() => uplink.stop());
  await until('delivered', () => uplink.status().lanes['0'].backlog === 0);
  t.equal(uplink.status().enrolled, true);
  const stored = JSON.parse(readFileSync(path.join(dir, 'gw', 'cloud-credential.json'), 'utf8')) as { pending?: boolean; site: string; secret: string };
  t.same({ pending: stored.pending, site: stored.site, secret: stored.secret }, { pending: undefined, site: 'site-1', secret }, 'the credential is final now');
});

t.test('a telemetry item the cloud refuses even alone is replaced by a stub; alarms still flow', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-uplink-'));
  const cloud = await startCloud({ port: 0, database: path.join(dir, 'cloud.db') });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  const store = new GatewayStore({ dataDir: ':memory:', site: 'site-1' });
  t.teardown(() => store.close());
  // An item past the cloud's per-item limit (e.g. from an older gateway build).
  const readings = Array.from({ length: 6000 }, (_, i) => ({ id: `dev-${i % 50}.a_rather_long_point_name_for_a_sensor_${i}`, v: i, ts: 1, q: 'good' }));
  store.db.transaction(() => store.appendOutbox(2, 'telemetry.latest', 1, { readings }))();
  store.writeReadings('d', [{ point: 'd.p', ts: 2, value: 1, quality: 'good' }]);
  store.queueTelemetrySnapshot(3);
  store.recordEvent({ ts: 4, type: 'alarm.raised', severity: 'critical', body: {} });
  const uplink = new Uplink({ store, cloud: cloudConfig(cloud.url, token), site: 'site-1', dataDir: dir, log: createLogger({ level: 'silent' }), idleMs: 20, maxBackoffMs: 50 });
  uplink.start();
  t.teardown(() => uplink.stop());
  await until('everything through', () => {
    const s = uplink.status();
    return s.lanes['0'].backlog + s.lanes['1'].backlog + s.lanes['2'].backlog === 0;
  });
  t.match(store.lane(2), { lastSeq: 2, ackedSeq: 2 }, 'lane 2 not blocked');
  t.match(store.events({ type: 'buffer.evicted' })[0]?.body, { lane2Items: 1, seqFrom: 1, kind: 'telemetry.latest' });
  t.equal(store.lane(0).ackedSeq, 1, 'the alarm went through');
});
