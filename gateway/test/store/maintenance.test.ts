/**
 * The store's background work: 1-minute roll-ups queued for the cloud once a minute is
 * complete, retention that never deletes what is not rolled up, and a size budget that
 * evicts only telemetry — never alarms or events.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Reading } from '../../src/core/model.js';
import { StoreMaintenance } from '../../src/store/maintenance.js';
import { GatewayStore } from '../../src/store/store.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 27, 8, 0, 0); // a minute boundary

function fill(store: GatewayStore, minutes: number, points = 2, perMinute = 6): void {
  for (let m = 0; m < minutes; m++) {
    for (let k = 0; k < perMinute; k++) {
      const ts = T0 + m * MIN + k * (MIN / perMinute);
      const readings: Reading[] = Array.from({ length: points }, (_, p) => ({ point: `d.p${p}`, ts, value: m * 100 + k + p, quality: 'good' }));
      store.writeReadings('d', readings);
    }
  }
}

const rollupItems = (store: GatewayStore) => store.peek(2, 1000).filter((i) => i.kind === 'telemetry.rollup');

for (const chunkRows of [100_000, 5]) {
  t.test(`roll-ups of complete minutes are computed and queued once (chunks of ${chunkRows} rows)`, async (t) => {
    const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
    fill(store, 3);
    store.writeReadings('d', [{ point: 'd.p0', ts: T0 + 30_000, value: 999, quality: 'bad' }]);
    store.writeReadings('d', [{ point: 'd.s', ts: T0 + 30_000, value: 'text', quality: 'good' }]);
    const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e9, chunkRows });
    const now = T0 + 2 * MIN + 10_000; // minutes 0 and 1 complete; minute 2 is not
    while (m.rollupStep(now));
    const r0 = store.rollups('d.p0', T0, T0 + 10 * MIN);
    t.same(r0.map((r) => [r.minute - T0, r.min, r.max, r.count, r.last]), [
      [0, 0, 5, 6, 5],
      [MIN, 100, 105, 6, 105],
    ]);
    t.equal(r0[0]!.avg, 2.5);
    t.same(store.rollups('d.s', T0, T0 + MIN), [], 'strings are not rolled up');
    const items = rollupItems(store);
    t.equal(items.length, 1, 'one item for the complete minutes');
    const rollups = (items[0]!.body as { rollups: { id: string; minute: number }[] }).rollups;
    t.same(rollups.map((r) => `${r.id}@${(r.minute - T0) / MIN}`), ['d.p0@0', 'd.p1@0', 'd.p0@1', 'd.p1@1']);

    while (m.rollupStep(now));
    t.equal(rollupItems(store).length, 1, 'running again queues nothing new');
    while (m.rollupStep(T0 + 3 * MIN + 10_000));
    const next = rollupItems(store);
    t.equal(next.length, 2, 'the next minute, once complete');
    t.same((next[1]!.body as { rollups: { minute: number }[] }).rollups.map((r) => (r.minute - T0) / MIN), [2, 2]);
    store.close();
  });
}

t.test('the roll-up watermark survives a restart: nothing repeated, nothing skipped', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-maint-'));
  let store = new GatewayStore({ dataDir: dir, site: 's' });
  fill(store, 2);
  new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e9, chunkRows: 7 }).rollupStep(T0 + 5 * MIN);
  store.close();
  store = new GatewayStore({ dataDir: dir, site: 's' });
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e9, chunkRows: 7 });
  while (m.rollupStep(T0 + 5 * MIN));
  t.same(store.rollups('d.p1', T0, T0 + 5 * MIN).map((r) => r.count), [6, 6]);
  store.close();
});

t.test('retention deletes old samples only once rolled up, and old roll-ups', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  fill(store, 3);
  const m = new StoreMaintenance(store, { rawRetentionDays: 1, rollupRetentionDays: 2, maxBytes: 1e9, chunkRows: 1000 });
  const later = T0 + 1.5 * 86_400_000;
  while (m.retentionStep(later));
  t.equal(store.sampleCount(), 36, 'nothing rolled up yet: nothing deleted');
  while (m.rollupStep(later));
  while (m.retentionStep(later));
  t.equal(store.sampleCount(), 0, 'rolled up and older than a day: deleted');
  t.equal(store.rollups('d.p0', 0, Infinity).length, 3, 'roll-ups kept');
  while (m.retentionStep(T0 + 3 * 86_400_000));
  t.equal(store.rollups('d.p0', 0, Infinity).length, 0, 'roll-ups older than their retention: deleted');
  store.close();
});

t.test('over the size budget: telemetry is evicted with a buffer.evicted event; alarms and events never', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  store.recordEvent({ ts: T0, type: 'alarm.raised', severity: 'critical', body: { rule: 'fault' } });
  store.recordEvent({ ts: T0, type: 'device.offline', severity: 'major', body: {} });
  fill(store, 30, 20, 30);
  store.queueTelemetrySnapshot(T0);
  const before = store.lane(2);
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 64 * 1024, chunkRows: 2000 });
  t.ok(m.usedBytes() > 64 * 1024, 'over budget to begin with');
  let steps = 0;
  while (m.budgetStep(T0) && steps++ < 1000);
  t.equal(store.sampleCount(), 0, 'samples went first');
  t.ok(m.stats.samplesEvicted > 0);
  t.equal(store.peek(0, 10).length, 1, 'the alarm is still in lane 0');
  const evicted = store.events({ type: 'buffer.evicted' });
  t.ok(evicted.length >= 1, 'buffer.evicted recorded');
  t.match(evicted[evicted.length - 1]!.body, { samples: Number, maxBytes: 64 * 1024 });
  t.equal(store.events({ type: 'alarm.raised' }).length, 1);
  const lane2 = store.peek(2, 100);
  t.equal(store.lane(2).lastSeq, before.lastSeq, 'no lane-2 sequence lost');
  t.same(lane2.map((i) => i.seq), Array.from({ length: before.lastSeq }, (_, i) => i + 1), 'the lane has no gap');
  if (m.stats.itemsEvicted > 0) t.match(lane2[0], { kind: 'telemetry.evicted', body: { evicted: 'telemetry.latest' } });
  store.close();
});

t.test('with no samples left, unsent lane-2 items become stubs that keep their sequence', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  store.recordEvent({ ts: T0, type: 'alarm.raised', severity: 'critical', body: {} });
  for (let i = 0; i < 40; i++) {
    store.writeReadings('d', Array.from({ length: 50 }, (_, p) => ({ point: `d.p${p}`, ts: T0 + i, value: `${'x'.repeat(200)}${i}`, quality: 'good' as const })));
    store.queueTelemetrySnapshot(T0 + i);
  }
  store.db.exec('DELETE FROM sample_batches');
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 200 * 1024, chunkRows: 1000 });
  t.ok(m.usedBytes() > 200 * 1024);
  let steps = 0;
  while (m.budgetStep(T0) && steps++ < 100);
  t.ok(m.stats.itemsEvicted > 0, `${m.stats.itemsEvicted} lane-2 items evicted`);
  const lane2 = store.peek(2, 100);
  t.same(lane2.map((i) => i.seq), Array.from({ length: 40 }, (_, i) => i + 1), 'every sequence is still there');
  t.match(lane2[0], { kind: 'telemetry.evicted', body: { evicted: 'telemetry.latest' } });
  t.equal(store.peek(0, 10).length, 1, 'the alarm stays');
  t.match(store.events({ type: 'buffer.evicted' })[0]?.body, { lane2Items: Number });
  store.close();
});

t.test('roll-up items stay well under the cloud’s item size limit, whatever the point ids', async (t) => {
  const { LIMITS } = await import('../../../protocol/v1.js');
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  const longId = (p: number) => `chiller-${p % 10}.condenser_water_supply_temperature_sensor_${p}`;
  for (let k = 0; k < 2; k++) store.writeBatch([{ device: 'x', readings: Array.from({ length: 3000 }, (_, p) => ({ point: longId(p), ts: T0 + k * 1000, value: p, quality: 'good' as const })) }]);
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, maxBytes: 1e12 });
  while (m.rollupStep(T0 + 2 * MIN));
  const items = rollupItems(store);
  t.ok(items.length >= 2, `${items.length} items`);
  for (const i of items) t.ok(JSON.stringify(i.body).length <= LIMITS.maxItemBytes / 2 + 200, `item ${i.seq}: ${JSON.stringify(i.body).length} bytes`);
  t.equal(items.reduce((n, i) => n + (i.body as { rollups: unknown[] }).rollups.length, 0), 3000, 'every roll-up in exactly one item');
  store.close();
});

t.test('events, alarm history and audit entries past eventRetentionDays are deleted; the outbox keeps unsent events', async (t) => {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's' });
  t.teardown(() => store.close());
  const DAY = 86_400_000;
  const old = store.recordEvent({ ts: T0 - 400 * DAY, type: 'device.offline', severity: 'major', body: {} });
  store.recordEvent({ ts: T0 - 10 * DAY, type: 'device.online', severity: 'info', body: {} });
  store.audit({ ts: T0 - 400 * DAY, actor: 'op', action: 'point.write', target: 'd.p', detail: {}, result: 'ok' });
  store.audit({ ts: T0 - DAY, actor: 'op', action: 'point.write', target: 'd.p', detail: {}, result: 'ok' });
  store.db.prepare("INSERT INTO alarm_history (event, ts, alarm, occurrence, type, device, system, severity, priority, state, actor, note, body) VALUES ('e-old', ?, 'd:r', NULL, 'alarm.raised', 'd', NULL, 'major', 'P2', 'unack_active', NULL, NULL, '{}')").run(T0 - 400 * DAY);
  const m = new StoreMaintenance(store, { rawRetentionDays: 7, rollupRetentionDays: 365, eventRetentionDays: 365, maxBytes: 1e12 });
  while (m.retentionStep(T0));
  t.same(
    store.events().map((e) => e.type),
    ['device.online'],
  );
  t.equal(store.auditLog(0, 10).length, 1);
  t.equal((store.db.prepare('SELECT COUNT(*) AS n FROM alarm_history').get() as { n: number }).n, 0);
  t.equal(m.stats.eventsExpired, 3);
  t.ok(store.peek(1, 10).some((i) => (i.body as { id: string }).id === old.id), 'the unsent event is still in the outbox');
});
