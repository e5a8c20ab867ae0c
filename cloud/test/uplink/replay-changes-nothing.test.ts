import t from 'tap';
import { batchOf, enrolledGateway, eventItem, postBatch, rowCounts, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('a second delivery of the same batch changes nothing', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const batch = batchOf(gw, [eventItem(1, 's1', { type: 'alarm.raised', severity: 'critical' }), eventItem(1, 's1'), ...telemetryRun(1, 5)]);

  const first = await postBatch(app, gw, batch);
  t.equal(first.statusCode, 200);
  const countsAfterFirst = await rowCounts(app);
  const itemsAfterFirst = await app.stewardDb.db.selectFrom('items').selectAll().orderBy('id').execute();
  const readingsAfterFirst = await app.stewardDb.db.selectFrom('latest_readings').selectAll().execute();

  for (const gzip of [false, true]) {
    const again = await postBatch(app, gw, batch, { gzip });
    t.equal(again.statusCode, 200, gzip ? 'gzip replay' : 'json replay');
    t.same(again.json().acked, first.json().acked, 'same acknowledged marks');
    t.equal(again.json().accepted, 0);
    t.equal(again.json().duplicates, 7, 'every item counted as a duplicate');
  }
  t.same(await rowCounts(app), countsAfterFirst, 'same row counts');
  t.same(await app.stewardDb.db.selectFrom('items').selectAll().orderBy('id').execute(), itemsAfterFirst, 'items untouched (received_at too)');
  t.same(await app.stewardDb.db.selectFrom('latest_readings').selectAll().execute(), readingsAfterFirst, 'latest readings untouched');
});
