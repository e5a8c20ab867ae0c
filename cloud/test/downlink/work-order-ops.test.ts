/**
 * Work-order operations from gateways and the downlink (issue 5, part 1), on every dialect:
 * the cloud applies a gateway's operation with the shared state machine, echoes accepted
 * operations to every gateway of the site, answers refused ones to the sender only with
 * the reason, is idempotent on op id, and long-polls wake at once.
 */
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { OutboxItem } from '../../../protocol/v1.js';
import type { WorkOrderOp } from '../../../protocol/work-orders.js';
import { buildCloud } from '../../src/index.js';
import { backends } from '../fixtures/backends.js';
import { batchOf, enrolledGateway, loggedInUser, postBatch, type TestGateway } from '../fixtures/cloud.js';
import type { FastifyInstance } from 'fastify';

const opItem = (seq: number, op: WorkOrderOp): OutboxItem => ({ lane: 0, seq, id: uuidv7(), kind: 'workorder.op', ts: op.ts, body: op });
const createOp = (site: string, wo = uuidv7(), extra: Record<string, unknown> = {}): WorkOrderOp => ({
  id: uuidv7(),
  workOrder: wo,
  op: 'create',
  actor: 'operator',
  ts: Date.now(),
  data: { site, title: 'Pump P-2 low outlet pressure', category: 'plumbing', priority: 'P2', device: 'pump-2', ...extra },
});
const op = (wo: string, kind: WorkOrderOp['op'], data: Record<string, unknown> = {}): WorkOrderOp => ({ id: uuidv7(), workOrder: wo, op: kind, actor: 'gw-user', ts: Date.now(), data });

async function changes(app: FastifyInstance, gw: TestGateway, after = 0, waitMs = 0) {
  const res = await app.inject({ url: `/v1/gateways/${gw.id}/changes?after=${after}&waitMs=${waitMs}`, headers: gw.auth });
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`);
  return res.json() as { changes: { seq: number; kind: string; ts: number; body: Record<string, unknown> }[]; cursor: number; more: boolean; serverTime: number };
}

for (const backend of await backends()) {
  t.test(`downlink and work-order operations: ${backend.name}`, async (t) => {
    t.teardown(() => backend.cleanup());
    const app = await buildCloud({ database: backend.database, background: false });
    t.teardown(() => app.close());
    const a = await enrolledGateway(app, 'site-a', 'gw-a');
    const b = await enrolledGateway(app, 'site-a', 'gw-b');
    const c = await enrolledGateway(app, 'site-c', 'gw-c');
    let seqA = 0;
    let seqC = 0;
    const sendA = (...ops: WorkOrderOp[]) => postBatch(app, a, batchOf(a, ops.map((o) => opItem(++seqA, o))));

    const wo = uuidv7();
    const create = createOp('site-a', wo);
    const res = await sendA(create);
    t.equal(res.statusCode, 200);
    t.same(res.json().acked, { 0: 1, 1: 0, 2: 0 });

    await t.test('an accepted operation reaches every gateway of the site, the sender included, and no other', async (t) => {
      const fa = await changes(app, a);
      t.same(fa.changes.map((ch) => [ch.seq, ch.kind, ch.body]), [[1, 'workorder.op', create]], "the sender's own op comes back as confirmation");
      t.equal(fa.cursor, 1);
      t.equal(fa.more, false);
      t.same((await changes(app, b)).changes.map((ch) => ch.body['id']), [create.id]);
      t.same((await changes(app, c)).changes, []);
      const user = await loggedInUser(app, 'admin-1');
      const wores = await app.inject({ url: `/v1/work-orders/${wo}`, headers: user });
      t.equal(wores.statusCode, 200);
      t.match(wores.json().workOrder, { id: wo, status: 'open', site: 'site-a' });
      t.match(wores.json().ops, [{ id: create.id, outcome: 'accepted', gateway: 'gw-a', version: 1 }], 'the op log names the gateway it came from');
    });

    await t.test('a refused operation comes back to the sender only, with the reason from applyOp', async (t) => {
      const start = op(wo, 'start');
      await sendA(start);
      const fa = await changes(app, a, 1);
      t.same(fa.changes.map((ch) => [ch.kind, ch.body]), [['workorder.rejected', { opId: start.id, workOrder: wo, op: 'start', reason: 'cannot start a work order that is open (allowed from: assigned)' }]]);
      t.same((await changes(app, b, 1)).changes, [], 'other gateways hear nothing of it');
    });

    await t.test('bad data is refused as an operation (the lane moves on), not as a batch', async (t) => {
      const bad = op(wo, 'assign', { assignee: '' });
      const r = await sendA(bad);
      t.equal(r.statusCode, 200);
      const fa = await changes(app, a, 2);
      t.equal(fa.changes[0]?.kind, 'workorder.rejected');
      t.match(fa.changes[0]?.body['reason'], /invalid assign operation: data\/assignee/);
    });

    await t.test('a gateway cannot touch another site: its op on site-a is refused as unknown', async (t) => {
      const foreign = op(wo, 'note', { text: 'hello from another site' });
      const r = await postBatch(app, c, batchOf(c, [opItem(++seqC, foreign)]));
      t.equal(r.statusCode, 200);
      const fc = await changes(app, c);
      t.match(fc.changes, [{ kind: 'workorder.rejected', body: { opId: foreign.id, reason: /does not exist/ } }]);
      const wrongSite = createOp('site-a');
      await postBatch(app, c, batchOf(c, [opItem(++seqC, wrongSite)]));
      t.match((await changes(app, c, fc.cursor)).changes, [{ kind: 'workorder.rejected', body: { opId: wrongSite.id, reason: /only for site site-c/ } }]);
      t.equal((await changes(app, a, 3)).changes.length, 0, 'site-a heard nothing');
    });

    await t.test('idempotent: a replayed batch and a resent op id add nothing', async (t) => {
      const before = (await changes(app, a, 3)).cursor;
      const assign = op(wo, 'assign', { assignee: 'li.wei' });
      const batch = batchOf(a, [opItem(++seqA, assign)]);
      await postBatch(app, a, batch);
      await postBatch(app, a, batch);
      await sendA(assign); // same op id in a new outbox item
      const fa = await changes(app, a, before);
      t.same(fa.changes.map((ch) => [ch.kind, ch.body['id']]), [['workorder.op', assign.id]]);
      const ops = await app.stewardDb.db.selectFrom('work_order_ops').select('id').where('id', '=', assign.id).execute();
      t.equal(ops.length, 1);
    });

    await t.test('the cursor is recorded in the gateway status', async (t) => {
      await changes(app, b, 2);
      const status = (await app.inject({ url: '/v1/gateways/gw-b', headers: b.auth })).json();
      t.match(status.downlink, { cursor: 2, lastSeq: 2 });
      t.type(status.downlink.polledAt, 'number');
    });

    await t.test('a long-poll answers as soon as a change is appended', async (t) => {
      const after = (await changes(app, b, 0)).cursor;
      const started = Date.now();
      const pending = changes(app, b, after, 10_000);
      await new Promise((r) => setTimeout(r, 150));
      const note = op(wo, 'note', { text: 'on my way' });
      await sendA(note);
      const got = await pending;
      const took = Date.now() - started;
      t.same(got.changes.map((ch) => ch.body['id']), [note.id]);
      t.ok(took < 2000, `answered in ${took} ms`);
    });

    await t.test('a long-poll with nothing new answers empty after waitMs with the same cursor', async (t) => {
      const after = (await changes(app, b, 0)).cursor;
      const started = Date.now();
      const got = await changes(app, b, after, 600);
      t.same(got.changes, []);
      t.equal(got.cursor, after);
      t.ok(Date.now() - started >= 550, 'held');
    });

    await t.test('a change committed by another cloud replica wakes the poll through the database re-check', async (t) => {
      const other = await buildCloud({ database: backend.database, background: false });
      t.teardown(() => other.close());
      const after = (await changes(app, b, 0)).cursor;
      const started = Date.now();
      const pending = changes(app, b, after, 10_000);
      await new Promise((r) => setTimeout(r, 100));
      const note = op(wo, 'note', { text: 'via the other replica' });
      const r = await postBatch(other, a, batchOf(a, [opItem(++seqA, note)]));
      t.equal(r.statusCode, 200);
      const got = await pending;
      t.same(got.changes.map((ch) => ch.body['id']), [note.id]);
      t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`);
    });

    await t.test('a gateway added later starts with the accepted operations of its site\'s open work orders', async (t) => {
      const late = await enrolledGateway(app, 'site-a', 'gw-late');
      const f = await changes(app, late);
      t.match(f.changes[0], { seq: 1, kind: 'workorder.op', body: { id: create.id, op: 'create', workOrder: wo } });
      t.ok(f.changes.every((ch) => ch.kind === 'workorder.op'), 'no rejections of other gateways');
      t.same(f.changes.map((ch) => ch.body['op']), ['create', 'assign', 'note', 'note'].slice(0, f.changes.length));
    });

    await t.test('only the gateway itself reads its feed', async (t) => {
      const user = await loggedInUser(app, 'admin-2');
      t.equal((await app.inject({ url: '/v1/gateways/gw-a/changes', headers: user })).statusCode, 403);
      t.equal((await app.inject({ url: '/v1/gateways/gw-a/changes', headers: b.auth })).statusCode, 403);
      t.equal((await app.inject({ url: '/v1/gateways/gw-a/changes' })).statusCode, 401);
      t.equal((await app.inject({ url: '/v1/gateways/gw-a/changes?waitMs=31000', headers: a.auth })).statusCode, 400);
    });

    await t.test('closing the cloud answers held polls at once', async (t) => {
      const other = await buildCloud({ database: backend.database, background: false });
      const after = (await changes(other, b, 0)).cursor;
      const started = Date.now();
      const pending = changes(other, b, after, 20_000);
      await new Promise((r) => setTimeout(r, 100));
      await other.close();
      const got = await pending;
      t.same(got.changes, []);
      t.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`);
    });
  });
}
