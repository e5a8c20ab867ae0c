/**
 * The ONVIF simulator itself: it checks UsernameToken digests, their ±5 min window and
 * nonce reuse like a camera; PullMessages long-polls; its event model is repeatable and
 * plausible over a day; its snapshots are JPEGs.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { passwordDigest } from '../../src/drivers/onvif/soap.js';
import { createEventModel } from '../../../scripts/sim/onvif/camera-events.js';
import { cameraFrame } from '../../../scripts/sim/onvif/jpeg.js';
import { PASSWORD, startCamera } from './onvif-fixture.js';

const DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';

function token(opts: { createdMs?: number; nonce?: Buffer; password?: string; type?: 'digest' | 'text' } = {}): string {
  const nonce = opts.nonce ?? randomBytes(16);
  const created = new Date(opts.createdMs ?? Date.now()).toISOString();
  const pw = opts.password ?? PASSWORD;
  const value = opts.type === 'text' ? pw : passwordDigest(nonce, created, pw);
  return (
    `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">` +
    `<wsse:UsernameToken><wsse:Username>admin</wsse:Username><wsse:Password Type="${opts.type === 'text' ? TEXT : DIGEST}">${value}</wsse:Password>` +
    `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

async function soap(url: string, body: string, header = ''): Promise<{ status: number; xml: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/soap+xml; charset=utf-8' },
    body: `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`,
  });
  return { status: res.status, xml: await res.text() };
}

const INFO = '<GetDeviceInformation xmlns="http://www.onvif.org/ver10/device/wsdl"/>';

t.test('UsernameToken: digest checked, ±5 min window on the camera clock, each nonce once, PasswordText accepted', async (t) => {
  const rig = await startCamera(t);
  const url = `${rig.cam.url}/onvif/device_service`;
  const ok = await soap(url, INFO, token());
  t.equal(ok.status, 200);
  t.match(ok.xml, /<tds:Manufacturer>generic<\/tds:Manufacturer>/);
  const none = await soap(url, INFO);
  t.equal(none.status, 400);
  t.match(none.xml, /ter:NotAuthorized/);
  t.match(none.xml, /Sender not Authorized/);
  t.equal((await soap(url, INFO, token({ password: 'nope' }))).status, 400, 'wrong password');
  t.equal((await soap(url, INFO, token({ createdMs: Date.now() - 6 * 60_000 }))).status, 400, 'Created 6 min old');
  t.equal((await soap(url, INFO, token({ createdMs: Date.now() + 6 * 60_000 }))).status, 400, 'Created 6 min ahead');
  t.equal((await soap(url, INFO, token({ createdMs: Date.now() - 4 * 60_000 }))).status, 200, 'Created 4 min old');
  const nonce = randomBytes(16);
  const created = Date.now();
  t.equal((await soap(url, INFO, token({ nonce, createdMs: created }))).status, 200);
  t.equal((await soap(url, INFO, token({ nonce, createdMs: created }))).status, 400, 'the same nonce again is a replay');
  t.equal((await soap(url, INFO, token({ type: 'text' }))).status, 200, 'PasswordText');
  const time = await soap(url, '<GetSystemDateAndTime xmlns="http://www.onvif.org/ver10/device/wsdl"/>');
  t.equal(time.status, 200, 'GetSystemDateAndTime needs no credentials');
  rig.cam.control.wrongTime(10 * 60_000);
  t.equal((await soap(url, INFO, token())).status, 400, 'our clock is 10 min behind the camera’s: refused');
  t.equal((await soap(url, INFO, token({ createdMs: Date.now() + 10 * 60_000 }))).status, 200, 'dated by the camera clock: accepted');
  const unknown = await soap(url, '<Frobnicate xmlns="http://www.onvif.org/ver10/device/wsdl"/>', token({ createdMs: Date.now() + 10 * 60_000 }));
  t.equal(unknown.status, 500);
  t.match(unknown.xml, /ter:ActionNotSupported/);
});

t.test('PullMessages long-polls: waits for the Timeout, answers early when an event comes', async (t) => {
  const rig = await startCamera(t);
  const events = `${rig.cam.url}/onvif/event_service`;
  const created = await soap(events, '<CreatePullPointSubscription xmlns="http://www.onvif.org/ver10/events/wsdl"><InitialTerminationTime>PT30S</InitialTerminationTime></CreatePullPointSubscription>', token());
  t.equal(created.status, 200);
  const address = /<wsa:Address>([^<]+)<\/wsa:Address>/.exec(created.xml)![1]!;
  const pull = (timeout: string) => soap(address, `<PullMessages xmlns="http://www.onvif.org/ver10/events/wsdl"><Timeout>${timeout}</Timeout><MessageLimit>50</MessageLimit></PullMessages>`, token());
  const initial = await pull('PT1S');
  t.match(initial.xml, /PropertyOperation="Initialized"/, 'the initial property states come first');
  let started = Date.now();
  const empty = await pull('PT1S');
  const waited = Date.now() - started;
  t.ok(waited >= 900 && waited < 2000, `an empty pull waited ${waited} ms for PT1S`);
  t.notMatch(empty.xml, /NotificationMessage/);
  started = Date.now();
  setTimeout(() => rig.cam.control.motion(5000), 200);
  const early = await pull('PT5S');
  const took = Date.now() - started;
  t.ok(took < 1500, `answered ${took} ms after the pull began, not after 5 s`);
  t.match(early.xml, /tns1:VideoSource\/MotionAlarm/);
  t.match(early.xml, /Name="State" Value="true"/);
  const gone = await soap(address, '<Unsubscribe xmlns="http://docs.oasis-open.org/wsn/b-2"/>', token());
  t.equal(gone.status, 200);
  const after = await pull('PT1S');
  t.equal(after.status, 400);
  t.match(after.xml, /ResourceUnknownFault/);
});

t.test('the event model is repeatable and plausible over a synthetic day', async (t) => {
  const start = Date.parse('2024-06-03T00:00:00+08:00');
  const run = (seed: number) => {
    const model = createEventModel({ deviceId: 'cam-gate', seed, timeZone: 'Asia/Shanghai', startMs: start });
    const out = [];
    for (let ms = start; ms <= start + 86_400_000; ms += 1000) out.push(...model.advance(ms));
    return out;
  };
  const a = run(7);
  t.same(run(7), a, 'same seed, same times: same events');
  t.not(JSON.stringify(run(8)), JSON.stringify(a), 'another seed: other events');
  const bursts = a.filter((m) => m.topic === 'tns1:VideoSource/MotionAlarm' && m.data.State === 'true');
  t.ok(bursts.length > 150 && bursts.length < 700, `${bursts.length} motion bursts in a day (≈ 30/h by day, 3/h at night)`);
  const night = bursts.filter((m) => {
    const h = new Date(m.utcTime + 8 * 3_600_000).getUTCHours();
    return h < 6;
  });
  t.ok(night.length < bursts.length / 10, `quiet at night: ${night.length} of ${bursts.length} before 06:00`);
  t.ok(a.some((m) => m.topic === 'tns1:RuleEngine/LineDetector/Crossed'), 'line crossings');
  t.ok(a.some((m) => m.topic === 'tns1:RuleEngine/ObjectDetection/Object' && m.data.ClassTypes === 'Human'), 'people');
  t.ok(a.filter((m) => m.topic === 'tns1:VideoSource/GlobalSceneChange/ImagingService' && m.data.State === 'true').length <= 5, 'tamper is rare');
  const door = createEventModel({ deviceId: 'door-1', seed: 1, timeZone: 'Asia/Shanghai', startMs: start, kind: 'door' });
  const d = [];
  for (let ms = start; ms <= start + 86_400_000; ms += 1000) d.push(...door.advance(ms));
  t.ok(d.filter((m) => m.topic === 'tns1:AccessControl/AccessGranted/Credential').length > 100, 'a door sees badges all day');
  t.ok(d.some((m) => m.topic === 'tns1:AccessControl/Denied/Credential'), 'and some denials');
});

t.test('snapshots are small baseline JPEGs of the stated size', async (t) => {
  const jpeg = cameraFrame(12, 160, 120);
  t.same([...jpeg.subarray(0, 2)], [0xff, 0xd8]);
  t.same([...jpeg.subarray(-2)], [0xff, 0xd9]);
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  t.ok(sof > 0, 'SOF0 (baseline)');
  t.equal(jpeg.readUInt16BE(sof + 5), 120, 'height');
  t.equal(jpeg.readUInt16BE(sof + 7), 160, 'width');
  t.ok(jpeg.length < 1000, `${jpeg.length} bytes`);
  t.not(cameraFrame(13).toString('hex'), jpeg.toString('hex'), 'the picture changes with time');
});
