/**
 * The ISA-18.2 lifecycle of one alarm: normal → unacknowledged active → acknowledged
 * active → normal; unacknowledged return to normal; a raise again before the ack; every
 * transition an `alarm.*` event in lane 0 of the outbox, written with the alarm's row.
 */
import t from 'tap';
import { rig } from './fixture.js';

t.test('raise, acknowledge with a note, clear: each an event in lane 0', async (t) => {
  const r = rig();
  const id = 'pump-1:outlet_pressure.low';
  r.read('pump-1', 'outlet_pressure', 3);
  r.read('pump-1', 'outlet_pressure', 1.2);
  t.equal(r.engine.get(id), undefined, 'not raised before its on-delay');
  r.advance(5000);
  t.match(r.engine.get(id), { state: 'unack_active', severity: 'major', priority: 'P2', value: 1.2, device: 'pump-1', system: 'water', point: 'outlet_pressure', raisedAt: r.now });

  t.throws(() => r.engine.ack(id, { note: '  ', actor: 'op' }), { code: 'GW_ERR_ALARM_NOTE_REQUIRED' }, 'a note is required');
  const acked = r.engine.ack(id, { note: 'valve V-3 closed for maintenance', actor: 'op' });
  t.match(acked, { state: 'ack_active', ackedBy: 'op', ackNote: 'valve V-3 closed for maintenance' });
  t.throws(() => r.engine.ack(id, { note: 'again', actor: 'op' }), { code: 'GW_ERR_ALARM_STATE' });

  r.read('pump-1', 'outlet_pressure', 2.1);
  r.advance(1000);
  t.equal(r.engine.get(id)!.state, 'ack_active', 'still active inside the deadband (2.0 + 0.2)');
  r.read('pump-1', 'outlet_pressure', 2.5);
  r.advance(2999);
  t.equal(r.engine.get(id)!.state, 'ack_active', 'off-delay not over');
  r.advance(1);
  t.equal(r.engine.get(id)!.state, 'normal');
  t.same(r.engine.list(), [], 'no alarm listed once normal');

  t.same(r.events(), [
    { type: 'alarm.raised', alarm: id, state: 'unack_active' },
    { type: 'alarm.acked', alarm: id, state: 'ack_active' },
    { type: 'alarm.cleared', alarm: id, state: 'normal' },
  ]);
  const lane0 = r.store.peek(0, 100);
  t.same(lane0.map((i) => (i.body as { type: string }).type), ['alarm.raised', 'alarm.acked', 'alarm.cleared'], 'every transition is in lane 0');
  t.equal(r.store.peek(1, 100).length, 0, 'none in lane 1');
  const history = r.engine.history({ alarm: id });
  t.same(history.items.map((h) => [h.type, h.state, h.actor]), [
    ['alarm.cleared', 'normal', null],
    ['alarm.acked', 'ack_active', 'op'],
    ['alarm.raised', 'unack_active', null],
  ]);
  t.equal(history.items[1]!.note, 'valve V-3 closed for maintenance');
});

t.test('unacknowledged return to normal, then raised again: the same occurrence until acknowledged', async (t) => {
  const r = rig();
  const id = 'pump-1:fault_code.nonzero';
  r.read('pump-1', 'fault_code', 0);
  r.read('pump-1', 'fault_code', 7);
  const first = r.engine.get(id)!;
  t.match(first, { state: 'unack_active', message: 'fault_code is not 正常 normal' }, 'the message uses the label of the coded value');
  r.read('pump-1', 'fault_code', 0);
  t.equal(r.engine.get(id)!.state, 'unack_rtn', 'cleared but not acknowledged: still listed');
  t.same(r.engine.list().map((a) => a.id), [id]);
  r.read('pump-1', 'fault_code', 9);
  t.match(r.engine.get(id), { state: 'unack_active', occurrence: first.occurrence, value: 9 });
  r.read('pump-1', 'fault_code', 0);
  t.match(r.engine.ack(id, { note: 'reset at the drive', actor: 'op' }), { state: 'normal', ackedBy: 'op' });
  t.same(r.engine.list(), []);
  r.read('pump-1', 'fault_code', 3);
  t.not(r.engine.get(id)!.occurrence, first.occurrence, 'a new raise after normal is a new occurrence');
  t.same(r.events().map((e) => e.type), ['alarm.raised', 'alarm.cleared', 'alarm.raised', 'alarm.cleared', 'alarm.acked', 'alarm.raised']);
});

t.test('listeners get each transition after it is stored', async (t) => {
  const r = rig();
  const seen: string[] = [];
  const off = r.engine.onTransition((tr) => {
    t.ok(r.store.events({ type: tr.type }).some((e) => e.id === tr.event.id), 'the event is already stored');
    seen.push(`${tr.type}:${tr.alarm.id}:${tr.alarm.state}`);
  });
  r.read('pump-1', 'fault', true);
  r.engine.ack('pump-1:fault.state.true', { note: 'seen', actor: 'op' });
  off();
  r.read('pump-1', 'fault', false);
  t.same(seen, ['alarm.raised:pump-1:fault.state.true:unack_active', 'alarm.acked:pump-1:fault.state.true:ack_active']);
});

t.test('rate of change, stale data, device events and the comm alarm', async (t) => {
  const r = rig();
  // Rate: 10 A/min over 10 s windows.
  r.read('pump-1', 'motor_current', 20);
  r.advance(10_000);
  r.read('pump-1', 'motor_current', 21);
  t.equal(r.engine.get('pump-1:motor_current.rate'), undefined, '6 A/min is fine');
  r.advance(10_000);
  r.read('pump-1', 'motor_current', 25);
  t.match(r.engine.get('pump-1:motor_current.rate'), { state: 'unack_active', kind: 'rate' });

  // Stale: the lux sensor frozen for 2 h (profile rule, delayMs 7200000).
  r.read('light-1', 'illuminance', 120);
  r.advance(3600_000);
  r.read('light-1', 'illuminance', 120);
  r.advance(3599_000);
  t.equal(r.engine.get('light-1:illuminance.stale'), undefined);
  r.advance(1000);
  t.match(r.engine.get('light-1:illuminance.stale'), { state: 'unack_active', kind: 'stale' });
  r.read('light-1', 'illuminance', 119);
  t.equal(r.engine.get('light-1:illuminance.stale')!.state, 'unack_rtn', 'a new value clears it');

  // Camera tamper: an event rule of the profile, cleared after its auto-clear time.
  r.event('cam-1', 'camera.tamper');
  t.match(r.engine.get('cam-1:camera.tamper'), { state: 'unack_active', kind: 'event', severity: 'major' });
  r.advance(300_000);
  t.equal(r.engine.get('cam-1:camera.tamper')!.state, 'unack_rtn', 'auto-cleared');

  // Device offline: the comm alarm after its 10 s on-delay; a drop shorter than that raises nothing.
  r.event('pump-9', 'device.offline');
  r.advance(5000);
  r.event('pump-9', 'device.online');
  r.advance(20_000);
  t.equal(r.engine.get('pump-9:comm'), undefined, 'a short drop is not an alarm');
  r.event('pump-9', 'device.offline');
  r.advance(10_000);
  t.match(r.engine.get('pump-9:comm'), { state: 'unack_active', kind: 'comm', message: /offline/ });
  r.event('pump-9', 'device.online');
  t.equal(r.engine.get('pump-9:comm')!.state, 'unack_rtn');
});

t.test('external alarms by name', async (t) => {
  const r = rig();
  const a = r.engine.external({ source: 'pump-1', name: 'low-pressure-running', active: true, severity: 'critical', message: 'low pressure while running', actor: 'flow' });
  t.match(a, { id: 'pump-1:low-pressure-running', state: 'unack_active', kind: 'external', priority: 'P1', device: 'pump-1', system: 'water' });
  t.equal(r.engine.external({ source: 'pump-1', name: 'low-pressure-running', active: true, actor: 'flow' }).occurrence, a.occurrence, 'raising again changes nothing');
  t.equal(r.engine.external({ source: 'pump-1', name: 'low-pressure-running', active: false, actor: 'flow' }).state, 'unack_rtn');
  t.match(r.engine.external({ source: 'nodered', name: 'lighting.override', active: true, actor: 'flow' }), { device: null, severity: 'major' });
  t.throws(() => r.engine.external({ source: 'pump-1', name: 'comm', active: true, actor: 'flow' }), { code: 'GW_ERR_ALARM_EXTERNAL_CONFLICT' });
  const raised = r.store.events({ type: 'alarm.raised' }).find((e) => (e.body.alarm as { id: string }).id === 'pump-1:low-pressure-running');
  t.equal(raised?.body.actor, 'flow', 'who raised it is recorded');
});
