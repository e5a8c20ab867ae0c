/**
 * Alarms survive a restart: active, unacknowledged and shelved alarms come back from the
 * store with their state, and go on from there (cleared by the next reading, acknowledged
 * by an operator, unshelved at expiry) — without raising again.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { GatewayStore } from '../../src/store/store.js';
import { rig, siteConfig } from './fixture.js';

t.test('active alarms are restored from the store', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-alarms-restart-'));
  const config = siteConfig();
  const store1 = new GatewayStore({ dataDir: dir, site: 's1' });
  const r1 = rig({ config, store: store1 });
  r1.read('pump-1', 'fault', true);
  r1.read('brk-1', 'tripped', true);
  r1.event('pump-9', 'device.offline');
  r1.advance(10_000);
  r1.engine.shelve('pump-1:fault.state.true', { durationMs: 600_000, note: 'known', actor: 'op' });
  r1.engine.ack('brk-1:tripped.state.true', { note: 'electrician on the way', actor: 'op' });
  const before = r1.engine.list();
  store1.close();

  const store2 = new GatewayStore({ dataDir: dir, site: 's1' });
  t.teardown(() => store2.close());
  const r2 = rig({ config, store: store2, now: r1.now + 5000 });
  t.same(r2.engine.list(), before, 'the same alarms, in the same states');
  const eventsBefore = store2.events({ type: 'alarm.*', limit: 1000 }).length;

  r2.read('pump-1', 'fault', true);
  r2.read('brk-1', 'tripped', true);
  t.equal(store2.events({ type: 'alarm.*', limit: 1000 }).length, eventsBefore, 'a condition still there raises nothing new');

  r2.read('brk-1', 'tripped', false);
  t.equal(r2.engine.get('brk-1:tripped.state.true')!.state, 'normal', 'acknowledged before the restart, cleared after it');
  r2.read('pump-9', 'outlet_pressure', 3); // back without a device.online (its poller restarted too)
  t.equal(r2.engine.get('pump-9:comm')!.state, 'unack_rtn');
  r2.advance(600_000);
  t.equal(r2.engine.get('pump-1:fault.state.true')!.shelvedUntil, null, 'the shelving expired after the restart');
});
