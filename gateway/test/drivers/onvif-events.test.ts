/**
 * ONVIF events end to end: the simulated camera's notifications become device events of
 * the profile's types (with `when` filtering and the two motion topics merged), the
 * subscription is renewed before it ends, re-created after a reboot, reported lost only
 * when the device stays away, and unsubscribed on close.
 */
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import { RecordingSink, sleep, startCamera } from './onvif-fixture.js';

t.test('motion and tamper become camera.motion and camera.tamper; the falling edge and Initialized states do not', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  await driver.connect();
  const sink = new RecordingSink();
  t.same(await driver.subscribe!([], sink), [], 'no points to push');
  t.equal(rig.cam.control.subscriptions(), 1);
  await sleep(200); // the Initialized states (motion false, …) arrive first
  t.equal(sink.events.length, 0, 'Initialized property states are no events');

  const before = Date.now();
  rig.cam.control.motion(300);
  await sink.until(() => sink.ofType('camera.motion').length >= 1, 3000, 'camera.motion');
  await sleep(800); // the motion ends (IsMotion false) within this
  const motion = sink.ofType('camera.motion');
  t.equal(motion.length, 1, 'one event for one motion, although the camera sent it under two topics and then its end');
  const m = motion[0]!;
  t.equal(m.severity, 'info');
  t.ok(m.ts >= before - 1000 && m.ts <= Date.now(), 'ts is the message UtcTime');
  t.equal(m.body.topic, 'tns1:VideoSource/MotionAlarm');
  t.same(m.body.data, { State: 'true' });
  t.same(m.body.source, { VideoSourceToken: 'VideoSource_1' });
  t.equal(m.body.operation, 'Changed');
  t.same(m.body.snapshot, { uri: `${rig.cam.url}/onvif/snapshot.jpg?profile=Profile_1`, fetchWith: 'snapshot' }, 'where the picture is, not the picture');

  rig.cam.control.tamper(200);
  await sink.until(() => sink.ofType('camera.tamper').length >= 1, 3000, 'camera.tamper');
  await sleep(500);
  const tamper = sink.ofType('camera.tamper');
  t.equal(tamper.length, 1);
  t.equal(tamper[0]!.severity, 'major');
  t.equal(sink.events.length, 2, 'nothing else');
  t.equal(sink.lostCalls.length, 0);
});

t.test('the subscription is renewed before its termination time', async (t) => {
  const rig = await startCamera(t, { connection: ', subscriptionTtlS: 2' });
  const driver = rig.driver();
  await driver.connect();
  const sink = new RecordingSink();
  await driver.subscribe!([], sink);
  await sleep(4500);
  const reqs = rig.cam.control.requests();
  t.ok((reqs.Renew ?? 0) >= 2, `renewed ${reqs.Renew ?? 0} times in 4.5 s of a 2 s lifetime`);
  t.equal(rig.cam.control.expired(), 0, 'the subscription never expired');
  t.equal(reqs.CreatePullPointSubscription, 1, 'never had to be created again');
  rig.cam.control.motion(100);
  await sink.until(() => sink.ofType('camera.motion').length === 1, 3000, 'motion after renewals');
  t.equal(sink.lostCalls.length, 0);
});

t.test('after a reboot the subscription is created again and events flow; nothing is reported lost', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  await driver.connect();
  const sink = new RecordingSink();
  await driver.subscribe!([], sink);
  await sleep(100);
  rig.cam.control.reboot();
  await sleep(1500); // down for 600 ms, then retries at 100, 200, 400 ms…
  t.ok((rig.cam.control.requests().CreatePullPointSubscription ?? 0) >= 2, 'created again');
  t.equal(rig.cam.control.subscriptions(), 1);
  rig.cam.control.motion(100);
  await sink.until(() => sink.ofType('camera.motion').length === 1, 3000, 'motion after the reboot');
  t.equal(sink.lostCalls.length, 0);
  t.ok(driver.isConnected());
});

t.test('a device that stays away: sink.lost with GW_ERR_ONVIF_SUBSCRIPTION after the retries, and the driver asks to reconnect', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver({ tuning: { retryInitialMs: 50, retryAttempts: 3 } });
  await driver.connect();
  const sink = new RecordingSink();
  await driver.subscribe!([], sink);
  await rig.sim.close();
  await sink.until(() => sink.lostCalls.length === 1, 5000, 'sink.lost');
  const lost = sink.lostCalls[0]!;
  t.ok(isGatewayError(lost.reason, 'GW_ERR_ONVIF_SUBSCRIPTION'));
  t.match(lost.reason.message, /after 3 attempts/);
  t.notOk(driver.isConnected(), 'the poller reconnects (with its backoff) before subscribing again');
});

t.test('a malformed PullMessages answer or a fault on it: re-created, no crash, events go on', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  await driver.connect();
  const sink = new RecordingSink();
  await driver.subscribe!([], sink);
  rig.cam.control.failNext('PullMessages', 'malformed');
  rig.cam.control.failNext('PullMessages', 'http-500');
  await sleep(1500);
  rig.cam.control.motion(100);
  await sink.until(() => sink.ofType('camera.motion').length === 1, 4000, 'motion after the broken answers');
  t.ok((rig.cam.control.requests().CreatePullPointSubscription ?? 0) >= 2, 'created again after the broken answers');
  t.equal(sink.lostCalls.length, 0);
});

t.test('close() unsubscribes and ends the pending long poll at once', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver({ connection: { pullTimeoutS: 10 } });
  await driver.connect();
  await driver.subscribe!([], new RecordingSink());
  await sleep(300);
  const started = Date.now();
  await driver.close();
  t.ok(Date.now() - started < 1500, `closed in ${Date.now() - started} ms, not after the 10 s poll`);
  t.equal(rig.cam.control.requests().Unsubscribe, 1);
  t.equal(rig.cam.control.subscriptions(), 0);
  t.notOk(driver.isConnected());
  await driver.close();
  t.equal(rig.cam.control.requests().Unsubscribe, 1, 'close is idempotent');
});

t.test('a door controller: event points follow DoorPhysicalState, badges and forced doors become access events', async (t) => {
  const rig = await startCamera(t, { profile: 'access/onvif-door', system: 'access' });
  const driver = rig.driver();
  await driver.connect();
  t.equal(driver.describe()!.snapshotUri, undefined, 'onvif.snapshot false: no media calls');
  const points = rig.device.profile.points;
  const sink = new RecordingSink();
  t.same(await driver.subscribe!(points, sink), ['door_state', 'door_alarm'], 'both points are pushed');
  await sink.until(() => sink.values.some((v) => v.point === 'door_state'), 3000, 'initial door state');
  const block = { space: 'onvif-events', start: 0, count: 2, points: points.map((spec) => ({ spec, at: driver.locate(spec) })) };
  const read = await driver.read(block);
  t.same(read, [
    { ok: true, value: 'Closed' },
    { ok: true, value: 'Normal' },
  ]);
  t.equal(sink.events.length, 0, 'Initialized door state is no event');
  rig.cam.control.tamper(300);
  await sink.until(() => sink.ofType('access.forced').length === 1, 3000, 'access.forced');
  t.equal(sink.ofType('access.forced')[0]!.severity, 'major');
  await sink.until(() => sink.values.some((v) => v.point === 'door_state' && v.value === 'Open'), 3000, 'door open');
  await sink.until(() => sink.values.filter((v) => v.point === 'door_state' && v.value === 'Closed').length >= 2, 3000, 'door closed again');
  await t.rejects(driver.write(points[0]!, 'Open'), { code: 'GW_ERR_WRITE_REFUSED' });
});
