/**
 * The transactional outbox: events and telemetry snapshots are appended per lane with
 * gapless sequences, stay until acknowledged, and survive a restart.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { GatewayStore } from '../../src/store/store.js';

const open = (dir: string) => new GatewayStore({ dataDir: dir, site: 'site-1' });

t.test('alarm events go to lane 0, other events to lane 1, each with its own sequence', async (t) => {
  const store = open(':memory:');
  store.recordEvent({ ts: 1, device: 'pump-1', type: 'device.offline', severity: 'major', body: {} });
  store.recordEvent({ ts: 2, device: 'pump-1', type: 'alarm.raised', severity: 'major', body: { rule: 'low' } });
  store.recordEvent({ ts: 3, device: 'pump-1', type: 'device.online', severity: 'info', body: {} });
  t.same(store.peek(0, 10).map((i) => [i.seq, (i.body as { type: string }).type]), [[1, 'alarm.raised']]);
  t.same(store.peek(1, 10).map((i) => [i.seq, (i.body as { type: string }).type]), [[1, 'device.offline'], [2, 'device.online']]);
  t.equal(store.events().length, 3);
  t.same(store.events({ type: 'device.*' }).map((e) => e.type), ['device.online', 'device.offline']);
  t.same(store.events({ type: 'alarm.raised' }).map((e) => e.type), ['alarm.raised']);
  store.close();
});

t.test('nothing leaves the outbox before it is acknowledged', async (t) => {
  const store = open(':memory:');
  for (let i = 0; i < 5; i++) store.recordEvent({ ts: i, type: 'device.online', severity: 'info', body: { i } });
  t.equal(store.peek(1, 2).length, 2, 'peek does not remove');
  t.equal(store.peek(1, 10).length, 5);
  store.ack(1, 3);
  t.same(store.peek(1, 10).map((i) => i.seq), [4, 5]);
  t.match(store.laneStatus(1), { lastSeq: 5, ackedSeq: 3, backlog: 2 });
  store.ack(1, 2);
  t.equal(store.lane(1).ackedSeq, 3, 'an older acknowledgement does not move the mark back');
  store.ack(1, 99);
  t.equal(store.lane(1).ackedSeq, 5, 'an acknowledgement past the end stops at the last item');
  store.close();
});

t.test('a telemetry snapshot carries only points that changed since the last one', async (t) => {
  const store = open(':memory:');
  store.writeReadings('pump-1', [
    { point: 'pump-1.a', ts: 1000, value: 1.5, quality: 'good' },
    { point: 'pump-1.b', ts: 1000, value: true, quality: 'good' },
  ]);
  t.equal(store.queueTelemetrySnapshot(5000), 2);
  t.equal(store.queueTelemetrySnapshot(6000), 0, 'nothing changed: nothing queued');
  store.writeReadings('pump-1', [
    { point: 'pump-1.a', ts: 2000, value: 1.5, quality: 'good' },
    { point: 'pump-1.b', ts: 2000, value: false, quality: 'good' },
  ]);
  t.equal(store.queueTelemetrySnapshot(7000), 1, 'only b changed');
  const items = store.peek(2, 10);
  t.same(items.map((i) => i.seq), [1, 2]);
  t.same(items[1]!.body, { readings: [{ id: 'pump-1.b', v: false, ts: 2000, q: 'good' }] });
  t.equal(items[1]!.kind, 'telemetry.latest');
  store.close();
});

t.test('latest values only move forward in time; every reading is kept as a sample', async (t) => {
  const store = open(':memory:');
  store.writeReadings('d', [{ point: 'd.p', ts: 2000, value: 2, quality: 'good' }]);
  store.writeReadings('d', [{ point: 'd.p', ts: 1000, value: 1, quality: 'good' }]);
  t.same(store.latest('d').map((r) => [r.value, r.ts]), [[2, 2000]]);
  t.equal(store.sampleCount(), 2);
  store.writeReadings('d', [{ point: 'd.s', ts: 3000, value: 'ABC', quality: 'good' }, { point: 'd.n', ts: 3000, value: null, quality: 'bad' }]);
  t.same(store.latest('d').map((r) => [r.point, r.value, r.quality]), [['d.n', null, 'bad'], ['d.p', 2, 'good'], ['d.s', 'ABC', 'good']]);
  store.close();
});

t.test('the outbox and its marks survive closing and reopening the database', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-store-'));
  let store = open(dir);
  store.recordEvent({ ts: 1, type: 'alarm.raised', severity: 'major', body: {} });
  store.recordEvent({ ts: 2, type: 'alarm.cleared', severity: 'major', body: {} });
  store.ack(0, 1);
  store.close();
  store = open(dir);
  t.same(store.peek(0, 10).map((i) => i.seq), [2]);
  t.match(store.lane(0), { lastSeq: 2, ackedSeq: 1 });
  store.recordEvent({ ts: 3, type: 'alarm.acked', severity: 'major', body: {} });
  t.equal(store.lane(0).lastSeq, 3, 'sequences go on where they stopped');
  store.close();
});

t.test('a database from a newer build is refused with a clear error', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-store-'));
  const store = open(dir);
  store.db.pragma('user_version = 999');
  store.close();
  t.throws(() => open(dir), { code: 'GW_ERR_STORE_MIGRATION', message: /schema version 999/ });
});

t.test('a damaged database file is refused with a clear error and left untouched', async (t) => {
  const { writeFileSync, readFileSync } = await import('node:fs');
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-store-'));
  const file = path.join(dir, 'gateway.db');
  const garbage = Buffer.from('this is not a database, just some bytes that happen to be here '.repeat(100));
  writeFileSync(file, garbage);
  t.throws(() => open(dir), { code: 'GW_ERR_STORE_CORRUPT', message: /damaged or not a Steward database.*move it aside/s });
  t.same(readFileSync(file), garbage, 'the file is unchanged');

  // A real database cut short.
  const dir2 = mkdtempSync(path.join(tmpdir(), 'steward-store-'));
  const store = open(dir2);
  for (let i = 0; i < 2000; i++) store.recordEvent({ ts: i, type: 'device.online', severity: 'info', body: { pad: 'x'.repeat(100) } });
  store.close();
  const full = readFileSync(path.join(dir2, 'gateway.db'));
  writeFileSync(path.join(dir2, 'gateway.db'), full.subarray(0, Math.floor(full.length / 2)));
  t.throws(() => open(dir2), { code: 'GW_ERR_STORE_CORRUPT' });
});

t.test('peekBudget takes items up to a byte budget, always one, and says when the budget stopped it', async (t) => {
  const store = open(':memory:');
  for (let i = 0; i < 5; i++) store.recordEvent({ ts: i, type: 'device.online', severity: 'info', body: { pad: 'x'.repeat(1000) } });
  const all = store.peekBudget(1, 10, 1e9, false);
  t.same([all.items.length, all.full], [5, false]);
  const two = store.peekBudget(1, 10, 2 * (all.bytes / 5) + 10, false);
  t.same([two.items.map((i) => i.seq), two.full], [[1, 2], true], 'two fit');
  t.same(store.peekBudget(1, 10, 10, false).items.length, 0, 'none fits');
  t.same(store.peekBudget(1, 10, 10, true).items.map((i) => i.seq), [1], 'but one is always taken when asked');
  t.same(store.peekBudget(1, 3, 1e9, false).items.map((i) => i.seq), [1, 2, 3], 'the item limit holds');
  store.close();
});
