/**
 * The topic scheme and the rights of users: which topics a filter matches (MQTT-4.7),
 * which subscriptions an ACL covers, who may write, and what a `…/set` payload means.
 */
import t from 'tap';
import { Rights } from '../../src/broker/acl.js';
import { parseWrite } from '../../src/broker/broker.js';
import { filterCovers, topicMatches, Topics } from '../../src/broker/topics.js';

const topics = new Topics('s1');

t.test('topic names of the scheme', async (t) => {
  t.equal(topics.value('pump-1', 'outlet_pressure'), 'steward/v1/s1/pump-1/outlet_pressure');
  t.equal(topics.set('pump-1', 'start_stop'), 'steward/v1/s1/pump-1/start_stop/set');
  t.equal(topics.setResult('pump-1', 'start_stop'), 'steward/v1/s1/pump-1/start_stop/set/result');
  t.equal(topics.state('pump-1'), 'steward/v1/s1/pump-1/$state');
  t.equal(topics.event('alarm.raised'), 'steward/v1/s1/events/alarm.raised');
  t.same(topics.parseSet('steward/v1/s1/pump-1/start_stop/set'), { device: 'pump-1', point: 'start_stop' });
  t.equal(topics.parseSet('steward/v1/s2/pump-1/start_stop/set'), undefined, 'another site');
  t.equal(topics.parseSet('steward/v1/s1/pump-1/start_stop/set/result'), undefined);
  t.equal(topics.parseSet('steward/v1/s1/pump-1/set'), undefined);
  t.equal(topics.parseSet('steward/v1/s1/Pump/x/set'), undefined, 'not a device id');
});

t.test('filters match as MQTT-4.7 says', async (t) => {
  t.ok(topicMatches('steward/v1/s1/#', 'steward/v1/s1/pump-1/flow'));
  t.ok(topicMatches('steward/v1/s1/#', 'steward/v1/s1'), '# includes the parent level (MQTT-4.7.1-2)');
  t.ok(topicMatches('steward/v1/+/pump-1/+', 'steward/v1/s1/pump-1/flow'));
  t.notOk(topicMatches('steward/v1/+/pump-1/+', 'steward/v1/s1/pump-1/flow/set'));
  t.notOk(topicMatches('#', '$SYS/x'), 'wildcards do not match $ topics (MQTT-4.7.2-1)');
  t.ok(topicMatches('steward/v1/s1/pump-1/+', 'steward/v1/s1/pump-1/$state'), 'only a leading $ is special');
  t.ok(filterCovers('steward/v1/s1/#', 'steward/v1/s1/pump-1/+'));
  t.ok(filterCovers('steward/v1/s1/+/flow', 'steward/v1/s1/pump-1/flow'));
  t.notOk(filterCovers('steward/v1/s1/pump-1/#', 'steward/v1/s1/#'));
  t.notOk(filterCovers('steward/v1/s1/+/flow', 'steward/v1/s1/+/#'));
  t.notOk(filterCovers('steward/v1/s1/pump-1/flow', 'steward/v1/s1/pump-1/+'));
});

t.test('rights: viewers read, operators also write …/set, nobody forges the gateway’s topics', async (t) => {
  const viewer = new Rights('v', 'viewer', topics);
  t.ok(viewer.canSubscribe('steward/v1/s1/#'));
  t.notOk(viewer.canSubscribe('#'));
  t.notOk(viewer.canPublish('steward/v1/s1/pump-1/start_stop/set'));
  const viewerWithAcl = new Rights('v', 'viewer', topics, { subscribe: ['#'], publish: ['#'] });
  t.notOk(viewerWithAcl.canPublish('steward/v1/s1/pump-1/start_stop/set'), 'an ACL never makes a viewer a writer');
  t.ok(viewerWithAcl.canPublish('elsewhere/x'), 'outside the site tree the ACL decides');
  const op = new Rights('o', 'operator', topics);
  t.ok(op.canPublish('steward/v1/s1/pump-1/start_stop/set'));
  t.notOk(op.canPublish('steward/v1/s1/pump-1/start_stop'), 'values are the gateway’s');
  t.notOk(op.canPublish('steward/v1/s1/events/alarm.raised'));
  t.notOk(op.canPublish('steward/v1/s1/pump-1/start_stop/set/result'));
  t.notOk(op.canPublish('steward/v1/s2/pump-1/start_stop/set'), 'another site is not in the default ACL');
  t.notOk(op.canPublish('anything/else'), 'nothing outside the tree by default');
  const narrow = new Rights('n', 'admin', topics, { subscribe: ['steward/v1/s1/light-1/#'], publish: ['steward/v1/s1/light-1/+/set'] });
  t.ok(narrow.canPublish('steward/v1/s1/light-1/channel_1/set'));
  t.notOk(narrow.canPublish('steward/v1/s1/pump-1/start_stop/set'));
  t.notOk(narrow.canSubscribe('steward/v1/s1/+/channel_1'));
});

t.test('a …/set payload: JSON scalar, {v, id}, or text', async (t) => {
  t.same(parseWrite(Buffer.from('5.5')), { value: 5.5 });
  t.same(parseWrite(Buffer.from('true')), { value: true });
  t.same(parseWrite(Buffer.from('"auto"')), { value: 'auto' });
  t.same(parseWrite(Buffer.from('auto')), { value: 'auto' }, 'plain text is a string');
  t.same(parseWrite(Buffer.from('{"v": 1, "id": "w-7"}')), { value: 1, id: 'w-7' });
  t.match(parseWrite(Buffer.from('{"value": 1, "id": "w-8"}')), { error: /expected/, id: 'w-8' });
  t.match(parseWrite(Buffer.from('null')), { error: /expected/ });
  t.match(parseWrite(Buffer.from('[1]')), { error: /expected/ });
  t.match(parseWrite(Buffer.from('')), { error: /empty/ });
});
