/**
 * How the ONVIF driver reports a device that misbehaves: a SOAP fault names the operation,
 * fault code, subcodes and reason; a malformed answer, an HTTP error without a fault, no
 * answer at all and a closed port are each their own error — and none of them crashes.
 */
import t from 'tap';
import { isGatewayError, type GatewayError } from '../../src/core/errors.js';
import { startCamera } from './onvif-fixture.js';

async function failure(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${String(err)}`);
  return err;
}

t.test('a SOAP fault on a call is GW_ERR_ONVIF_FAULT naming the operation, codes and reason', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.failNext('GetProfiles', 'fault');
  const driver = rig.driver();
  const err = await failure(driver.connect());
  t.equal(err.code, 'GW_ERR_ONVIF_FAULT');
  t.equal(err.kind, 'contract');
  t.match(err.message, /GetProfiles/);
  t.match(err.message, /s:Receiver \/ ter:Action: simulated failure of GetProfiles/);
  t.same(err.details.fault, { code: 's:Receiver', subcodes: ['ter:Action'], reason: 'simulated failure of GetProfiles' });
  t.notOk(driver.isConnected());
  await driver.connect();
  t.ok(driver.isConnected(), 'the next connect works');
});

t.test('a GetSnapshotUri fault leaves a camera without snapshots, but connected', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.failNext('GetSnapshotUri', 'fault');
  const driver = rig.driver();
  await driver.connect();
  t.equal(driver.describe()!.snapshotUri, undefined);
  await t.rejects(driver.snapshot(), { code: 'GW_ERR_ONVIF_UNSUPPORTED' });
});

t.test('malformed XML from the device is GW_ERR_ONVIF_MALFORMED with the parser’s line and column', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.failNext('GetDeviceInformation', 'malformed');
  const driver = rig.driver();
  const err = await failure(driver.connect());
  t.equal(err.code, 'GW_ERR_ONVIF_MALFORMED');
  t.equal(err.kind, 'communication', 'retried with backoff');
  t.match(err.message, /GetDeviceInformation.*not well-formed XML.*line 1, column \d+/);
});

t.test('an HTTP 500 with an HTML page is GW_ERR_ONVIF_HTTP', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.failNext('GetServices', 'http-500');
  const err = await failure(rig.driver().connect());
  t.equal(err.code, 'GW_ERR_ONVIF_HTTP');
  t.match(err.message, /GetServices.*HTTP 500/);
});

t.test('no answer within timeoutMs is GW_ERR_ONVIF_TIMEOUT', async (t) => {
  const rig = await startCamera(t);
  rig.cam.control.failNext('GetDeviceInformation', 'hang');
  const started = Date.now();
  const err = await failure(rig.driver({ connection: { timeoutMs: 300 } }).connect());
  t.equal(err.code, 'GW_ERR_ONVIF_TIMEOUT');
  t.equal(err.kind, 'timeout');
  t.match(err.message, /no answer within 300 ms/);
  t.ok(Date.now() - started < 2000);
});

t.test('a closed port is GW_ERR_ONVIF_HTTP naming the cause; a wrong path names the status', async (t) => {
  const rig = await startCamera(t);
  const wrongPath = await failure(rig.driver({ connection: { path: '/nothing/here' } }).connect());
  t.equal(wrongPath.code, 'GW_ERR_ONVIF_HTTP');
  t.match(wrongPath.message, /HTTP 404/);
  await rig.sim.close();
  const down = await failure(rig.driver().connect());
  t.equal(down.code, 'GW_ERR_ONVIF_HTTP');
  t.match(down.message, /cannot reach .*ECONNREFUSED/);
});

t.test('subscribe on a device without an event service is GW_ERR_ONVIF_UNSUPPORTED', async (t) => {
  const rig = await startCamera(t);
  const driver = rig.driver();
  await driver.connect();
  const d = driver.describe()!;
  // Pretend the device listed no event service.
  Object.assign(d.services, { events: undefined });
  const err = await failure(driver.subscribe!([], { value: () => undefined, event: () => undefined, lost: () => undefined }));
  t.equal(err.code, 'GW_ERR_ONVIF_UNSUPPORTED');
  t.match(err.message, /no event service/);
});
