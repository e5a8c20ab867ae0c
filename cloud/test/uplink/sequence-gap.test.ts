import t from 'tap';
import { Value } from 'typebox/value';
import { SeqGapError } from '../../../protocol/v1.js';
import { batchOf, enrolledGateway, eventItem, postBatch, rowCounts, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('a gap answers 409 with the expected seq and stores nothing of the batch', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  t.equal((await postBatch(app, gw, batchOf(gw, telemetryRun(1, 3)))).statusCode, 200);
  const before = await rowCounts(app);

  // Lane 1 is fine, lane 2 skips 4..5.
  const res = await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1'), ...telemetryRun(6, 2)]));
  t.equal(res.statusCode, 409);
  const body = res.json();
  t.ok(Value.Check(SeqGapError, body), 'the answer is a protocol SeqGapError');
  t.match(body, { statusCode: 409, code: 'CS_ERR_BATCH_SEQ_GAP', error: 'Conflict', lane: 2, expected: 4, got: 6, acked: { 0: 0, 1: 0, 2: 3 } });
  t.same(await rowCounts(app), before, 'nothing stored, not even the good lane');

  const status = await app.inject({ url: '/v1/gateways/gw-1', headers: gw.auth });
  t.same(status.json().lanes, { 0: { ackedSeq: 0 }, 1: { ackedSeq: 0 }, 2: { ackedSeq: 3 } }, 'marks unchanged');
});

t.test('a hole inside the new items of a lane is a gap too', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const [a, b, , d] = telemetryRun(1, 4);
  const res = await postBatch(app, gw, batchOf(gw, [a!, b!, d!]));
  t.equal(res.statusCode, 409);
  t.match(res.json(), { lane: 2, expected: 3, got: 4, acked: { 2: 0 } });
  t.equal((await rowCounts(app)).items, 0);
});

t.test('a first batch must start at seq 1', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const res = await postBatch(app, gw, batchOf(gw, telemetryRun(2, 2)));
  t.equal(res.statusCode, 409);
  t.match(res.json(), { lane: 2, expected: 1, got: 2 });
});

t.test('the same lane and seq twice with different ids is refused', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const [a] = telemetryRun(1, 1);
  const [b] = telemetryRun(1, 1);
  const res = await postBatch(app, gw, batchOf(gw, [a!, b!]));
  t.equal(res.statusCode, 400);
  t.equal(res.json().code, 'CS_ERR_BATCH_SEQ_REPEATED');
  t.equal((await rowCounts(app)).items, 0);
});
