import t from 'tap';
import { addUser } from '../../src/index.js';
import { batchOf, enrolledGateway, postBatch, telemetryRun, testCloud } from '../fixtures/cloud.js';

t.test('the read API needs a login', async (t) => {
  const app = await testCloud(t);
  await enrolledGateway(app, 's1', 'gw-1');
  for (const url of ['/v1/sites', '/v1/sites/s1/points', '/v1/gateways/gw-1', '/v1/gateways', '/v1/events']) {
    const res = await app.inject({ url });
    t.equal(res.statusCode, 401, url);
    t.equal(res.json().code, 'CS_ERR_AUTH_MISSING', url);
  }
  const bogus = await app.inject({ url: '/v1/sites', headers: { authorization: 'Bearer stu_not-a-token' } });
  t.equal(bogus.json().code, 'CS_ERR_AUTH_INVALID');
});

t.test('login: a wrong password and an unknown name get the same 401; the right one a token', async (t) => {
  const app = await testCloud(t);
  await addUser(app, { name: 'wang.li', password: 'correct horse battery', role: 'dispatcher' });

  const wrong = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'wang.li', password: 'incorrect' } });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().code, 'CS_ERR_LOGIN_FAILED');
  const unknown = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'nobody', password: 'incorrect' } });
  t.equal(unknown.statusCode, 401);
  t.equal(unknown.json().message, wrong.json().message, 'does not say which was wrong');

  const ok = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'wang.li', password: 'correct horse battery' } });
  t.equal(ok.statusCode, 200);
  const { token, expiresAt } = ok.json();
  t.match(token, /^stu_/);
  t.ok(expiresAt > Date.now() + 11 * 3600_000 && expiresAt <= Date.now() + 12 * 3600_000, 'lives 12 hours');
  const sites = await app.inject({ url: '/v1/sites', headers: { authorization: `Bearer ${token}` } });
  t.equal(sites.statusCode, 200);

  const row = await app.stewardDb.db.selectFrom('users').selectAll().executeTakeFirstOrThrow();
  t.match(row.password_hash, /^scrypt\$32768\$8\$1\$/, 'scrypt, salted, parameters recorded');

  await app.stewardDb.db.updateTable('sessions').set({ expires_at: Date.now() - 1 }).execute();
  const expired = await app.inject({ url: '/v1/sites', headers: { authorization: `Bearer ${token}` } });
  t.equal(expired.statusCode, 401, 'an expired login is refused');
});

t.test('a login cannot post gateway batches; user names are checked', async (t) => {
  const app = await testCloud(t);
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  await addUser(app, { name: 'admin', password: 'correct horse battery', role: 'admin' });
  const { token } = (await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'admin', password: 'correct horse battery' } })).json();
  const res = await postBatch(app, { ...gw, auth: { authorization: `Bearer ${token}` } }, batchOf(gw, telemetryRun(1, 1)));
  t.equal(res.statusCode, 403);
  t.equal(res.json().code, 'CS_ERR_FORBIDDEN');

  await t.rejects(addUser(app, { name: 'admin', password: 'another password', role: 'viewer' }), { code: 'CS_ERR_USER_EXISTS' });
  await t.rejects(addUser(app, { name: 'x y', password: 'long enough', role: 'viewer' }), { code: 'CS_ERR_CONFIG_INVALID' });
  await t.rejects(addUser(app, { name: 'short', password: 'short', role: 'viewer' }), { code: 'CS_ERR_CONFIG_INVALID' });
  const badName = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: "admin' --", password: 'x' } });
  t.equal(badName.statusCode, 400);
  t.equal(badName.json().code, 'CS_ERR_VALIDATION');
});
