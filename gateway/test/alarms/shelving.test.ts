/**
 * Shelving (ISA-18.2 §11.4) is time-limited and needs a note: a shelved alarm is still
 * recorded but not annunciated, and comes back by itself when the shelving expires.
 * Out of service (§11.6) stops evaluation until the alarm is returned.
 */
import t from 'tap';
import { rig } from './fixture.js';

const ID = 'pump-1:fault.state.true';

t.test('shelve with a duration and a note; it expires by itself', async (t) => {
  const r = rig();
  r.read('pump-1', 'fault', true);
  t.throws(() => r.engine.shelve(ID, { durationMs: 3600_000, note: '', actor: 'op' }), { code: 'GW_ERR_ALARM_NOTE_REQUIRED' });
  t.throws(() => r.engine.shelve(ID, { durationMs: 9 * 3600_000, note: 'x', actor: 'op' }), { code: 'GW_ERR_ALARM_SHELVE_DURATION', message: /28800000/ });
  t.throws(() => r.engine.shelve(ID, { durationMs: undefined, note: 'x', actor: 'op' }), { code: 'GW_ERR_ALARM_SHELVE_DURATION' });
  t.throws(() => r.engine.shelve('pump-1:nope', { durationMs: 1000, note: 'x', actor: 'op' }), { code: 'GW_ERR_ALARM_NOT_FOUND' });

  const shelved = r.engine.shelve(ID, { durationMs: 3600_000, note: 'drive replaced this afternoon', actor: 'op' });
  t.match(shelved, { shelvedUntil: r.now + 3600_000, shelvedBy: 'op', shelveNote: 'drive replaced this afternoon', state: 'unack_active' });
  t.same(r.engine.list({ shelved: false }), [], 'hidden from the unshelved list');
  t.same(r.engine.list({ shelved: true }).map((a) => a.id), [ID]);

  // Transitions go on while shelved, and are recorded.
  r.read('pump-1', 'fault', false);
  t.equal(r.engine.get(ID)!.state, 'unack_rtn');
  r.advance(3599_000);
  t.not(r.engine.get(ID)!.shelvedUntil, null, 'still shelved');
  r.advance(1000);
  t.match(r.engine.get(ID), { shelvedUntil: null, state: 'unack_rtn' });
  const unshelved = r.store.events({ type: 'alarm.unshelved' });
  t.match(unshelved[0]?.body, { actor: 'system', reason: 'expired' });
  t.same(r.events().map((e) => e.type), ['alarm.raised', 'alarm.shelved', 'alarm.cleared', 'alarm.unshelved']);
  t.throws(() => r.engine.unshelve(ID, { actor: 'op' }), { code: 'GW_ERR_ALARM_STATE' });
});

t.test('unshelve by hand', async (t) => {
  const r = rig();
  r.read('pump-1', 'fault', true);
  r.engine.shelve(ID, { durationMs: 60_000, note: 'nuisance', actor: 'op' });
  t.match(r.engine.unshelve(ID, { actor: 'op2', note: 'back' }), { shelvedUntil: null });
  t.match(r.store.events({ type: 'alarm.unshelved' })[0]?.body, { actor: 'op2', reason: 'operator' });
});

t.test('out of service: not evaluated until returned, then evaluated at once', async (t) => {
  const r = rig();
  r.read('pump-1', 'fault', true);
  r.engine.ack(ID, { note: 'seen', actor: 'op' });
  t.throws(() => r.engine.outOfService(ID, { note: '', actor: 'tech' }), { code: 'GW_ERR_ALARM_NOTE_REQUIRED' });
  r.engine.outOfService(ID, { note: 'sensor replaced', actor: 'tech' });
  r.read('pump-1', 'fault', false);
  t.equal(r.engine.get(ID)!.state, 'ack_active', 'no clear while out of service');
  t.ok(r.engine.get(ID)!.outOfService);
  const back = r.engine.returnToService(ID, { actor: 'tech' });
  t.match(back, { outOfService: false, state: 'normal' }, 'evaluated on return: the condition had gone');
  t.same(r.events().map((e) => e.type), ['alarm.raised', 'alarm.acked', 'alarm.out_of_service', 'alarm.in_service', 'alarm.cleared']);
});
