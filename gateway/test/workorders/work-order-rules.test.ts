/**
 * Work-order rules: a P1 alarm opens a P1 work order at once, a predicted failure a
 * preventive P3 one; a rule with a delay opens none for an alarm that clears in time;
 * one open work order per alarm; flood consequences open none.
 */
import t from 'tap';
import { DEFAULT_WORK_ORDER_RULES, type WorkOrderRuleDoc } from '../../src/core/config/work-orders.js';
import { GatewayStore } from '../../src/store/store.js';
import { blankAlarm, type AlarmRecord } from '../../src/store/alarms.js';
import { WorkOrderStore } from '../../src/store/work-orders.js';
import { WorkOrderRules } from '../../src/workorders/rules.js';
import { WorkOrderService } from '../../src/workorders/service.js';

const DEVICES: Record<string, { name: string; system: string }> = {
  'elev-1': { name: '1号楼 电梯 L1', system: 'elevator' },
  'pump-1': { name: '生活水泵 1', system: 'water' },
};

function alarm(over: Partial<AlarmRecord>): AlarmRecord {
  const base = blankAlarm({ id: 'elev-1:entrapment', source: 'elev-1', rule: 'entrapment', device: 'elev-1', system: 'elevator', point: 'car_state', kind: 'state', severity: 'critical', priority: 'P1', message: 'passenger trapped' });
  return { ...base, occurrence: 'x', state: 'unack_active', value: 1, raisedAt: 1000, updatedAt: 1000, ...over };
}

function setup(t: { teardown(fn: () => void): void }, rules: readonly WorkOrderRuleDoc[] = DEFAULT_WORK_ORDER_RULES) {
  const store = new GatewayStore({ dataDir: ':memory:', site: 's1' });
  t.teardown(() => store.close());
  let now = 1_000_000;
  const wos = new WorkOrderStore(store, true);
  const service = new WorkOrderService({ site: 's1', store: wos, systemOf: (id) => DEVICES[id]?.system, now: () => now });
  const engine = new WorkOrderRules({ rules, service, deviceInfo: (id) => DEVICES[id], now: () => now });
  return { store, wos, engine, advance: (ms: number) => (now += ms), now: () => now };
}

t.test('default rules: a P1 alarm opens a P1 work order at once, once', async (t) => {
  const { wos, engine, store } = setup(t);
  engine.alarmRaised(alarm({}));
  engine.alarmRaised(alarm({ occurrence: 'y' }));
  const list = wos.list();
  t.equal(list.length, 1, 'a repeat raise opens no second one');
  t.match(list[0], { priority: 'P1', category: 'elevator', device: 'elev-1', alarm: 'elev-1:entrapment', source: 'rule:p1-alarms', createdBy: 'rule:p1-alarms', title: '1号楼 电梯 L1: passenger trapped', status: 'open' });
  t.equal(store.peek(0, 10).filter((i) => i.kind === 'workorder.op').length, 1, 'queued in lane 0');

  engine.alarmRaised(alarm({ id: 'pump-1:outlet_pressure.low', device: 'pump-1', system: 'water', rule: 'outlet_pressure.low', priority: 'P2', severity: 'major' }));
  t.equal(wos.list().length, 1, 'a P2 alarm opens none by default');
  engine.alarmRaised(alarm({ id: 'elev-2:door', suppressed: true }));
  t.equal(wos.list().length, 1, 'a flood consequence opens none');
});

t.test('default rules: failure.predicted opens a preventive P3 work order', async (t) => {
  const { wos, engine } = setup(t);
  const ev = { id: '0', ts: 1, site: 's1', device: 'pump-1', type: 'failure.predicted', severity: 'warning' as const, body: { message: 'bearing wear, failure within 72 h', horizonH: 72 } };
  engine.event(ev);
  engine.event(ev);
  engine.event({ ...ev, type: 'anomaly.detected' });
  const list = wos.list();
  t.equal(list.length, 1);
  t.match(list[0], { priority: 'P3', category: 'plumbing', title: 'Preventive: 生活水泵 1 — bearing wear, failure within 72 h', alarm: 'pump-1:failure.predicted' });
});

t.test('a delayed rule opens nothing for an alarm that clears in time', async (t) => {
  const rules: WorkOrderRuleDoc[] = [{ name: 'pumps', when: { systems: ['water'], rules: ['outlet_pressure.*'] }, priority: 'P2', title: 'Low pressure at {deviceName}', delayMs: 60_000, enabled: true }];
  const { wos, engine, advance, now } = setup(t, rules);
  const a = alarm({ id: 'pump-1:outlet_pressure.low', device: 'pump-1', system: 'water', rule: 'outlet_pressure.low', priority: 'P3', severity: 'minor' });
  engine.alarmRaised(a);
  advance(30_000);
  engine.tick(now());
  engine.alarmGone(a);
  advance(60_000);
  engine.tick(now());
  t.equal(wos.list().length, 0, 'cleared within the delay');
  engine.alarmRaised(a);
  advance(61_000);
  engine.tick(now());
  t.match(wos.list(), [{ title: 'Low pressure at 生活水泵 1', priority: 'P2', category: 'plumbing' }]);
  engine.alarmRaised(alarm({ rule: 'entrapment' }));
  t.equal(wos.list().length, 1, 'rules that do not match open nothing (no default rules once rules are given)');
});

t.test('one incident, one work order: a second alarm of the device is linked by a note', async (t) => {
  const { wos, engine, advance } = setup(t);
  engine.alarmRaised(alarm({}));
  engine.alarmRaised(alarm({ id: 'elev-1:flow.entrapment', rule: 'flow.entrapment', message: 'entrapment confirmed by the flow' }));
  const list = wos.list();
  t.equal(list.length, 1, 'no second work order');
  t.match(list[0]!.notes, [{ alarm: 'elev-1:flow.entrapment', text: /Also alarm elev-1:flow.entrapment/ }]);
  t.equal(wos.openForAlarm('elev-1:flow.entrapment')?.id, list[0]!.id, 'found by the linked alarm');
  t.equal(wos.list({ alarm: 'elev-1:flow.entrapment' }).length, 1, 'listed by the linked alarm');
  advance(2 * 3600_000);
  engine.alarmRaised(alarm({ id: 'elev-1:door.fault', rule: 'door.fault' }));
  t.equal(wos.list().length, 2, 'outside the merge window: a new work order');
});
