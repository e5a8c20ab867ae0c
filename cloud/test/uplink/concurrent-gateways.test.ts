/**
 * Two gateways of one site syncing at once, on every dialect: the same alarm raised by
 * both (same device and rule) in batches that commit concurrently is one alarm raised
 * twice — never a 5xx because both inserted its row (PostgreSQL runs the two
 * transactions in parallel).
 */
import t from 'tap';
import { buildCloud } from '../../src/index.js';
import { backends } from '../fixtures/backends.js';
import { batchOf, enrolledGateway, eventItem, postBatch } from '../fixtures/cloud.js';

for (const backend of await backends()) {
  t.test(`${backend.name}: one alarm raised by two gateways at once`, async (t) => {
    t.teardown(() => backend.cleanup());
    const app = await buildCloud({ database: backend.database, background: false });
    t.teardown(() => app.close());
    const a = await enrolledGateway(app, 's1', 'gw-a');
    const b = await enrolledGateway(app, 's1', 'gw-b');
    const rounds = 5;
    for (let r = 1; r <= rounds; r++) {
      const raise = (seq: number) => eventItem(seq, 's1', { type: 'alarm.raised', severity: 'major', device: `pump-${r}`, body: { rule: 'outlet_pressure.low' } });
      // Many events per batch, so the two transactions overlap.
      const items = () => Array.from({ length: 40 }, (_, k) => eventItem(k + 1 + (r - 1) * 40, 's1', { type: 'device.online', device: 'pump-9' }));
      const [ra, rb] = await Promise.all([postBatch(app, a, batchOf(a, [raise(r), ...items()])), postBatch(app, b, batchOf(b, [raise(r), ...items()]))]);
      t.equal(ra.json().accepted + rb.json().accepted, 82, 'every item of both stored');
      t.equal(ra.statusCode, 200, ra.body);
      t.equal(rb.statusCode, 200, rb.body);
    }
    const alarms = await app.stewardDb.db.selectFrom('alarms').select(['id', 'raise_count']).orderBy('id').execute();
    t.same(
      alarms.map((x) => x.raise_count),
      Array.from({ length: rounds }, () => 2),
      'each alarm once, raised twice',
    );
  });
}
