/**
 * The store contract, run against every dialect (CONVENTIONS §9): SQLite always,
 * PostgreSQL when STEWARD_TEST_PG is set or a server answers at 127.0.0.1:5432 (database
 * `test`, user postgres or root). Each PostgreSQL run gets a fresh schema, dropped after.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { addGateway, buildCloud, openCloudDatabase } from '../../src/index.js';
import { batchOf, enrolledGateway, eventItem, loggedInUser, postBatch, rowCounts, telemetryItem, telemetryRun } from '../fixtures/cloud.js';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function postgresUrl(): Promise<string | undefined> {
  const configured = process.env['STEWARD_TEST_PG'];
  if (configured !== undefined && configured !== '') return configured;
  for (const user of ['postgres', 'root']) {
    const url = `postgres://${user}@127.0.0.1:5432/test`;
    if (await answers(url)) return url;
  }
  return undefined;
}

interface Backend {
  name: string;
  database: string;
  cleanup(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), 'steward-cloud-db-'));
const backends: Backend[] = [{ name: 'sqlite', database: join(dir, 'cloud.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }];
const pgBase = await postgresUrl();
if (pgBase !== undefined) {
  const schema = `steward_test_${randomBytes(6).toString('hex')}`;
  const sep = pgBase.includes('?') ? '&' : '?';
  backends.push({
    name: 'postgres',
    database: `${pgBase}${sep}schema=${schema}`,
    async cleanup() {
      const client = new pg.Client({ connectionString: pgBase });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    },
  });
  t.test('postgres: two clouds starting at once on a fresh schema both come up', async (t) => {
    const fresh = `steward_test_${randomBytes(6).toString('hex')}`;
    const sep = pgBase.includes('?') ? '&' : '?';
    t.teardown(async () => {
      const client = new pg.Client({ connectionString: pgBase });
      await client.connect();
      await client.query(`drop schema if exists ${fresh} cascade`);
      await client.end();
    });
    const both = await Promise.all([openCloudDatabase(`${pgBase}${sep}schema=${fresh}`), openCloudDatabase(`${pgBase}${sep}schema=${fresh}`)]);
    for (const cdb of both) await cdb.close();
    t.pass('schema creation and migrations tolerate a concurrent start');
  });
} else {
  t.comment('PostgreSQL not reachable and STEWARD_TEST_PG not set: the contract runs against SQLite only');
}

for (const backend of backends) {
  t.test(`store contract: ${backend.name}`, async (t) => {
    t.teardown(() => backend.cleanup());

    await t.test('migrations run once and are idempotent; data survives a restart', async (t) => {
      const first = await openCloudDatabase(backend.database);
      await addGateway(first, { site: 'restart-site', gateway: 'restart-gw' });
      await first.close();
      const second = await openCloudDatabase(backend.database);
      const row = await second.db.selectFrom('gateways').select('site_id').where('id', '=', 'restart-gw').executeTakeFirst();
      await second.close();
      t.equal(row?.site_id, 'restart-site');
    });

    const app = await buildCloud({ database: backend.database });
    t.teardown(() => app.close());
    t.equal(app.stewardDb.dialect, backend.name);
    const gw = await enrolledGateway(app, 's1', 'gw-contract');

    t.test('store, replay, overlap, gap', async (t) => {
      const base = await rowCounts(app);
      const batch = batchOf(gw, [eventItem(1, 's1', { type: 'alarm.raised', severity: 'major' }), ...telemetryRun(1, 3)]);
      const first = await postBatch(app, gw, batch);
      t.equal(first.statusCode, 200);
      t.same(first.json().acked, { 0: 1, 1: 0, 2: 3 });
      const after = await rowCounts(app);
      t.equal(after.items - base.items, 4);

      const replay = await postBatch(app, gw, batch, { gzip: true });
      t.same(replay.json(), { ...first.json(), accepted: 0, duplicates: 4, serverTime: replay.json().serverTime });
      t.same(await rowCounts(app), after, 'replay changes nothing');

      const overlap = await postBatch(app, gw, batchOf(gw, [...batch.items.slice(2), ...telemetryRun(4, 2)]));
      t.match(overlap.json(), { acked: { 2: 5 }, accepted: 2, duplicates: 2 });

      const gap = await postBatch(app, gw, batchOf(gw, [eventItem(1, 's1'), ...telemetryRun(9, 1)]));
      t.equal(gap.statusCode, 409);
      t.match(gap.json(), { code: 'CS_ERR_BATCH_SEQ_GAP', lane: 2, expected: 6, got: 9, acked: { 0: 1, 1: 0, 2: 5 } });
      t.equal((await rowCounts(app)).items, after.items + 2, 'the refused batch left nothing (rolled back)');
    });

    t.test('latest readings: only a newer ts overwrites; big ms timestamps survive', async (t) => {
      const user = await loggedInUser(app, 'contract-user');
      const ts = 1_900_000_000_123; // past int4, in 2030
      const status = await app.inject({ url: '/v1/gateways/gw-contract', headers: user });
      const next = status.json().lanes['2'].ackedSeq + 1;
      await postBatch(app, gw, batchOf(gw, [telemetryItem(next, [{ id: 'pump-9.flow', v: 12.5, ts, q: 'good' }])]));
      await postBatch(app, gw, batchOf(gw, [telemetryItem(next + 1, [{ id: 'pump-9.flow', v: 1, ts: ts - 1, q: 'bad' }])]));
      const points = (await app.inject({ url: '/v1/sites/s1/points?device=pump-9', headers: user })).json();
      t.same(
        points.map((p: { value: unknown; ts: number; quality: string }) => [p.value, p.ts, p.quality]),
        [[12.5, ts, 'good']],
      );
      t.equal(typeof points[0].ts, 'number', 'bigint read back as a number');
    });

    t.test('concurrent deliveries of one batch store it once', async (t) => {
      const other = await enrolledGateway(app, 's1', 'gw-race');
      const batch = batchOf(other, [...telemetryRun(1, 50, 'race'), eventItem(1, 's1'), eventItem(2, 's1')]);
      const answers = await Promise.all(Array.from({ length: 6 }, () => postBatch(app, other, batch)));
      t.same(
        answers.map((a) => a.statusCode),
        [200, 200, 200, 200, 200, 200],
      );
      t.equal(
        answers.reduce((sum, a) => sum + (a.json().accepted as number), 0),
        52,
        'the items are accepted exactly once in all',
      );
      const stored = await app.stewardDb.db.selectFrom('items').select('seq').where('gateway_id', '=', 'gw-race').execute();
      t.equal(stored.length, 52);
      const status = await app.inject({ url: '/v1/gateways/gw-race', headers: other.auth });
      t.same(status.json().lanes, { 0: { ackedSeq: 0 }, 1: { ackedSeq: 2 }, 2: { ackedSeq: 50 } });
    });

    t.test('an enrolment token raced twice works once', async (t) => {
      const token = await addGateway(app, { site: 's1', gateway: 'gw-enrol-race' });
      const answers = await Promise.all(
        Array.from({ length: 4 }, () => app.inject({ method: 'POST', url: '/v1/gateways/gw-enrol-race/enrol', payload: { token } })),
      );
      t.same(answers.map((a) => a.statusCode).sort(), [200, 401, 401, 401]);
    });

    t.test('integers past 2^53 are refused with 400 on every dialect, never a 5xx', async (t) => {
      const [item] = telemetryRun(1, 1, 'huge');
      const cases = [
        { ...batchOf(gw, [{ ...item!, ts: 1e300 }]) },
        { ...batchOf(gw, [item!]), sentAt: 1e300 },
        batchOf(gw, [eventItem(1, 's1', { ts: 2 ** 63 })]),
        batchOf(gw, [telemetryItem(1, [{ id: 'huge.p', v: 1, ts: 1e20, q: 'good' }])]),
      ];
      for (const batch of cases) {
        const res = await postBatch(app, gw, batch);
        t.equal(res.statusCode, 400, res.json().message);
        t.equal(res.json().code, 'CS_ERR_VALIDATION');
      }
      const user = await loggedInUser(app, 'range-user');
      t.equal((await app.inject({ url: '/v1/events?since=1e300', headers: user })).statusCode, 400);
    });

    t.test('health reports the dialect', async (t) => {
      t.same((await app.inject({ url: '/healthz' })).json(), { status: 'ok', database: 'ok', dialect: backend.name });
    });
  });
}
