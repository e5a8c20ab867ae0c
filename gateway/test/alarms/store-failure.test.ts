/**
 * A transition that cannot be written (disk full, I/O error) does not break the poller's
 * call, and does not change the alarm in memory: it is tried again on the next tick, so
 * the alarm and its lane-0 event appear together once the disk takes writes again.
 * Operator actions fail with the store's error instead.
 */
import t from 'tap';
import { AlarmEngine } from '../../src/alarms/engine.js';
import { GatewayError } from '../../src/core/errors.js';
import { AlarmStore, type AlarmRecord, type AlarmTransitionInput } from '../../src/store/alarms.js';
import { GatewayStore } from '../../src/store/store.js';
import { siteConfig, T0 } from './fixture.js';

class FlakyStore extends AlarmStore {
  failing = true;
  override commit(alarm: AlarmRecord, tr: AlarmTransitionInput) {
    if (this.failing) throw new GatewayError('GW_ERR_STORE_IO', 'gateway database: the disk is full');
    return super.commit(alarm, tr);
  }
}

t.test('a failed write is retried on the next tick; nothing half-done in between', async (t) => {
  const config = siteConfig();
  const store = new GatewayStore({ dataDir: ':memory:', site: 's1' });
  const alarms = new FlakyStore(store);
  let now = T0;
  const engine = new AlarmEngine({ store: alarms, devices: config.devices, settings: config.gateway.alarms, now: () => now });
  const id = 'pump-1:fault.state.true';

  t.doesNotThrow(() => engine.readings('pump-1', [{ point: 'pump-1.fault', ts: now, value: true, quality: 'good' }]), 'the poller is not disturbed');
  t.equal(engine.get(id), undefined, 'not raised in memory either');
  t.equal(engine.stats().storeErrors, 1);
  t.equal(engine.external({ source: 'pump-1', name: 'x', active: true, actor: 'op' }).state, 'normal', 'an external raise is not recorded yet…');
  t.throws(() => engine.ack('pump-1:x', { note: 'n', actor: 'op' }), { code: 'GW_ERR_ALARM_NOT_FOUND' }, '…so there is nothing to acknowledge');

  alarms.failing = false;
  now += 1000;
  engine.tick(now);
  t.match(engine.get(id), { state: 'unack_active', raisedAt: now });
  t.same(store.events({ type: 'alarm.raised' }).map((e) => (e.body.alarm as { id: string }).id).sort(), ['pump-1:fault.state.true', 'pump-1:x']);
  t.equal(store.peek(0, 10).length, 2, 'and their lane-0 items');

  alarms.failing = true;
  t.throws(() => engine.ack(id, { note: 'seen', actor: 'op' }), { code: 'GW_ERR_STORE_IO' }, 'an operator action reports the failure');
  t.equal(engine.get(id)!.state, 'unack_active', 'and changes nothing');
});
