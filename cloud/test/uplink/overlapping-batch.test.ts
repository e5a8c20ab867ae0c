import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import { batchOf, enrolledGateway, eventItem, postBatch, rowCounts, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('an overlapping batch (old + new items) stores only the new ones', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const run = telemetryRun(1, 6);
  t.equal((await postBatch(app, gw, batchOf(gw, run.slice(0, 3)))).statusCode, 200);

  // The gateway missed the answer, then sent 2..6 (seq 2, 3 again).
  const res = await postBatch(app, gw, batchOf(gw, run.slice(1)));
  t.equal(res.statusCode, 200);
  t.same(res.json().acked, { 0: 0, 1: 0, 2: 6 });
  t.equal(res.json().accepted, 3);
  t.equal(res.json().duplicates, 2);
  t.equal((await rowCounts(app)).items, 6);
});

t.test('items may arrive in any order inside a batch; lanes advance independently', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const run = telemetryRun(1, 4).reverse();
  const res = await postBatch(app, gw, batchOf(gw, [...run, eventItem(1, 's1')]));
  t.equal(res.statusCode, 200);
  t.same(res.json().acked, { 0: 0, 1: 1, 2: 4 });
});

t.test('an item id stored before is a duplicate even under a new seq: the seq is acknowledged, nothing stored twice', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const event = eventItem(1, 's1', { type: 'device.offline' });
  t.equal((await postBatch(app, gw, batchOf(gw, [event]))).statusCode, 200);

  const res = await postBatch(app, gw, batchOf(gw, [{ ...event, seq: 2 }, eventItem(3, 's1')]));
  t.equal(res.statusCode, 200);
  t.same(res.json().acked, { 0: 0, 1: 3, 2: 0 }, 'the lane moves past it');
  t.equal(res.json().accepted, 1);
  t.equal(res.json().duplicates, 1);
  t.same(await rowCounts(app), { items: 2, events: 2, latest_readings: 0 });

  const same = await postBatch(app, gw, batchOf(gw, [eventItem(4, 's1', {}, 'abcdef00-0000-7000-8000-000000000000'), eventItem(5, 's1', {}, 'abcdef00-0000-7000-8000-000000000000')]));
  t.equal(same.json().accepted, 1, 'the same id twice in one batch is stored once');
  t.equal(same.json().duplicates, 1);
  t.same(same.json().acked, { 0: 0, 1: 5, 2: 0 });
});

t.test('an acknowledged seq resent with another id means the numbering restarted: 409, nothing stored', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  t.equal((await postBatch(app, gw, batchOf(gw, telemetryRun(1, 3)))).statusCode, 200);
  // A gateway whose database was replaced starts again at seq 1 with new ids.
  const restarted = telemetryRun(1, 5).map((i) => ({ ...i, id: uuidv7() }));
  const res = await postBatch(app, gw, batchOf(gw, restarted));
  t.equal(res.statusCode, 409);
  t.match(res.json(), { code: 'CS_ERR_BATCH_SEQ_REUSED', lane: 2, seq: 1, acked: { 0: 0, 1: 0, 2: 3 } });
  t.equal((await rowCounts(app)).items, 3);
});
