/**
 * Without a Node-RED process: flow versions (numbering, no version for an unchanged
 * deploy, the diff a person reads, pruning), the bindings of the default flows to a site
 * (from site.yaml or derived from the profiles), and the editor's users (hashes only,
 * deploy rights for technicians and admins).
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scryptSync } from 'node:crypto';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { bindingsEnv, flowBindings, unknownDevices } from '../../src/flows/bindings.js';
import { NodeRedRuntime } from '../../src/flows/node-red.js';
import { editorUsers } from '../../src/flows/settings.js';
import { asFlows, diffFlows, FlowVersions, type FlowNode } from '../../src/flows/versions.js';

const tab: FlowNode = { id: 't1', type: 'tab', label: 'Pump' };
const fn: FlowNode = { id: 'f1', type: 'function', z: 't1', name: 'detect', func: 'return msg;', x: 100, y: 100 };
const dbg: FlowNode = { id: 'd1', type: 'debug', z: 't1', name: '', x: 300, y: 100 };

t.test('versions: numbered, who and what changed, nothing for an unchanged deploy, oldest pruned', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-versions-'));
  const v = new FlowVersions(dir, 3);
  t.match(v.record([tab, fn], 'steward', 'default', 1000), { n: 1, actor: 'steward', action: 'default', nodes: 2, diff: { added: [{ id: 't1', name: 'Pump' }, { id: 'f1', name: 'detect', z: 't1' }], removed: [], changed: [] } });
  t.equal(v.record([tab, fn], 'tech', 'deploy', 2000), undefined, 'the same flows again: no version');
  const v2 = v.record([tab, { ...fn, func: 'return null;', x: 120 }, dbg], 'tech', 'deploy', 3000)!;
  t.match(v2.diff, { added: [{ id: 'd1', type: 'debug', name: null }], removed: [], changed: [{ id: 'f1', keys: ['func', 'x'] }] });
  t.match(v.record([tab], 'tech', 'deploy', 4000)!.diff, { removed: [{ id: 'f1' }, { id: 'd1' }] });
  t.match(v.record(v.get(1).flows, 'tech', 'rollback', 5000, 1), { n: 4, action: 'rollback', restored: 1 });
  t.same(v.list().map((x) => x.n), [4, 3, 2], 'newest first, the oldest past keepVersions dropped');
  t.equal(readdirSync(path.join(dir, 'flow-versions')).length, 3);
  t.equal(v.head(), 4);
  t.throws(() => v.get(1), { code: 'GW_ERR_FLOWS_VERSION_NOT_FOUND' });
  t.notOk('flows' in (v.list()[0] ?? {}), 'the list leaves the flows out');
});

t.test('versions: a flows file that is not an array of nodes is refused', async (t) => {
  t.throws(() => asFlows({ flows: [] }, 'x'), { code: 'GW_ERR_FLOWS_INVALID' });
  t.throws(() => asFlows([{ id: 'a' }], 'x'), { code: 'GW_ERR_FLOWS_INVALID' });
  t.same(diffFlows([], []), { added: [], removed: [], changed: [] });
});

const site = (nodeRed: string) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bindings-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(
    file,
    `site: { id: s, name: S }
gateway:
  nodeRed: ${nodeRed}
devices:
  - { id: p-a, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
  - { id: p-b, profile: water/vfd-pump, system: water, enabled: false, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 2 } }
  - { id: lights, profile: lighting/lighting-controller, system: lighting, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 3 } }
  - { id: lift-1, profile: elevator/traction-elevator, system: elevator, location: { building: T2 }, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 4 } }
  - { id: cam-gate, profile: camera/onvif-camera, system: camera, location: { building: gate }, connection: { protocol: onvif, url: "http://127.0.0.1:5", username: a, passwordEnv: CAM } }
  - { id: cam-t2, profile: camera/onvif-camera, system: camera, location: { building: T2 }, connection: { protocol: onvif, url: "http://127.0.0.1:6", username: a, passwordEnv: CAM } }
`,
  );
  return loadSiteConfig(file, {}, false);
};

t.test('bindings: derived from the profiles when site.yaml says nothing', async (t) => {
  const b = flowBindings(site('{ enabled: true }'));
  t.match(b.lighting, { device: 'lights', onBelowLux: 30, offAboveLux: 80, channels: [{ point: 'channel_1' }, { point: 'channel_2' }, { point: 'channel_3' }, { point: 'channel_6' }] });
  t.same(b.pump?.devices, ['p-a'], 'an enabled pump only');
  t.same(b.elevator, { devices: ['lift-1'], callPoint: 'entrapment', cameras: { 'lift-1': 'cam-t2' } }, 'the camera of the lift’s building');
  const env = bindingsEnv(b);
  t.match(env, { STEWARD_LIGHTING_DEVICE: 'lights', STEWARD_LIGHTING_CHANNELS: 'channel_1,channel_2,channel_3,channel_6', STEWARD_PUMP_DEVICES: 'p-a', STEWARD_ELEVATOR_DEVICES: 'lift-1', STEWARD_ELEVATOR_POINTS: 'car_moving,door_zone,door_state,entrapment' });
  t.same(JSON.parse(env.STEWARD_PUMP!), b.pump);
});

t.test('bindings: site.yaml names the devices; unknown ones are reported', async (t) => {
  const c = site('{ enabled: true, pump: { devices: [p-b, p-x], lowPressureBar: 2 }, elevator: { devices: [lift-1], callPoint: alarm_button, cameras: { lift-1: cam-gate } } }');
  const b = flowBindings(c);
  t.match(b.pump, { devices: ['p-b', 'p-x'], lowPressureBar: 2, deadbandBar: 0.2, delayMs: 10_000 });
  t.match(b.elevator, { callPoint: 'alarm_button', cameras: { 'lift-1': 'cam-gate' } });
  t.same(unknownDevices(c, b), ['p-x']);
  t.equal(bindingsEnv(b).STEWARD_ELEVATOR_POINTS, 'car_moving,door_zone,door_state,alarm_button');
});

t.test('editor users: technicians and admins deploy, the others read; no password leaves the gateway', async (t) => {
  const users = await editorUsers([
    { name: 'tech', role: 'technician', password: 'pw-1' },
    { name: 'boss', role: 'admin', passwordHash: 'scrypt$16384$8$1$c2FsdA$aGFzaA' },
    { name: 'op', role: 'operator', password: 'pw-2' },
    { name: 'eye', role: 'viewer', password: 'pw-3' },
  ]);
  t.same(users.map((u) => [u.username, u.permissions]), [['tech', '*'], ['boss', '*'], ['op', 'read'], ['eye', 'read']]);
  t.equal(users[1]?.hash, 'scrypt$16384$8$1$c2FsdA$aGFzaA', 'a hash is handed on as it is');
  t.notOk(JSON.stringify(users).includes('pw-1'), 'a plain password is hashed');
  const [, n, r, p, salt, key] = users[0]!.hash.split('$');
  const got = scryptSync('pw-1', Buffer.from(salt!, 'base64url'), 32, { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 });
  t.equal(got.toString('base64url'), key, 'the hash checks the password (as settings.cjs does)');
});

t.test('flows from elsewhere (the cloud’s desired config): refused unless flows; else a version by that actor', async (t) => {
  const config = site('{ enabled: true }');
  const nr = new NodeRedRuntime({ config, log: createLogger({ level: 'silent' }) });
  await t.rejects(nr.apply({ not: 'flows' }, 'cloud'), { code: 'GW_ERR_FLOWS_INVALID' });
  t.equal(nr.versions.head(), 0, 'nothing recorded');
  // Not started here: the flows are written and recorded for the next start.
  await t.rejects(nr.apply([tab, fn], 'cloud'), { code: 'GW_ERR_FLOWS_START' });
  t.match(nr.versions.latest(), { n: 1, actor: 'cloud', action: 'deploy', nodes: 2 });
  t.same(JSON.parse(readFileSync(nr.flowsFile, 'utf8')), [tab, fn]);
  t.equal(await nr.apply([tab, fn], 'cloud'), undefined, 'the same flows again: nothing to do');
});

t.test('Node-RED’s API login takes another name when site.yaml has a user called node-red', async (t) => {
  const config = site('{ enabled: true }');
  t.equal(new NodeRedRuntime({ config, log: createLogger({ level: 'silent' }) }).apiUser.name, 'node-red');
  const taken = { ...config, users: [{ name: 'node-red', role: 'viewer' as const, password: 'x' }] };
  t.match(new NodeRedRuntime({ config: taken, log: createLogger({ level: 'silent' }) }).apiUser, { name: 'node-red-2', role: 'operator' });
});
