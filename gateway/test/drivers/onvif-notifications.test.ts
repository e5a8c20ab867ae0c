/**
 * Matching ONVIF notifications against a profile's event rules, without a device: topics
 * with or without prefixes, `when` on SimpleItems (booleans, numbers, string lists), the
 * merge of one motion reported under two topics, and the SOAP pieces (PasswordDigest,
 * faults, HTTP Digest).
 */
import t from 'tap';
import type { DeviceEventRuleSpec } from '../../src/core/config/profile.js';
import { authorization, parseChallenges, pickChallenge } from '../../src/drivers/onvif/http-auth.js';
import { EventMapper, parseNotifications, pointValue, topicMatches, whenMatches, type NotificationMessage } from '../../src/drivers/onvif/notifications.js';
import { bodyOf, faultOf, passwordDigest } from '../../src/drivers/onvif/soap.js';
import { parseXml } from '../../src/drivers/onvif/xml.js';

const rule = (r: Partial<DeviceEventRuleSpec> & { topic: string; type: string }): DeviceEventRuleSpec => ({ severity: 'info', snapshot: false, ...r });
const msg = (topic: string, data: Record<string, string>, extra: Partial<NotificationMessage> = {}): NotificationMessage => ({ topic, source: {}, key: {}, data, operation: 'Changed', utcTime: 1_700_000_000_000, ...extra });

t.test('topics match by local names, with or without prefixes, and //. covers a subtree', async (t) => {
  t.ok(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm'));
  t.ok(topicMatches('VideoSource/MotionAlarm', 'tns1:VideoSource/MotionAlarm'));
  t.ok(topicMatches('tns1:VideoSource/MotionAlarm', 'ns0:VideoSource/ns0:MotionAlarm'));
  t.notOk(topicMatches('tns1:VideoSource/MotionAlarm', 'tns1:VideoSource/GlobalSceneChange/ImagingService'));
  t.ok(topicMatches('tns1:RuleEngine//.', 'tns1:RuleEngine/LineDetector/Crossed'));
  t.notOk(topicMatches('tns1:RuleEngine//.', 'tns1:VideoSource/MotionAlarm'));
});

t.test('when: xs:boolean forms, numbers, strings and string-list tokens', async (t) => {
  t.ok(whenMatches({ IsMotion: true }, msg('x', { IsMotion: 'true' })));
  t.ok(whenMatches({ IsMotion: true }, msg('x', { IsMotion: '1' })));
  t.notOk(whenMatches({ IsMotion: true }, msg('x', { IsMotion: 'false' })));
  t.notOk(whenMatches({ IsMotion: true }, msg('x', {})), 'a missing item never matches');
  t.ok(whenMatches({ Level: 3 }, msg('x', { Level: '3.0' })));
  t.ok(whenMatches({ ClassTypes: 'Human' }, msg('x', { ClassTypes: 'Vehicle Human' })));
  t.notOk(whenMatches({ ClassTypes: 'Human' }, msg('x', { ClassTypes: 'Vehicle' })));
  t.ok(whenMatches({ Rule: 'MyRule' }, msg('x', {}, { source: { Rule: 'MyRule' } })), 'source items count too');
  t.ok(whenMatches(undefined, msg('x', {})));
});

t.test('EventMapper: Initialized is no event; one motion under two topics is one event; different types are not merged', async (t) => {
  const mapper = new EventMapper(
    [
      rule({ topic: 'tns1:VideoSource/MotionAlarm', when: { State: true }, type: 'camera.motion' }),
      rule({ topic: 'tns1:RuleEngine/CellMotionDetector/Motion', when: { IsMotion: true }, type: 'camera.motion' }),
      rule({ topic: 'tns1:RuleEngine/LineDetector/Crossed', type: 'camera.line_crossing', severity: 'warning' }),
    ],
    1000,
  );
  t.same(mapper.map(msg('tns1:VideoSource/MotionAlarm', { State: 'true' }, { operation: 'Initialized' }), 0), []);
  const first = mapper.map(msg('tns1:VideoSource/MotionAlarm', { State: 'true' }), 0);
  t.equal(first.length, 1);
  t.equal(first[0]!.ts, 1_700_000_000_000, 'the message UtcTime');
  t.same(mapper.map(msg('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' }, { utcTime: 1_700_000_000_400 }), 0), [], 'merged');
  t.equal(mapper.map(msg('tns1:RuleEngine/LineDetector/Crossed', { ObjectId: '7' }, { operation: undefined }), 0).length, 1);
  t.equal(mapper.map(msg('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' }, { utcTime: 1_700_000_005_000 }), 0).length, 1, 'a later motion is new');
  t.equal(mapper.map(msg('tns1:RuleEngine/CellMotionDetector/Motion', { IsMotion: 'true' }, { utcTime: 1_700_000_005_100 }), 0).length, 1, 'the same topic again is never merged');
  const noMerge = new EventMapper([rule({ topic: 'a', type: 'x.y' }), rule({ topic: 'b', type: 'x.y' })], 0);
  t.equal(noMerge.map(msg('a', {}), 0).length + noMerge.map(msg('b', {}), 0).length, 2, 'mergeMs 0 never merges');
});

t.test('parseNotifications reads topic, UtcTime, PropertyOperation and the items', async (t) => {
  const xml = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsnt="b" xmlns:tt="t" xmlns:tev="e"><s:Body><tev:PullMessagesResponse>
    <tev:CurrentTime>2024-01-01T00:00:00Z</tev:CurrentTime><tev:TerminationTime>2024-01-01T00:01:00Z</tev:TerminationTime>
    <wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">tns1:RuleEngine/CellMotionDetector/Motion</wsnt:Topic>
    <wsnt:Message><tt:Message UtcTime="2024-01-01T00:00:05.5Z" PropertyOperation="Changed"><tt:Source><tt:SimpleItem Name="Rule" Value="R &amp; D"/></tt:Source>
    <tt:Data><tt:SimpleItem Name="IsMotion" Value="true"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
    <wsnt:NotificationMessage><wsnt:Topic>tns1:RuleEngine/LineDetector/Crossed</wsnt:Topic><wsnt:Message><tt:Message UtcTime="bad"><tt:Data>
    <tt:SimpleItem Name="ObjectId" Value="3"/><tt:ElementItem Name="Box"><tt:Rect/></tt:ElementItem></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>
    </tev:PullMessagesResponse></s:Body></s:Envelope>`;
  const msgs = parseNotifications((bodyOf(parseXml(xml)) as Record<string, never>).PullMessagesResponse);
  t.same(msgs, [
    { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', utcTime: Date.parse('2024-01-01T00:00:05.5Z'), operation: 'Changed', source: { Rule: 'R & D' }, key: {}, data: { IsMotion: 'true' } },
    { topic: 'tns1:RuleEngine/LineDetector/Crossed', source: {}, key: {}, data: { ObjectId: '3' } },
  ]);
});

t.test('pointValue converts a data item to the point type', async (t) => {
  t.equal(pointValue({ type: 'bool' }, 'true'), true);
  t.equal(pointValue({ type: 'bool' }, 'maybe'), undefined);
  t.equal(pointValue({ type: 'string' }, 'Open'), 'Open');
  t.equal(pointValue({ type: 'float32' }, '21.5'), 21.5);
  t.equal(pointValue({ type: 'uint16' }, 'true'), 1);
  t.equal(pointValue({ type: 'uint16' }, 'Open'), undefined);
});

t.test('UsernameToken PasswordDigest is Base64(SHA-1(nonce + created + password))', async (t) => {
  // WS-Security UsernameToken Profile 1.0 §3.1 example values.
  const nonce = Buffer.from('LKqI6G/AikKCQrN0zqZFlg==', 'base64');
  t.equal(passwordDigest(nonce, '2010-09-16T07:50:45Z', 'userpassword'), 'tuOSpGlFlIXsozq4HFNeeGeFLEI=');
});

t.test('faults: SOAP 1.2 with nested subcodes, and SOAP 1.1', async (t) => {
  const f12 = faultOf(
    bodyOf(
      parseXml(
        `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:InvalidArgVal</env:Value>` +
          `<env:Subcode><env:Value>ter:NoProfile</env:Value></env:Subcode></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">No such profile</env:Text></env:Reason></env:Fault></env:Body></env:Envelope>`,
      ),
    ),
  );
  t.same(f12, { code: 'env:Sender', subcodes: ['ter:InvalidArgVal', 'ter:NoProfile'], reason: 'No such profile' });
  const f11 = faultOf(bodyOf(parseXml(`<s:Envelope xmlns:s="x"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>bad</faultstring></s:Fault></s:Body></s:Envelope>`)));
  t.same(f11, { code: 's:Client', subcodes: [], reason: 'bad' });
});

t.test('HTTP Digest: RFC 7616 §3.9.1 example (MD5, qop=auth)', async (t) => {
  const challenges = parseChallenges('Basic realm="x", Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"');
  const c = pickChallenge(challenges)!;
  t.equal(c.scheme, 'digest', 'Digest is preferred to Basic');
  const header = authorization(c, 'GET', '/dir/index.html', 'Mufasa', 'Circle of Life');
  const cnonce = /cnonce="([^"]+)"/.exec(header)![1]!;
  t.match(header, /^Digest username="Mufasa", realm="http-auth@example.org", nonce="7ypf/);
  t.match(header, /qop=auth, nc=00000001/);
  // Recompute independently from the cnonce the client chose.
  const { createHash } = await import('node:crypto');
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');
  const expected = md5(`${md5('Mufasa:http-auth@example.org:Circle of Life')}:7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v:00000001:${cnonce}:auth:${md5('GET:/dir/index.html')}`);
  t.match(header, new RegExp(`response="${expected}"`));
  t.equal(authorization({ scheme: 'basic', params: {} }, 'GET', '/', 'a', 'b'), 'Basic YTpi');
});
