import t from 'tap';
import { addGateway } from '../../src/index.js';
import { createGateway, ENROLMENT_TTL_MS } from '../../src/gateways/enrolment.js';
import { batchOf, postBatch, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('an enrolment token buys a secret once; the second use is refused', async (t) => {
  const app = await testCloud(t);
  const token = await addGateway(app, { site: 'sz-garden-01', gateway: 'gw-01', siteName: '深圳某花园' });
  t.match(token, /^ste_[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');

  const first = await app.inject({ method: 'POST', url: '/v1/gateways/gw-01/enrol', payload: { token } });
  t.equal(first.statusCode, 200);
  const reply = first.json();
  t.match(reply, { gateway: 'gw-01', site: 'sz-garden-01', acked: { 0: 0, 1: 0, 2: 0 } });
  t.match(reply.secret, /^stg_/);

  const again = await app.inject({ method: 'POST', url: '/v1/gateways/gw-01/enrol', payload: { token } });
  t.equal(again.statusCode, 401);
  t.equal(again.json().code, 'CS_ERR_ENROL_TOKEN');

  const row = await app.stewardDb.db.selectFrom('gateways').selectAll().where('id', '=', 'gw-01').executeTakeFirstOrThrow();
  t.not(row.secret_hash, reply.secret, 'the secret is stored hashed');
  t.equal(row.enrol_token_hash, null, 'the token is spent');
  const site = await app.stewardDb.db.selectFrom('sites').selectAll().executeTakeFirstOrThrow();
  t.equal(site.name, '深圳某花园', 'the site is created with its name');
});

t.test('a wrong token, a token of another gateway and an expired token are refused alike', async (t) => {
  const app = await testCloud(t);
  const tokenA = await addGateway(app, { site: 's1', gateway: 'gw-a' });
  await addGateway(app, { site: 's1', gateway: 'gw-b' });
  const wrong = await app.inject({ method: 'POST', url: '/v1/gateways/gw-b/enrol', payload: { token: tokenA } });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, 'CS_ERR_ENROL_TOKEN');
  const unknown = await app.inject({ method: 'POST', url: '/v1/gateways/gw-zz/enrol', payload: { token: tokenA } });
  t.equal(unknown.statusCode, 401, 'an unknown gateway is not revealed');

  const expired = await createGateway(app.stewardDb, { site: 's1', gateway: 'gw-c' }, Date.now() - ENROLMENT_TTL_MS - 1);
  const late = await app.inject({ method: 'POST', url: '/v1/gateways/gw-c/enrol', payload: { token: expired } });
  t.equal(late.statusCode, 401);
  t.equal(late.json().code, 'CS_ERR_ENROL_TOKEN');
  t.match(late.json().message, /expired/);
});

t.test('re-issuing a token: the old secret works until the gateway re-enrols, then stops', async (t) => {
  const app = await testCloud(t);
  const first = await addGateway(app, { site: 's1', gateway: 'gw-1' });
  const old = (await app.inject({ method: 'POST', url: '/v1/gateways/gw-1/enrol', payload: { token: first } })).json().secret as string;
  const gwOld = { id: 'gw-1', site: 's1', secret: old, auth: { authorization: `Bearer ${old}` } };
  t.equal((await postBatch(app, gwOld, batchOf(gwOld, telemetryRun(1, 2)))).statusCode, 200);

  const second = await addGateway(app, { site: 's1', gateway: 'gw-1' });
  t.equal((await postBatch(app, gwOld, batchOf(gwOld, telemetryRun(3, 1)))).statusCode, 200, 'old secret still valid');

  const enrol = await app.inject({ method: 'POST', url: '/v1/gateways/gw-1/enrol', payload: { token: second } });
  t.equal(enrol.statusCode, 200);
  t.same(enrol.json().acked, { 0: 0, 1: 0, 2: 3 }, 'the marks tell a fresh gateway where to continue');
  const refused = await postBatch(app, gwOld, batchOf(gwOld, telemetryRun(4, 1)));
  t.equal(refused.statusCode, 401);
  t.equal(refused.json().code, 'CS_ERR_AUTH_INVALID');
});

t.test('a gateway id belongs to one site', async (t) => {
  const app = await testCloud(t);
  await addGateway(app, { site: 's1', gateway: 'gw-1' });
  await t.rejects(addGateway(app, { site: 's2', gateway: 'gw-1' }), { code: 'CS_ERR_GATEWAY_EXISTS' });
  await t.rejects(addGateway(app, { site: 'S1!', gateway: 'gw-2' }), { code: 'CS_ERR_CONFIG_INVALID' });
});
