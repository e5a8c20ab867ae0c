/**
 * Delivery semantics of the uplink: a batch is stored and acknowledged per lane; a second
 * delivery changes nothing; overlapping batches store only what is new; item ids are
 * unique; a restarted numbering is detected (docs/sync-protocol.md, "Acknowledgement and
 * idempotency").
 */
import t from 'tap';
import { Value } from 'typebox/value';
import { uuidv7 } from '../../../protocol/uuid.js';
import { BatchAck } from '../../../protocol/v1.js';
import { batchOf, enrolledGateway, eventItem, loggedInUser, postBatch, rowCounts, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('a batch is stored, projected and acknowledged per lane', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const items = [
    eventItem(1, 's1', { type: 'alarm.raised', severity: 'major', device: 'pump-1', body: { rule: 'outlet_pressure.low' } }),
    eventItem(1, 's1', { type: 'device.online', device: 'pump-1' }),
    eventItem(2, 's1', { type: 'device.offline', device: 'ahu-1', severity: 'warning' }),
    ...telemetryRun(1, 3),
  ];
  const sentAt = Date.now() - 5000; // a gateway clock 5 s behind
  const res = await postBatch(app, gw, { ...batchOf(gw, items), sentAt });
  t.equal(res.statusCode, 200);
  const ack = res.json();
  t.ok(Value.Check(BatchAck, ack), 'the answer is a protocol BatchAck');
  t.same(ack.acked, { 0: 1, 1: 2, 2: 3 });
  t.equal(ack.accepted, 6);
  t.equal(ack.duplicates, 0);
  t.ok(Math.abs(ack.serverTime - Date.now()) < 5000);

  t.same(await rowCounts(app), { items: 6, events: 3, latest_readings: 1 });

  const user = await loggedInUser(app);
  const status = (await app.inject({ url: '/v1/gateways/gw-1', headers: user })).json();
  t.same(status.lanes, { 0: { ackedSeq: 1 }, 1: { ackedSeq: 2 }, 2: { ackedSeq: 3 } });
  t.equal(status.enrolled, true);
  t.ok(status.lastSeenAt >= ack.serverTime - 1000, 'last contact recorded');
  t.ok(status.clockOffsetMs >= 5000 && status.clockOffsetMs < 6000, `clock offset ${status.clockOffsetMs} ms ≈ 5 s`);
  t.ok(status.serverTime >= ack.serverTime, "the status carries the cloud's clock");

  const alarms = (await app.inject({ url: '/v1/events?type=alarm.*', headers: user })).json();
  t.equal(alarms.length, 1);
  t.match(alarms[0], { site: 's1', gateway: 'gw-1', device: 'pump-1', type: 'alarm.raised', severity: 'major', body: { rule: 'outlet_pressure.low' } });
});

t.test('unknown item kinds are stored and acknowledged (forward compatibility)', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const item = { lane: 0 as const, seq: 1, id: '01900000-0000-7000-8000-000000000001', kind: 'future.thing', ts: 1, body: { op: 'create' } };
  const res = await postBatch(app, gw, batchOf(gw, [item]));
  t.equal(res.statusCode, 200);
  t.same(res.json().acked, { 0: 1, 1: 0, 2: 0 });
  const row = await app.stewardDb.db.selectFrom('items').selectAll().executeTakeFirstOrThrow();
  t.equal(row.kind, 'future.thing');
  t.same(JSON.parse(row.body_json), { op: 'create' });
  t.same(await rowCounts(app), { items: 1, events: 0, latest_readings: 0 }, 'not projected anywhere');
});

t.test('/metrics counts batches, items and duplicates', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const batch = batchOf(gw, telemetryRun(1, 4));
  await postBatch(app, gw, batch);
  await postBatch(app, gw, batch);
  await postBatch(app, gw, batchOf(gw, telemetryRun(9, 1)));
  const res = await app.inject({ url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  t.match(res.body, /steward_cloud_batches_total\{outcome="accepted"\} 2\n/);
  t.match(res.body, /steward_cloud_batches_total\{outcome="gap"\} 1\n/);
  t.match(res.body, /steward_cloud_items_accepted_total\{lane="2"\} 4\n/);
  t.match(res.body, /steward_cloud_items_duplicate_total\{lane="2"\} 4\n/);
  t.match(res.body, /steward_cloud_gap_refusals_total 1\n/);
});

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
