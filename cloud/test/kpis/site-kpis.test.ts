/** KPIs (issue 5) from known data: times, SLA compliance, satisfaction, alarms, availability, energy. */
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import { batchOf, enrolledGateway, eventItem, postBatch, testCloud, userWith } from '../fixtures/cloud.js';
import { percentile } from '../../src/routes/v1/kpis.js';

t.test('percentile: nearest rank', async (t) => {
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  t.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9);
  t.equal(percentile([], 50), null);
});

t.test('a site’s KPIs', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  const now = Date.now();
  const day = Math.floor(now / 86_400_000) * 86_400_000;
  const ids: string[] = [];
  for (const title of ['a', 'b']) {
    const r = await app.inject({ method: 'POST', url: '/v1/work-orders', headers: admin, payload: { site: 's1', title, category: 'general', priority: 'P3', forResident: true } });
    ids.push(r.json().workOrder.id);
    if (title === 'a') {
      for (const [op, data] of [['assign', { assignee: 'x' }], ['start', {}], ['resolve', { resolution: 'done' }]] as const) await app.inject({ method: 'POST', url: `/v1/work-orders/${r.json().workOrder.id}/ops`, headers: admin, payload: { op, data } });
      await app.inject({ method: 'POST', url: `${r.json().residentLink.path}/rating`, payload: { stars: 4 } });
    }
  }
  const t0 = day + 3600_000;
  await postBatch(
    app,
    gw,
    batchOf(gw, [
      eventItem(1, 's1', { type: 'alarm.raised', severity: 'major', device: 'pump-1', ts: t0, body: { rule: 'low_pressure', system: 'water' } }),
      eventItem(2, 's1', { type: 'alarm.raised', severity: 'major', device: 'pump-1', ts: t0 + 1000, body: { rule: 'low_pressure', system: 'water' } }),
      eventItem(3, 's1', { type: 'alarm.raised', severity: 'minor', device: 'elev-1', ts: t0 + 2000, body: { rule: 'door', system: 'elevator' } }),
      eventItem(1, 's1', { type: 'device.offline', severity: 'major', device: 'elev-1', ts: t0 }),
      eventItem(2, 's1', { type: 'device.online', severity: 'info', device: 'elev-1', ts: t0 + 360_000 }),
      {
        lane: 2,
        seq: 1,
        id: uuidv7(),
        kind: 'telemetry.rollup',
        ts: t0,
        body: { rollups: [{ id: 'meter-1.energy', minute: t0, min: 100, max: 101, avg: 100.5, count: 60, last: 101 }, { id: 'meter-1.energy', minute: t0 + 60_000, min: 101, max: 103.5, avg: 102, count: 60, last: 103.5 }] },
      },
    ]),
  );
  await app.stewardProjector.flush(); // roll-ups are projected after the ack
  const res = await app.inject({ url: `/v1/kpis?site=s1&from=${day}&to=${day + 86_400_000}&bucket=day`, headers: admin });
  t.equal(res.statusCode, 200, res.body);
  const k = res.json();
  t.match(k.totals, { created: 2, resolved: 1, ratings: 1, satisfaction: 4, alarms: 3, energyKwh: 3.5, slaResolveCompliance: 1 });
  t.type(k.totals.resolveP50Ms, 'number');
  t.same(k.alarmsBySystem, [{ system: 'water', count: 2 }, { system: 'elevator', count: 1 }]);
  t.same(k.topDevices[0], { device: 'pump-1', count: 2 });
  t.match(k.availability, [{ device: 'elev-1', offlineMs: 360_000 }]);
  t.equal(k.periods.length, 1);
  const viewerOther = await userWith(app, 'v2', 'viewer', ['s2']);
  t.equal((await app.inject({ url: '/v1/kpis?site=s1', headers: viewerOther })).statusCode, 404);
  t.equal((await app.inject({ url: '/v1/kpis', headers: viewerOther })).json().totals.created, 0, 'company-wide for a scoped user = its scope');
});
