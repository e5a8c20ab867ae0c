import t from 'tap';
import { batchOf, enrolledGateway, eventItem, postBatch, rowCounts, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('the uplink needs the gateway secret: missing → 401, wrong → 401, another gateway → 403', async (t) => {
  const app = await testCloud(t);
  const a = await enrolledGateway(app, 's1', 'gw-a');
  const b = await enrolledGateway(app, 's2', 'gw-b');
  const body = batchOf(a, telemetryRun(1, 3));

  const none = await app.inject({ method: 'POST', url: '/v1/gateways/gw-a/batches', payload: body });
  t.equal(none.statusCode, 401);
  t.equal(none.json().code, 'CS_ERR_AUTH_MISSING');
  t.match(none.headers['www-authenticate'], /^Bearer/);

  const wrong = await postBatch(app, { ...a, auth: { authorization: `Bearer ${a.secret.slice(0, -2)}xx` } }, body);
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, 'CS_ERR_AUTH_INVALID');

  const basic = await app.inject({ method: 'POST', url: '/v1/gateways/gw-a/batches', payload: body, headers: { authorization: 'Basic Zm9vOmJhcg==' } });
  t.equal(basic.statusCode, 401);
  t.equal(basic.json().code, 'CS_ERR_AUTH_INVALID');

  const other = await postBatch(app, { ...a, auth: b.auth }, body);
  t.equal(other.statusCode, 403, "gw-b may not post to gw-a's id");
  t.equal(other.json().code, 'CS_ERR_FORBIDDEN');

  t.same(await rowCounts(app), { items: 0, events: 0, latest_readings: 0 }, 'nothing stored');
});

t.test('a batch must name its own gateway and site', async (t) => {
  const app = await testCloud(t);
  const a = await enrolledGateway(app, 's1', 'gw-a');
  await enrolledGateway(app, 's2', 'gw-b');

  const mismatch = await postBatch(app, a, { ...batchOf(a, telemetryRun(1, 1)), gateway: 'gw-b' });
  t.equal(mismatch.statusCode, 400);
  t.equal(mismatch.json().code, 'CS_ERR_GATEWAY_MISMATCH');

  const otherSite = await postBatch(app, a, { ...batchOf(a, telemetryRun(1, 1)), site: 's2' });
  t.equal(otherSite.statusCode, 403);
  t.equal(otherSite.json().code, 'CS_ERR_FORBIDDEN');

  const eventOfOtherSite = await postBatch(app, a, batchOf(a, [eventItem(1, 's2')]));
  t.equal(eventOfOtherSite.statusCode, 403, 'an event claiming another site is refused');
  t.same(await rowCounts(app), { items: 0, events: 0, latest_readings: 0 });
});

t.test("a gateway's secret reads only its own gateway and site", async (t) => {
  const app = await testCloud(t);
  const a = await enrolledGateway(app, 's1', 'gw-a');
  await enrolledGateway(app, 's2', 'gw-b');
  t.equal((await app.inject({ url: '/v1/gateways/gw-a', headers: a.auth })).statusCode, 200);
  t.equal((await app.inject({ url: '/v1/gateways/gw-b', headers: a.auth })).statusCode, 403);
  t.equal((await app.inject({ url: '/v1/sites/s1/points', headers: a.auth })).statusCode, 200);
  t.equal((await app.inject({ url: '/v1/sites/s2/points', headers: a.auth })).statusCode, 403);
  t.equal((await app.inject({ url: '/v1/events?site=s2', headers: a.auth })).statusCode, 403);
  const sites = await app.inject({ url: '/v1/sites', headers: a.auth });
  t.same(sites.json(), [{ id: 's1', name: 's1', gateways: ['gw-a'] }]);
  const gateways = await app.inject({ url: '/v1/gateways', headers: a.auth });
  t.same(
    gateways.json().map((g: { id: string }) => g.id),
    ['gw-a'],
  );
});
