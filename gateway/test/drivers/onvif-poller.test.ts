/**
 * The ONVIF driver under the real device poller: a camera with no points is connected,
 * subscribed, and its motion reaches the poll sink as a device event; a wrong password
 * takes the camera offline with GW_ERR_ONVIF_AUTH and costs it a couple of requests,
 * not a storm.
 */
import t from 'tap';
import { DevicePoller, type PollSink } from '../../src/poller/device-poller.js';
import { LinkQueue } from '../../src/poller/link-queue.js';
import { createOnvifDriver } from '../../src/drivers/onvif/driver.js';
import { silentLog, sleep, startCamera } from './onvif-fixture.js';

type Ev = Parameters<PollSink['event']>[0];

function recorder(): PollSink & { events: Ev[] } {
  const events: Ev[] = [];
  return { events, readings: () => undefined, event: (e) => void events.push(e) };
}

async function until(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(50);
  return pred();
}

t.test('a camera under the poller: subscribed without points, motion arrives as a device event', async (t) => {
  const rig = await startCamera(t);
  const device = { ...rig.device, pollIntervalMs: 200 };
  const driver = createOnvifDriver(device, silentLog, { retryInitialMs: 100 });
  const sink = recorder();
  const poller = new DevicePoller(device, driver, new LinkQueue(driver.linkKey), sink, silentLog);
  poller.start();
  t.teardown(() => poller.stop());
  t.ok(await until(() => rig.cam.control.subscriptions() === 1, 3000), 'subscribed');
  // The camera counts the subscription as it answers; the poller settles online when its cycle ends.
  t.ok(await until(() => poller.status().state === 'online', 3000), 'online');
  rig.cam.control.motion(200);
  t.ok(await until(() => sink.events.some((e) => e.type === 'camera.motion'), 3000), 'camera.motion reached the sink');
  const e = sink.events.find((x) => x.type === 'camera.motion')!;
  t.equal(e.device, 'cam-1');
  t.equal(e.body.topic, 'tns1:VideoSource/MotionAlarm');
  await poller.stop();
  t.equal(rig.cam.control.requests().Unsubscribe, 1, 'stop unsubscribes');
});

t.test('a wrong password under the poller: offline with GW_ERR_ONVIF_AUTH, two requests, then quiet', async (t) => {
  const rig = await startCamera(t);
  const device = { ...rig.device, pollIntervalMs: 100, secret: 'wrong' };
  const driver = createOnvifDriver(device, silentLog);
  const sink = recorder();
  const poller = new DevicePoller(device, driver, new LinkQueue(driver.linkKey), sink, silentLog, { initialMs: 100, maxMs: 200 });
  poller.start();
  t.teardown(() => poller.stop());
  t.ok(await until(() => poller.status().state === 'offline', 3000), 'offline');
  await sleep(1500);
  const status = poller.status();
  t.equal(status.lastError?.code, 'GW_ERR_ONVIF_AUTH');
  t.ok((rig.cam.control.requests().total ?? 0) <= 2, `${rig.cam.control.requests().total} requests in 1.5 s`);
  t.equal(sink.events.filter((x) => x.type === 'device.offline').length, 1);
});
