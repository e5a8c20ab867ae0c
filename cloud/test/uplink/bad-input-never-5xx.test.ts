import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { Value } from 'typebox/value';
import { ErrorReply, LIMITS } from '../../../protocol/v1.js';
import { batchOf, enrolledGateway, eventItem, postBatch, rowCounts, telemetryItem, telemetryRun, testCloud, type TestGateway } from '../fixtures/cloud.js';
import type { FastifyInstance } from 'fastify';

async function send(app: FastifyInstance, gw: TestGateway, payload: string | Buffer, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/v1/gateways/${gw.id}/batches`,
    headers: { ...gw.auth, 'content-type': 'application/json', ...headers },
    payload,
  });
}

t.test('bad batches are refused with a 4xx ErrorReply that says why, and store nothing', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const good = batchOf(gw, telemetryRun(1, 2));
  const withItem = (item: unknown) => JSON.stringify({ ...good, items: [item] });
  const [tItem] = telemetryRun(1, 1);

  const cases: { name: string; payload: string | Buffer; headers?: Record<string, string>; status: number; code: string; message?: RegExp }[] = [
    { name: 'malformed JSON', payload: '{"v":1,"gateway":', status: 400, code: 'CS_ERR_BAD_REQUEST' },
    { name: 'empty body', payload: '', status: 400, code: 'CS_ERR_BAD_REQUEST' },
    { name: 'JSON array instead of a batch', payload: '[]', status: 400, code: 'CS_ERR_VALIDATION' },
    { name: 'seq not an integer', payload: withItem({ ...tItem, seq: 'one' }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/items\/0\/seq must be integer/ },
    { name: 'seq 0', payload: withItem({ ...tItem, seq: 0 }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/items\/0\/seq/ },
    { name: 'lane 3', payload: withItem({ ...tItem, lane: 3 }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/items\/0\/lane/ },
    { name: 'missing sentAt', payload: JSON.stringify({ ...good, sentAt: undefined }), status: 400, code: 'CS_ERR_VALIDATION', message: /sentAt/ },
    { name: 'unknown property', payload: JSON.stringify({ ...good, extra: 1 }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/extra is not an allowed property/ },
    { name: 'wrong protocol version', payload: JSON.stringify({ ...good, v: 2 }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/v/ },
    { name: 'no items', payload: JSON.stringify({ ...good, items: [] }), status: 400, code: 'CS_ERR_VALIDATION', message: /body\/items/ },
    {
      name: 'an event body with a bad severity',
      payload: JSON.stringify(batchOf(gw, [{ ...eventItem(1, 's1'), body: { ...eventItem(1, 's1').body, severity: 'apocalyptic' } }])),
      status: 400,
      code: 'CS_ERR_VALIDATION',
      message: /body\/items\/0\/body\/severity/,
    },
    {
      name: 'a telemetry reading with a bad point id',
      payload: JSON.stringify(batchOf(gw, [telemetryItem(1, [{ id: 'Pump 1', v: 1, ts: 1, q: 'good' }])])),
      status: 400,
      code: 'CS_ERR_VALIDATION',
      message: /body\/items\/0\/body\/readings\/0\/id/,
    },
    { name: 'more than maxItems items', payload: JSON.stringify(batchOf(gw, telemetryRun(1, LIMITS.maxItems + 1))), status: 413, code: 'CS_ERR_BATCH_TOO_LARGE' },
    {
      name: 'an item body over maxItemBytes',
      payload: JSON.stringify(batchOf(gw, [{ ...tItem!, body: { blob: 'x'.repeat(LIMITS.maxItemBytes) } }])),
      status: 413,
      code: 'CS_ERR_BATCH_TOO_LARGE',
      message: /body\/items\/0\/body/,
    },
    { name: 'a body over the wire limit', payload: JSON.stringify({ ...good, pad: 'x'.repeat(LIMITS.maxCompressedBytes) }), status: 413, code: 'CS_ERR_BATCH_TOO_LARGE' },
    {
      name: 'a gzip body inflating past maxBatchBytes (zip bomb)',
      payload: gzipSync(JSON.stringify(good).replace('{', '{' + ' '.repeat(LIMITS.maxBatchBytes))),
      headers: { 'content-encoding': 'gzip' },
      status: 413,
      code: 'CS_ERR_BATCH_TOO_LARGE',
    },
    { name: 'not gzip at all', payload: 'this is not gzip', headers: { 'content-encoding': 'gzip' }, status: 400, code: 'CS_ERR_BATCH_ENCODING' },
    { name: 'truncated gzip', payload: gzipSync(JSON.stringify(good)).subarray(0, 20), headers: { 'content-encoding': 'gzip' }, status: 400, code: 'CS_ERR_BATCH_ENCODING' },
    { name: 'gzip of garbage', payload: gzipSync('{{{{'), headers: { 'content-encoding': 'gzip' }, status: 400, code: 'CS_ERR_BAD_REQUEST' },
    { name: 'brotli', payload: JSON.stringify(good), headers: { 'content-encoding': 'br' }, status: 415, code: 'CS_ERR_MEDIA_TYPE' },
    { name: 'text/plain', payload: JSON.stringify(good), headers: { 'content-type': 'text/plain' }, status: 415, code: 'CS_ERR_MEDIA_TYPE' },
  ];

  for (const c of cases) {
    const res = await send(app, gw, c.payload, c.headers);
    t.equal(res.statusCode, c.status, `${c.name}: status`);
    const body = res.json();
    t.ok(Value.Check(ErrorReply, body), `${c.name}: ErrorReply shape`);
    t.equal(body.code, c.code, `${c.name}: ${body.message}`);
    if (c.message !== undefined) t.match(body.message, c.message, `${c.name}: message names the field`);
  }
  t.same(await rowCounts(app), { items: 0, events: 0, latest_readings: 0 }, 'nothing stored');

  const metrics = (await app.inject({ url: '/metrics' })).body;
  t.match(metrics, new RegExp(`steward_cloud_batches_total\\{outcome="refused"\\} ${cases.length}\\n`), 'every refusal counted');
});

t.test('a gzip batch is accepted', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const res = await postBatch(app, gw, batchOf(gw, telemetryRun(1, 500)), { gzip: true });
  t.equal(res.statusCode, 200);
  t.equal(res.json().accepted, 500);
});

t.test('random bytes and random JSON never cause a 5xx', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const values: unknown[] = [null, 0, -1, 1e308, 'x', true, {}, [], { items: null }, { v: 1, items: [null] }, { v: 1, gateway: 'gw-1', site: 's1', sentAt: -5, items: [{}] }];
  let worst = 0;
  for (let i = 0; i < 60; i++) {
    const gzip = i % 2 === 0;
    const raw = i < values.length ? Buffer.from(JSON.stringify(values[i])) : randomBytes(1 + (i * 37) % 400);
    const res = await send(app, gw, gzip && i % 4 === 0 ? gzipSync(raw) : raw, gzip ? { 'content-encoding': 'gzip' } : {});
    worst = Math.max(worst, res.statusCode);
    t.ok(Value.Check(ErrorReply, res.json()), `case ${i}: ErrorReply`);
  }
  t.ok(worst < 500, `highest status ${worst}`);
});

t.test('other routes refuse bodies over their limit with 413', async (t) => {
  const app = await testCloud(t);
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'a', password: 'x'.repeat(100_000) } });
  t.equal(res.statusCode, 413);
  t.equal(res.json().code, 'CS_ERR_BODY_TOO_LARGE');
  const unknownRoute = await app.inject({ method: 'POST', url: '/v1/nothing-here' });
  t.equal(unknownRoute.statusCode, 404);
  t.equal(unknownRoute.json().code, 'CS_ERR_NOT_FOUND');
});
