import t from 'tap';
import { batchOf, enrolledGateway, eventItem, loggedInUser, postBatch, testCloud } from '../fixtures/cloud.js';

t.test('events filter by site, type (exact or prefix) and since, and page with a cursor', async (t) => {
  const app = await testCloud(t);
  const a = await enrolledGateway(app, 's1', 'gw-a');
  const b = await enrolledGateway(app, 's2', 'gw-b');
  const user = await loggedInUser(app);
  const base = 1_700_000_000_000;
  await postBatch(
    app,
    a,
    batchOf(a, [
      eventItem(1, 's1', { type: 'alarm.raised', severity: 'major', ts: base + 1 }),
      eventItem(2, 's1', { type: 'alarm.cleared', severity: 'major', ts: base + 2 }),
      eventItem(1, 's1', { type: 'device.offline', severity: 'warning', ts: base + 2 }),
      eventItem(2, 's1', { type: 'alarm_like.thing', severity: 'info', ts: base + 3 }),
      eventItem(3, 's1', { type: 'device.online', severity: 'info', ts: base + 4 }),
    ]),
  );
  await postBatch(app, b, batchOf(b, [eventItem(1, 's2', { type: 'fire.alarm', severity: 'critical', ts: base + 5 })]));

  const get = async (query: string) => {
    const res = await app.inject({ url: `/v1/events${query}`, headers: user });
    t.equal(res.statusCode, 200, query);
    return { events: res.json() as { type: string; site: string; ts: number }[], next: res.headers['x-next-cursor'] };
  };
  t.same((await get('')).events.map((e) => e.type), ['alarm.raised', 'alarm.cleared', 'device.offline', 'alarm_like.thing', 'device.online', 'fire.alarm'], 'oldest first');
  t.same((await get('?type=alarm.*')).events.map((e) => e.type), ['alarm.raised', 'alarm.cleared'], 'prefix: alarm_like is not under alarm.');
  t.same((await get('?type=device.online')).events.map((e) => e.type), ['device.online']);
  t.same((await get('?site=s2')).events.map((e) => e.type), ['fire.alarm']);
  t.same((await get(`?since=${base + 4}`)).events.map((e) => e.type), ['device.online', 'fire.alarm']);

  const seen: string[] = [];
  let query = '?limit=2';
  for (let page = 0; page < 5; page++) {
    const { events, next } = await get(query);
    seen.push(...events.map((e) => e.type));
    if (next === undefined) break;
    query = `?limit=2&after=${String(next)}`;
  }
  t.equal(seen.length, 6, 'paging returns every event once, ties in ts included');
  t.equal(new Set(seen).size, 6);

  const gatewayView = await app.inject({ url: '/v1/events', headers: a.auth });
  t.same(
    (gatewayView.json() as { site: string }[]).map((e) => e.site).filter((s) => s !== 's1'),
    [],
    'a gateway sees only its own site',
  );
  const bad = await app.inject({ url: '/v1/events?limit=100000', headers: user });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /querystring\/limit/);
});
