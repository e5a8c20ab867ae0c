/**
 * Chatter (ISA-18.2 §10.4.2): a signal hovering at its limit raises one alarm, not one a
 * poll — the deadband holds it active until the value is clearly back, the on-delay lets
 * a short excursion pass, the off-delay keeps a brief dip from clearing it.
 */
import t from 'tap';
import { rig } from './fixture.js';

const ID = 'pump-1:outlet_pressure.low';

t.test('a value hovering around the limit raises once and clears once (deadband)', async (t) => {
  const r = rig();
  r.read('pump-1', 'outlet_pressure', 1.5);
  r.advance(5000);
  // 1.5 → 2.1 → 1.9 → 2.15 …: around the limit 2.0, inside the deadband (clear above 2.2).
  for (let i = 0; i < 40; i++) {
    r.read('pump-1', 'outlet_pressure', i % 2 === 0 ? 2.1 : 1.9);
    r.advance(1000);
  }
  t.equal(r.engine.get(ID)!.state, 'unack_active');
  r.read('pump-1', 'outlet_pressure', 2.5);
  r.advance(3000);
  t.equal(r.engine.get(ID)!.state, 'unack_rtn');
  t.same(r.events().map((e) => e.type), ['alarm.raised', 'alarm.cleared'], 'one raise, one clear for 40 crossings');
});

t.test('an excursion shorter than the on-delay raises nothing; one that lasts does', async (t) => {
  const r = rig();
  for (let i = 0; i < 10; i++) {
    r.read('pump-1', 'outlet_pressure', 1.0);
    r.advance(4000);
    r.read('pump-1', 'outlet_pressure', 3.0);
    r.advance(1000);
  }
  t.equal(r.engine.get(ID), undefined, 'ten 4-s dips below the limit: no alarm (on-delay 5 s)');
  r.read('pump-1', 'outlet_pressure', 1.0);
  r.advance(4000);
  r.read('pump-1', 'outlet_pressure', 1.1);
  r.advance(1000);
  t.equal(r.engine.get(ID)!.state, 'unack_active', 'the on-delay counts from the first reading below the limit');
  t.equal(r.events().length, 1);
});

t.test('a recovery shorter than the off-delay does not clear', async (t) => {
  const r = rig();
  r.read('pump-1', 'outlet_pressure', 1.0);
  r.advance(5000);
  for (let i = 0; i < 10; i++) {
    r.read('pump-1', 'outlet_pressure', 2.5);
    r.advance(2000);
    r.read('pump-1', 'outlet_pressure', 1.0);
    r.advance(1000);
  }
  t.equal(r.engine.get(ID)!.state, 'unack_active', 'ten 2-s recoveries: still active (off-delay 3 s)');
  t.same(r.events().map((e) => e.type), ['alarm.raised']);
});

t.test('readings that are not good hold the condition', async (t) => {
  const r = rig();
  r.read('pump-1', 'outlet_pressure', 1.0);
  r.advance(5000);
  r.read('pump-1', 'outlet_pressure', null, 'stale');
  r.read('pump-1', 'outlet_pressure', 9, 'bad');
  r.advance(10_000);
  t.equal(r.engine.get(ID)!.state, 'unack_active', 'an unreadable value does not clear an alarm');
});
