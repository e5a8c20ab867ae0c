/** Fleet configuration (issue 5): a release rolled out to a few gateways first, delivered on the downlink, reported applied, rolled back. */
import t from 'tap';
import { canonicalJson } from '../../../protocol/work-orders.js';
import { createHash } from 'node:crypto';
import { batchOf, enrolledGateway, eventItem, postBatch, testCloud, userWith } from '../fixtures/cloud.js';

t.test('staged rollout, applied report, rollback', async (t) => {
  const app = await testCloud(t);
  const g1 = await enrolledGateway(app, 's1', 'gw-1');
  const g2 = await enrolledGateway(app, 's1', 'gw-2');
  const admin = await userWith(app, 'root', 'admin');
  const parts1 = { site: 'site: { id: s1 }\n', flows: '[]' };
  const r1 = await app.inject({ method: 'POST', url: '/v1/config/releases', headers: admin, payload: { parts: parts1, note: 'first' } });
  t.equal(r1.statusCode, 201);
  t.same(r1.json(), { version: 1, checksum: createHash('sha256').update(canonicalJson(parts1)).digest('hex') });

  const staged = await app.inject({ method: 'POST', url: '/v1/config/releases/1/rollout', headers: admin, payload: { sites: ['s1'], stage: 1 } });
  t.same(staged.json(), { version: 1, gateways: ['gw-1'] }, 'a few gateways first');
  const feed1 = (await app.inject({ url: '/v1/gateways/gw-1/changes', headers: g1.auth })).json();
  t.match(feed1.changes, [{ kind: 'config.desired', body: { version: 1, checksum: r1.json().checksum, parts: parts1 } }]);
  t.same((await app.inject({ url: '/v1/gateways/gw-2/changes', headers: g2.auth })).json().changes, []);

  await postBatch(app, g1, batchOf(g1, [eventItem(1, 's1', { type: 'config.applied', severity: 'info', body: { version: 1, checksum: r1.json().checksum, status: 'applied' } })]));
  t.match((await app.inject({ url: '/v1/gateways/gw-1', headers: admin })).json().config, { desiredVersion: 1, appliedVersion: 1, appliedStatus: 'applied', appliedError: null });

  await app.inject({ method: 'POST', url: '/v1/config/releases/1/rollout', headers: admin, payload: { gateways: ['gw-2'] } });
  const r2 = (await app.inject({ method: 'POST', url: '/v1/config/releases', headers: admin, payload: { parts: { ...parts1, flows: '[{"id":"x"}]' } } })).json();
  await app.inject({ method: 'POST', url: `/v1/config/releases/${r2.version}/rollout`, headers: admin, payload: { sites: ['s1'] } });
  await postBatch(app, g1, batchOf(g1, [eventItem(2, 's1', { type: 'config.applied', severity: 'major', body: { version: 2, checksum: r2.checksum, status: 'failed', error: 'flows: node type x unknown' } })]));
  t.match((await app.inject({ url: '/v1/gateways/gw-1', headers: admin })).json().config, { desiredVersion: 2, appliedVersion: 2, appliedStatus: 'failed', appliedError: /unknown/ });

  const back = await app.inject({ method: 'POST', url: '/v1/config/rollback', headers: admin, payload: { sites: ['s1'] } });
  t.equal(back.statusCode, 200, back.body);
  t.same(back.json(), [{ gateway: 'gw-1', from: 2, to: 1, version: 3 }, { gateway: 'gw-2', from: 2, to: 1, version: 3 }]);
  const last = (await app.inject({ url: '/v1/gateways/gw-2/changes', headers: g2.auth })).json().changes.at(-1);
  t.match(last, { kind: 'config.desired', body: { version: 3, checksum: r1.json().checksum } }, 'the old parts under a new, higher version');
  const viewer = await userWith(app, 'v', 'viewer', ['s1']);
  t.equal((await app.inject({ method: 'POST', url: '/v1/config/releases', headers: viewer, payload: { parts: parts1 } })).statusCode, 403);
  t.equal((await app.inject({ method: 'POST', url: '/v1/config/releases', headers: admin, payload: { parts: { '../etc': 'x' } } })).statusCode, 400);
});
