/**
 * Flood control on a simulated switchgear trip: the breaker feeding two pumps and a lift
 * trips; their comm alarms and low-pressure alarms follow. They are grouped under the
 * breaker's alarm, not annunciated, and the grouping is visible; one acknowledgement of
 * the root acknowledges the group. An unrelated pump is not pulled in.
 */
import t from 'tap';
import { rig } from './fixture.js';

t.test('a breaker trip: consequences grouped under the root and suppressed', async (t) => {
  const r = rig();
  r.read('brk-1', 'tripped', false);
  r.read('pump-1', 'outlet_pressure', 4);
  r.advance(1000);

  // The trip.
  r.read('brk-1', 'tripped', true);
  const root = r.engine.get('brk-1:tripped.state.true')!;
  t.match(root, { state: 'unack_active', severity: 'critical', priority: 'P1', suppressed: false, rootId: null, groupId: root.occurrence });

  // Pressure falls at once; the devices it fed stop answering.
  r.read('pump-1', 'outlet_pressure', 0.2);
  for (const d of ['pump-1', 'pump-2', 'elev-1']) r.event(d, 'device.offline');
  r.event('pump-9', 'device.offline'); // not fed by brk-1
  r.advance(10_000);

  const group = r.engine.list({ groupId: root.groupId! });
  t.same(group.map((a) => a.id).sort(), ['brk-1:tripped.state.true', 'elev-1:comm', 'pump-1:comm', 'pump-1:outlet_pressure.low', 'pump-2:comm']);
  for (const a of group.filter((x) => x.id !== root.id)) t.match(a, { suppressed: true, rootId: root.id, groupId: root.groupId }, `${a.id} is a consequence`);
  t.match(r.engine.get('pump-9:comm'), { suppressed: false, rootId: null }, 'an unrelated device is not grouped');
  t.same(r.engine.list({ suppressed: false }).map((a) => a.id).sort(), ['brk-1:tripped.state.true', 'pump-9:comm'], 'two annunciated alarms instead of six');

  // One acknowledgement of the root takes the group.
  r.engine.ack(root.id, { note: 'breaker tripped on overload, electrician called', actor: 'op' });
  for (const a of r.engine.list({ groupId: root.groupId! })) t.equal(a.state, 'ack_active', `${a.id} acknowledged with its root`);
  t.equal(r.engine.get('pump-9:comm')!.state, 'unack_active');
});

t.test('a consequence that outlives its root is annunciated after the flood window', async (t) => {
  const r = rig();
  r.read('brk-1', 'tripped', true);
  r.event('pump-2', 'device.offline');
  r.advance(10_000);
  t.ok(r.engine.get('pump-2:comm')!.suppressed);
  r.read('brk-1', 'tripped', false); // reclosed
  r.advance(59_000);
  t.ok(r.engine.get('pump-2:comm')!.suppressed, 'still inside the window: the pump may come back by itself');
  r.advance(1000);
  t.match(r.engine.get('pump-2:comm'), { suppressed: false, rootId: 'brk-1:tripped.state.true' }, 'annunciated, the grouping still visible');
  t.ok(r.store.events({ type: 'alarm.unsuppressed' }).length === 1);
});

t.test('a consequence raised just before its root is adopted by it', async (t) => {
  const r = rig();
  r.read('pump-1', 'fault', true); // the pump's poll saw it first
  r.advance(2000);
  r.read('brk-1', 'tripped', true);
  t.match(r.engine.get('pump-1:fault.state.true'), { suppressed: true, rootId: 'brk-1:tripped.state.true' });
  t.equal(r.store.events({ type: 'alarm.grouped' }).length, 1);
});

t.test('alarms after the flood window are not grouped', async (t) => {
  const r = rig();
  r.read('brk-1', 'tripped', true);
  r.advance(61_000);
  r.read('pump-1', 'fault', true);
  t.match(r.engine.get('pump-1:fault.state.true'), { suppressed: false, rootId: null });
});
