/**
 * COV with the BACnet driver (ASHRAE 135 §13.14 SubscribeCOV): pushed values reach the
 * sink, subscriptions are renewed before their lifetime ends, a refused subscription
 * leaves its point to polling, a device reboot makes the renewal fail (`lost`) and a
 * new subscribe works, and close() cancels what it subscribed.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import { recordingSink, startRig, until } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));
const DEVICE = { id: 'dut', profile: ALL_TYPES, deviceInstance: 1401 };
const COV_POINTS = ['ai_real', 'ai_2', 'bi_bool'];

t.test('subscribe: cov points are pushed, changes reach the sink', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  dev.set('ai_real', 20);
  const driver = rig.driver('dut');
  await driver.connect();
  const { sink, values } = recordingSink();
  const pushed = await driver.subscribe(rig.config('dut').profile.points, sink);
  t.same([...pushed].sort(), [...COV_POINTS].sort(), 'only the cov: true points');
  t.equal(dev.subscriptions().length, 3, 'one subscription per object');
  t.ok(dev.subscriptions().every((s) => !s.confirmed), 'unconfirmed notifications asked for');
  await until(() => values.some((v) => v.point === 'ai_real' && v.value === 20), 2000, 'initial notification');

  // A change below the COV increment (0.2 for a 0–100 range) is not reported; one above is.
  dev.set('ai_real', 20.1);
  dev.checkCov();
  dev.set('ai_real', 21.75);
  dev.checkCov();
  await until(() => values.some((v) => v.point === 'ai_real' && v.value === 21.75), 2000, 'changed value');
  t.notOk(values.some((v) => v.value === 20.1), 'a change below cov-increment is not pushed');
  dev.set('bi_bool', true);
  dev.checkCov();
  await until(() => values.some((v) => v.point === 'bi_bool' && v.value === true), 2000, 'binary change');
  t.ok(values.every((v) => typeof v.ts === 'number' && v.ts > 0));

  await driver.close();
  t.equal(dev.subscriptions().length, 0, 'close() cancels the subscriptions');
});

t.test('renewal happens before the lifetime ends', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 100 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut', { covLifetimeS: 2 });
  await driver.connect();
  const { sink, lost } = recordingSink();
  await driver.subscribe([rig.point('dut', 'ai_real')], sink);
  const first = dev.subscriptions()[0]!.expiresAt!;
  t.ok(first > Date.now() + 1500 && first <= Date.now() + 2000, 'lifetime 2 s asked for');
  // Renewal is due at 80 % (1.6 s); after 2.5 s the device would have dropped an unrenewed one.
  await new Promise((r) => setTimeout(r, 2500));
  const subs = dev.subscriptions();
  t.equal(subs.length, 1, 'still subscribed after the first lifetime');
  t.ok(subs[0]!.expiresAt! > first, 'the lifetime was extended');
  t.same(lost, []);
});

t.test('a refused subscription leaves its point out (it stays polled)', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000, behaviour: { dut: { refuseCov: ['ai_2'] } } });
  const driver = rig.driver('dut');
  await driver.connect();
  const { sink } = recordingSink();
  const pushed = await driver.subscribe(rig.config('dut').profile.points, sink);
  t.same([...pushed].sort(), ['ai_real', 'bi_bool']);
  t.equal(rig.sim.devices[0]!.device.subscriptions().length, 2);

  const all = await startRig(t, [{ ...DEVICE, id: 'dut' }], { tickMs: 60_000, behaviour: { dut: { refuseCov: true } } });
  const d2 = all.driver('dut');
  await d2.connect();
  t.same(await d2.subscribe(all.config('dut').profile.points, recordingSink().sink), [], 'a device without COV: everything polled');
});

t.test('a reboot: renewal fails → lost; subscribing again works', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut', { covLifetimeS: 2, timeoutMs: 300 });
  await driver.connect();
  const { sink, values, lost } = recordingSink();
  await driver.subscribe([rig.point('dut', 'ai_real'), rig.point('dut', 'bi_bool')], sink);
  // Down for longer than the time to the renewal (1.6 s) plus its timeout.
  const back = dev.reboot(2500);
  t.equal(dev.subscriptions().length, 0, 'the device forgot its subscriptions');
  await until(() => lost.length > 0, 4000, 'lost');
  t.same([...lost[0]!.points].sort(), ['ai_real', 'bi_bool']);
  t.ok(isGatewayError(lost[0]!.reason, 'GW_ERR_BACNET_COV'));
  t.match(lost[0]!.reason.message, /no answer within 300 ms/);
  await back;
  // The poller reconnects and subscribes again.
  await driver.connect();
  values.length = 0;
  const pushed = await driver.subscribe([rig.point('dut', 'ai_real'), rig.point('dut', 'bi_bool')], sink);
  t.same([...pushed].sort(), ['ai_real', 'bi_bool']);
  t.equal(dev.subscriptions().length, 2);
  dev.set('ai_real', 77);
  dev.checkCov();
  await until(() => values.some((v) => v.point === 'ai_real' && v.value === 77), 2000, 'value after re-subscribe');
});

t.test('a short reboot: the I-Am the device sends on restart renews at once', async (t) => {
  const rig = await startRig(t, [DEVICE], { tickMs: 60_000 });
  const dev = rig.sim.devices[0]!.device;
  const driver = rig.driver('dut', { covLifetimeS: 60 });
  await driver.connect();
  const { sink, values, lost } = recordingSink();
  await driver.subscribe([rig.point('dut', 'ai_real')], sink);
  await dev.reboot(200);
  await until(() => dev.subscriptions().length === 1, 2000, 're-subscription after I-Am');
  dev.set('ai_real', 66);
  dev.checkCov();
  await until(() => values.some((v) => v.value === 66), 2000, 'pushed after restart');
  t.same(lost, [], 'nothing was lost');
});
