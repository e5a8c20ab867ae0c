/**
 * The cloud over a real socket on 127.0.0.1 (port 0): what a gateway and a browser see,
 * including a chunked upload (no Content-Length) that only the streaming caps can stop.
 */
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { LIMITS } from '../../../protocol/v1.js';
import { addGateway, startCloud } from '../../src/index.js';
import { batchOf, telemetryRun } from '../fixtures/cloud.js';

/** POST with chunked transfer encoding (no Content-Length), so only the streaming cap can refuse it. */
function chunkedPost(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...headers, 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may answer and close before the whole upload is written.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    const write = (i: number): void => {
      if (i >= chunks.length || req.destroyed) {
        req.end();
        return;
      }
      if (req.write(chunks[i]!)) setImmediate(() => write(i + 1));
      else req.once('drain', () => write(i + 1));
    };
    write(0);
  });
}

t.test('a gateway enrols and syncs over real HTTP; ops endpoints answer', async (t) => {
  const cloud = await startCloud({ host: '127.0.0.1', port: 0, database: ':memory:' });
  t.teardown(() => cloud.close());
  t.match(cloud.url, /^http:\/\/127\.0\.0\.1:\d+$/);

  const token = await addGateway(cloud.app, { site: 'sz-garden-01', gateway: 'gw-01' });
  const enrol = await fetch(`${cloud.url}/v1/gateways/gw-01/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  t.equal(enrol.status, 200);
  const { secret } = (await enrol.json()) as { secret: string };
  const auth = { authorization: `Bearer ${secret}` };
  const gw = { id: 'gw-01', site: 'sz-garden-01' };

  const res = await fetch(`${cloud.url}/v1/gateways/gw-01/batches`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
    body: gzipSync(JSON.stringify(batchOf(gw, telemetryRun(1, 200)))),
  });
  t.equal(res.status, 200);
  t.match(await res.json(), { acked: { 2: 200 }, accepted: 200 });

  const status = await fetch(`${cloud.url}/v1/gateways/gw-01`, { headers: auth });
  t.match(await status.json(), { id: 'gw-01', lanes: { 2: { ackedSeq: 200 } } });

  const health = await fetch(`${cloud.url}/healthz`);
  t.equal(health.status, 200);
  const metrics = await fetch(`${cloud.url}/metrics`);
  t.match(await metrics.text(), /steward_cloud_items_accepted_total\{lane="2"\} 200/);
  const docs = await fetch(`${cloud.url}/docs`, { redirect: 'follow' });
  t.equal(docs.status, 200);
  t.match(await docs.text(), /swagger/i, 'the OpenAPI UI');
  const openapi = (await (await fetch(`${cloud.url}/docs/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  t.equal(openapi.openapi, '3.1.0');
  for (const path of ['/v1/gateways/{id}/batches', '/v1/gateways/{id}/enrol', '/v1/gateways/{id}', '/v1/sites/{site}/points', '/v1/events', '/v1/auth/login', '/healthz', '/metrics']) {
    t.ok(path in openapi.paths, `OpenAPI documents ${path}`);
  }

  // A chunked upload past the wire cap: refused while streaming.
  const big = Buffer.alloc(64 * 1024, 0x20);
  const overWire = await chunkedPost(`${cloud.url}/v1/gateways/gw-01/batches`, { ...auth, 'content-type': 'application/json' }, Array.from({ length: Math.ceil(LIMITS.maxCompressedBytes / big.length) + 2 }, () => big));
  t.equal(overWire.status, 413);
  t.match(JSON.parse(overWire.body), { code: 'CS_ERR_BATCH_TOO_LARGE' });

  const healthAfter = await fetch(`${cloud.url}/healthz`);
  t.equal(healthAfter.status, 200, 'still serving');
});

t.test('close is idempotent and frees the port', async (t) => {
  const cloud = await startCloud({ port: 0, database: ':memory:' });
  await Promise.all([cloud.close(), cloud.close()]);
  await t.rejects(fetch(`${cloud.url}/healthz`), 'no longer listening');
});
