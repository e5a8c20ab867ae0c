/**
 * The ONVIF driver against the simulated camera: connect learns the device, its services,
 * profiles and snapshot URI; a snapshot is a real JPEG behind HTTP Digest; refused
 * credentials are one clear auth error, not a storm; a device clock hours off still works.
 */
import t from 'tap';
import { isGatewayError } from '../../src/core/errors.js';
import { createOnvifDriver, hasSnapshot } from '../../src/drivers/onvif/driver.js';
import { PASSWORD, RecordingSink, silentLog, startCamera } from './onvif-fixture.js';

t.test('connect reads device information, services, media profiles and the snapshot URI', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  t.equal(driver.protocol, 'onvif');
  t.equal(driver.linkKey, `onvif://127.0.0.1:${rig.cam.port}`);
  t.notOk(driver.isConnected());
  await driver.connect();
  t.ok(driver.isConnected());
  const d = driver.describe()!;
  t.equal(d.info.manufacturer, 'generic');
  t.equal(d.info.serialNumber, 'SIM-CAM-1');
  t.equal(d.info.firmwareVersion, 'sim-1.0');
  t.equal(d.services.media, `${rig.cam.url}/onvif/media_service`);
  t.equal(d.services.events, `${rig.cam.url}/onvif/event_service`);
  t.same(
    d.profiles.map((p) => p.token),
    ['Profile_1', 'Profile_2'],
  );
  t.equal(d.profileToken, 'Profile_1', 'the first profile when onvif.profileToken is not set');
  t.equal(d.snapshotUri, `${rig.cam.url}/onvif/snapshot.jpg?profile=Profile_1`);
  t.equal(d.clockOffsetMs, 0);
  await driver.connect();
  t.equal(rig.cam.control.requests().GetDeviceInformation, 1, 'a second connect() while connected sends nothing');
});

t.test('snapshot() fetches a JPEG through HTTP Digest', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  t.ok(hasSnapshot(driver));
  await driver.connect();
  const snap = await driver.snapshot();
  t.equal(snap.contentType, 'image/jpeg');
  t.ok(snap.data.length > 100 && snap.data.length < 2000, `a small picture (${snap.data.length} bytes)`);
  t.same([...snap.data.subarray(0, 2)], [0xff, 0xd8], 'starts with SOI');
  t.same([...snap.data.subarray(-2)], [0xff, 0xd9], 'ends with EOI');
  t.equal(rig.cam.control.requests().snapshot, 2, 'one challenge, one authenticated GET');
});

t.test('a wrong password is one GW_ERR_ONVIF_AUTH that says what to fix, and no storm', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver({ secret: 'not-the-password' });
  const err = await driver.connect().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(isGatewayError(err, 'GW_ERR_ONVIF_AUTH'), 'GW_ERR_ONVIF_AUTH');
  if (!isGatewayError(err)) return;
  t.equal(err.kind, 'auth');
  t.match(err.message, /user "admin"/);
  t.match(err.message, /CAM_1_PASSWORD/, 'names where the password comes from');
  t.match(err.message, /NotAuthorized/);
  t.notOk(driver.isConnected());
  const after = rig.cam.control.requests().total ?? 0;
  t.ok(after <= 2, `GetSystemDateAndTime and one refused call (${after} requests)`);
  for (let i = 0; i < 5; i++) await t.rejects(driver.connect(), { code: 'GW_ERR_ONVIF_AUTH' });
  await t.rejects(driver.snapshot(), { code: 'GW_ERR_ONVIF_AUTH' });
  t.equal(rig.cam.control.requests().total, after, 'retries within the hold send nothing to the camera');
});

t.test('a password changed on the camera after connect: snapshot() is an auth error', async (t) => {
  const users: Record<string, string> = { admin: PASSWORD };
  const rig = await startCamera(t, { sim: { users } });
  const driver = rig.driver();
  await driver.connect();
  users.admin = 'changed-by-the-installer';
  const err = await driver.snapshot().catch((e: unknown) => e);
  t.ok(isGatewayError(err, 'GW_ERR_ONVIF_AUTH'), 'GW_ERR_ONVIF_AUTH');
  t.match((err as Error).message, /snapshot.*HTTP 401 to HTTP Digest/);
  const n = rig.cam.control.requests().snapshot;
  await t.rejects(driver.snapshot(), { code: 'GW_ERR_ONVIF_AUTH' });
  t.equal(rig.cam.control.requests().snapshot, n, 'not asked again within the hold');
});

t.test('a device clock two hours off: requests are dated by the device clock', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.wrongTime(2 * 3_600_000);
  const driver = rig.driver();
  await driver.connect();
  const offset = driver.describe()!.clockOffsetMs;
  t.ok(Math.abs(offset - 2 * 3_600_000) < 3000, `offset ${offset} ms`);
  const sink = new RecordingSink();
  await driver.subscribe!([], sink);
  rig.cam.control.motion(100);
  await sink.until(() => sink.events.length === 1, 3000, 'motion');
  const e = sink.events[0]!;
  t.ok(Math.abs(e.ts - Date.now()) < 3000, 'the event is filed at the gateway’s time of it');
  t.ok(Math.abs(Date.parse(String(e.body.utcTime)) - Date.now() - 2 * 3_600_000) < 3000, 'the body keeps the device’s own time');
});

t.test('onvif.profileToken picks the media profile; an unknown one is a clear error', async (t) => {
  const rig = await startCamera(t);
  const profile = { ...rig.device.profile, protocolOptions: { snapshot: true, profileToken: 'Profile_2' } };
  const d2 = createOnvifDriver({ ...rig.device, profile }, silentLog);
  t.teardown(() => d2.close());
  await d2.connect();
  t.equal(d2.describe()!.snapshotUri, `${rig.cam.url}/onvif/snapshot.jpg?profile=Profile_2`);
  const bad = createOnvifDriver({ ...rig.device, profile: { ...profile, protocolOptions: { snapshot: true, profileToken: 'Nope' } } }, silentLog);
  t.teardown(() => bad.close());
  const err = await bad.connect().catch((e: unknown) => e);
  t.ok(isGatewayError(err, 'GW_ERR_ONVIF_UNSUPPORTED'));
  t.match((err as Error).message, /Nope.*Profile_1, Profile_2/);
});

t.test('discover() probes the configured host by unicast and finds the device', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver({ connection: { discoveryPort: rig.cam.port } });
  const found = await driver.discover!();
  t.equal(found.length, 1);
  t.equal(found[0]!.protocol, 'onvif');
  t.same(found[0]!.connection, { protocol: 'onvif', url: rig.cam.url, path: '/onvif/device_service' });
  t.equal(found[0]!.name, 'cam-1');
  t.equal(found[0]!.vendor, 'generic');
});
