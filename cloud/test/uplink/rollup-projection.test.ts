/**
 * Roll-ups are projected after the acknowledgement (cloud/src/sync/projector.ts): every
 * acknowledged roll-up reaches the `rollups` table exactly once — across replays,
 * overlapping batches, items whose id was already stored, other lane-2 kinds in between,
 * a cloud restart with projection pending, and a failed step — on SQLite and PostgreSQL.
 */
import t from 'tap';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { OutboxItem, WireRollup } from '../../../protocol/v1.js';
import { buildCloud, openCloudDatabase } from '../../src/index.js';
import { RollupProjector } from '../../src/sync/projector.js';
import { backends } from '../fixtures/backends.js';
import { batchOf, enrolledGateway, postBatch, telemetryItem } from '../fixtures/cloud.js';

const T0 = Date.UTC(2026, 10, 1);
const MINUTE = 60_000;

function rollupItem(seq: number, minute: number, points: number, value = 1, id = uuidv7()): OutboxItem {
  const rollups: WireRollup[] = Array.from({ length: points }, (_, i) => ({ id: `pump-1.p${i}`, minute: T0 + minute * MINUTE, min: value, max: value + 1, avg: value + 0.5, count: 60, last: value }));
  return { lane: 2, seq, id, kind: 'telemetry.rollup', ts: T0 + minute * MINUTE, body: { rollups } };
}

for (const backend of await backends()) {
  t.test(`${backend.name}: roll-ups projected after the ack, exactly once`, async (t) => {
    t.teardown(() => backend.cleanup());
    let app = await buildCloud({ database: backend.database, background: false });
    t.teardown(() => app.close());
    const gw = await enrolledGateway(app, 's1', 'gw-1');
    const other = await enrolledGateway(app, 's2', 'gw-2');
    const db = () => app.stewardDb.db;
    const count = async (site?: string): Promise<number> => {
      let q = db().selectFrom('rollups').select((eb) => eb.fn.countAll<number>().as('n'));
      if (site !== undefined) q = q.where('site_id', '=', site);
      return Number((await q.executeTakeFirstOrThrow()).n);
    };

    // 30 roll-up items of 100 points (more than one projector step), a latest-values item
    // between them, a replayed minute (same point and minute again, another value).
    const items: OutboxItem[] = [];
    for (let s = 1; s <= 30; s++) items.push(s === 12 ? telemetryItem(12, [{ id: 'pump-1.flow', v: 3, ts: T0, q: 'good' }]) : rollupItem(s, s, 100, s));
    items.push(rollupItem(31, 5, 100, 999));
    const res = await postBatch(app, gw, batchOf(gw, items), { gzip: true });
    t.equal(res.statusCode, 200, res.body);
    t.same(res.json().acked, { 0: 0, 1: 0, 2: 31 });
    await postBatch(app, other, batchOf(other, [rollupItem(1, 1, 10)]));

    await app.stewardProjector.flush();
    t.equal(await count('s1'), 29 * 100, 'every roll-up of every roll-up item, once (the replayed minute keeps its first value)');
    t.equal(await count('s2'), 10, "the other gateway's, under its own site");
    const five = await db().selectFrom('rollups').select('last').where('site_id', '=', 's1').where('minute', '=', T0 + 5 * MINUTE).where('point_id', '=', 'pump-1.p0').executeTakeFirstOrThrow();
    t.equal(five.last, 5, 'first value wins');
    const mark = await db().selectFrom('projection_marks').select('projected_seq').where('gateway_id', '=', 'gw-1').where('lane', '=', 2).executeTakeFirstOrThrow();
    t.equal(Number(mark.projected_seq), 31, 'the cursor is at the acknowledged mark');

    // A replayed batch and an overlapping one: nothing projected twice, only the new minute added.
    t.equal((await postBatch(app, gw, batchOf(gw, items))).json().duplicates, 31);
    const reused = items[2]!; // an id already stored, under a new seq: acknowledged, not stored, not projected
    const r2 = await postBatch(app, gw, batchOf(gw, [...items.slice(29), { ...reused, seq: 32 }, rollupItem(33, 40, 100)]));
    t.same(r2.json().acked, { 0: 0, 1: 0, 2: 33 });
    await app.stewardProjector.flush();
    t.equal(await count('s1'), 30 * 100, 'one new minute; the replays and the reused id added nothing');

    // Acknowledged but not projected when the cloud stops: the next start projects it.
    await app.stewardProjector.close();
    t.equal((await postBatch(app, gw, batchOf(gw, [rollupItem(34, 41, 100), rollupItem(35, 42, 100)]))).statusCode, 200);
    t.same(await app.stewardProjector.status(), { lagGateways: 1, lagItems: 2 }, 'acknowledged, not projected yet');
    t.equal(await count('s1'), 30 * 100);
    await app.close();
    app = await buildCloud({ database: backend.database, background: false });
    await app.stewardProjector.flush();
    t.equal(await count('s1'), 32 * 100, 'projected after the restart');
    t.same(await app.stewardProjector.status(), { lagGateways: 0, lagItems: 0 });
  });
}

t.test('a failed step changes nothing and is retried: no roll-up lost or doubled', async (t) => {
  const app = await buildCloud({ database: ':memory:', background: false });
  t.teardown(() => app.close());
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  await app.stewardProjector.close(); // drive a separate projector by hand
  t.equal((await postBatch(app, gw, batchOf(gw, [rollupItem(1, 1, 50), rollupItem(2, 2, 50)]))).statusCode, 200);

  // A roll-up row that collides with nothing but fails a constraint: the step's
  // transaction rolls back, cursor included.
  const cdb = app.stewardDb;
  await cdb.db.schema.createTable('rollups_guard').addColumn('x', 'integer').execute();
  const sqlite = cdb.sqlite!;
  sqlite.exec(`CREATE TRIGGER fail_once BEFORE INSERT ON rollups WHEN NEW.minute = ${T0 + 2 * MINUTE} AND (SELECT count(*) FROM rollups_guard) = 0 BEGIN SELECT RAISE(ABORT, 'injected failure'); END`);
  const errors: unknown[] = [];
  const projector = new RollupProjector(cdb, { stepItems: 1, onError: (err) => errors.push(err), retryMs: 60_000 });
  t.teardown(() => projector.close());
  await t.rejects(projector.flush(), /injected failure/);
  const rows = async () => Number((await cdb.db.selectFrom('rollups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  t.equal(await rows(), 50, 'the first item projected, the failed one not at all');
  const mark = await cdb.db.selectFrom('projection_marks').select('projected_seq').executeTakeFirstOrThrow();
  t.equal(Number(mark.projected_seq), 1, 'the cursor stayed before the failed item');

  await cdb.db.insertInto('rollups_guard' as never).values({ x: 1 } as never).execute();
  await projector.flush();
  t.equal(await rows(), 100, 'retried: each roll-up once');
  t.same(projector.counts(), { steps: 2, items: 2, rollups: 100, failures: 0 });
  t.same(errors, [], 'flush reports its failure to its caller');
});

for (const backend of await backends()) {
  if (backend.name !== 'postgres') {
    await backend.cleanup(); // SQLite: one process per file, see docs/scaling.md
    continue;
  }
  t.test('postgres: two cloud instances projecting at once share the gateways, each item once', async (t) => {
    t.teardown(() => backend.cleanup());
    const app = await buildCloud({ database: backend.database, background: false });
    t.teardown(() => app.close());
    await app.stewardProjector.close(); // the two below do the work
    const gateways = await Promise.all([1, 2, 3, 4].map((n) => enrolledGateway(app, `s${n}`, `gw-${n}`)));
    for (const gw of gateways) {
      const res = await postBatch(app, gw, batchOf(gw, Array.from({ length: 10 }, (_, k) => rollupItem(k + 1, k + 1, 50))));
      t.equal(res.statusCode, 200, res.body);
    }
    const other = await openCloudDatabase(backend.database);
    t.teardown(() => other.close());
    const a = new RollupProjector(app.stewardDb, { stepItems: 2 });
    const b = new RollupProjector(other, { stepItems: 2 });
    await Promise.all([a.flush(), b.flush()]);
    t.equal(a.counts().items + b.counts().items, 40, `every item projected by one of them (${a.counts().items} + ${b.counts().items})`);
    t.equal(a.counts().rollups + b.counts().rollups, 40 * 50);
    const n = await app.stewardDb.db.selectFrom('rollups').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    t.equal(Number(n.n), 40 * 50);
    t.same(await a.status(), { lagGateways: 0, lagItems: 0 });
  });
}
