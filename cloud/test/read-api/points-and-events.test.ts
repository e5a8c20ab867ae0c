/** The read API: latest readings per point (newer-only) and events (filters, paging, scope). */
import t from 'tap';
import { batchOf, enrolledGateway, eventItem, loggedInUser, postBatch, telemetryItem, testCloud } from '../fixtures/cloud.js';

t.test('telemetry.latest updates points; an older reading never overwrites a newer one', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const user = await loggedInUser(app);

  const first = await postBatch(
    app,
    gw,
    batchOf(gw, [
      telemetryItem(1, [
        { id: 'pump-1.outlet_pressure', v: 3.2, ts: 2000, q: 'good' },
        { id: 'pump-1.run_status', v: true, ts: 2000, q: 'good' },
        { id: 'ahu-1.mode', v: 'cooling', ts: 2000, q: 'good' },
        { id: 'ahu-1.supply_temp', v: null, ts: 2000, q: 'bad' },
      ]),
    ]),
  );
  t.equal(first.statusCode, 200);
  const points = (await app.inject({ url: '/v1/sites/s1/points', headers: user })).json();
  t.same(
    points.map((p: { id: string; device: string; point: string; value: unknown; quality: string; ts: number }) => [p.id, p.device, p.point, p.value, p.quality, p.ts]),
    [
      ['ahu-1.mode', 'ahu-1', 'mode', 'cooling', 'good', 2000],
      ['ahu-1.supply_temp', 'ahu-1', 'supply_temp', null, 'bad', 2000],
      ['pump-1.outlet_pressure', 'pump-1', 'outlet_pressure', 3.2, 'good', 2000],
      ['pump-1.run_status', 'pump-1', 'run_status', true, 'good', 2000],
    ],
    'every value type round-trips',
  );

  // A late, older reading (ts 1000) and a newer one (ts 3000), in later items.
  const second = await postBatch(
    app,
    gw,
    batchOf(gw, [
      telemetryItem(2, [{ id: 'pump-1.outlet_pressure', v: 1.0, ts: 1000, q: 'good' }]),
      telemetryItem(3, [{ id: 'pump-1.run_status', v: false, ts: 3000, q: 'good' }]),
    ]),
  );
  t.equal(second.statusCode, 200);
  const pump = (await app.inject({ url: '/v1/sites/s1/points?device=pump-1', headers: user })).json();
  t.same(
    pump.map((p: { id: string; value: unknown; ts: number }) => [p.id, p.value, p.ts]),
    [
      ['pump-1.outlet_pressure', 3.2, 2000],
      ['pump-1.run_status', false, 3000],
    ],
    'the older reading is ignored, the newer one applied; ?device filters',
  );

  const inOneBatch = await postBatch(
    app,
    gw,
    batchOf(gw, [
      telemetryItem(4, [{ id: 'pump-1.outlet_pressure', v: 5, ts: 5000, q: 'good' }]),
      telemetryItem(5, [{ id: 'pump-1.outlet_pressure', v: 4, ts: 4000, q: 'good' }]),
    ]),
  );
  t.equal(inOneBatch.statusCode, 200);
  const p = (await app.inject({ url: '/v1/sites/s1/points?device=pump-1', headers: user })).json();
  t.equal(p[0].value, 5, 'within one batch the newest ts wins, whatever the order');
});

t.test('points of an unknown site are 404; a site without readings is empty', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  const user = await loggedInUser(app);
  const missing = await app.inject({ url: '/v1/sites/nowhere/points', headers: user });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'CS_ERR_NOT_FOUND');
  t.same((await app.inject({ url: '/v1/sites/s1/points', headers: user })).json(), []);
  const bad = await app.inject({ url: '/v1/sites/s1/points?device=Bad%20Id', headers: user });
  t.equal(bad.statusCode, 400);
  t.match(bad.json().message, /querystring\/device/);
});

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
