/**
 * site.yaml is validated at load: every kind of mistake gets a message naming the file,
 * the path inside it, and what was expected; a valid file loads with its defaults.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { ConfigInvalidError } from '../../src/core/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'steward-site-'));

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The formatted issues of loading `text`, with the temp folder cut off. */
function problems(text: string, env: Record<string, string> = {}): string[] {
  const file = write('site.yaml', text);
  try {
    loadSiteConfig(file, env);
  } catch (err) {
    if (err instanceof ConfigInvalidError) return (err.details.issues as string[]).map((l) => l.replace(`${dir}/`, ''));
    throw err;
  }
  return [];
}

const valid = `
site: { id: sz-garden-01, name: 深圳某花园, timezone: Asia/Shanghai }
gateway:
  http: { host: 127.0.0.1, port: 8080 }
  mqtt: { host: 127.0.0.1, port: 1884 }
  dataDir: ./data
cloud: { url: http://127.0.0.1:8090, gatewayId: gw-01, enrolmentToken: "abcdefgh12345678" }
devices:
  - id: pump-1
    name: 生活水泵 1
    profile: water/vfd-pump
    system: water
    location: { building: B1, floor: B2 }
    pollIntervalMs: 1000
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 15020, unitId: 1, timeoutMs: 1000 }
`;

t.test('the design example loads, with defaults applied and the result frozen', async (t) => {
  const config = loadSiteConfig(write('site.yaml', valid));
  t.equal(config.site.id, 'sz-garden-01');
  t.equal(config.gateway.dataDir, path.join(dir, 'data'), 'dataDir is relative to site.yaml');
  t.equal(config.devices.length, 1);
  const pump = config.devices[0]!;
  t.equal(pump.profile.id, 'water/vfd-pump');
  t.equal(pump.connection.port, 15020);
  t.equal(pump.enabled, true, 'enabled defaults to true');
  t.equal(config.cloud?.snapshotIntervalMs, 10_000, 'cloud defaults applied');
  t.ok(Object.isFrozen(config) && Object.isFrozen(pump.connection), 'frozen');
  t.throws(() => {
    (pump as { pollIntervalMs: number }).pollIntervalMs = 5;
  });
});

t.test('a minimal file gets every default', async (t) => {
  const config = loadSiteConfig(write('site.yaml', 'site: { id: s1, name: S }\n'));
  t.same(config.gateway.http, { host: '127.0.0.1', port: 8080, readAccess: 'open' });
  t.match(config.gateway.mqtt, { host: '127.0.0.1', port: 1884, enabled: true, allowAnonymous: false, users: [] });
  t.same(config.devices, []);
  t.equal(config.cloud, undefined, 'no cloud: offline-only');
});

t.test('a port that is not a number names file, path, expectation and value', async (t) => {
  const p = problems(valid.replace('port: 15020', 'port: "50x"'));
  t.same(p, ['site.yaml: devices[0].connection.port: must be an integer 1–65535, got "50x" (line 15)']);
});

t.test('each kind of mistake gets its own precise message', async (t) => {
  t.match(problems(valid.replace('system: water', 'system: watr')), [/devices\[0\]\.system: must be one of: elevator, water, power, hvac, lighting, fire, access, camera, other, got "watr"/]);
  t.match(problems(valid.replace('id: pump-1', 'id: Pump_1')), [/devices\[0\]\.id: must be a string matching \^\[a-z0-9\]\[a-z0-9-\]\*\$, got "Pump_1"/]);
  t.match(problems(valid.replace('pollIntervalMs: 1000', 'pollIntervalMs: 10')), [/devices\[0\]\.pollIntervalMs: must be an integer 50–86400000, got 10/]);
  t.match(problems(valid.replace('name: 生活水泵 1', 'name: 生活水泵 1\n    colour: red')), [/devices\[0\]\.colour: unknown key "colour" \(expected one of: id, name, profile/]);
  t.match(problems(valid.replace('unitId: 1,', 'unitid: 1,')), [/devices\[0\]\.connection\.unitid: unknown key "unitid" \(expected one of: protocol, host, port, unitId, timeoutMs\)/]);
  t.match(problems(valid.replace('protocol: modbus-tcp', 'protocol: modbus-udp')), [/devices\[0\]\.connection\.protocol: must be one of: modbus-tcp, modbus-rtu-tcp, modbus-rtu, bacnet-ip, onvif, got "modbus-udp"/]);
  t.match(problems(valid.replace('profile: water/vfd-pump', 'profile: water/no-such-pump')), [/devices\[0\]\.profile: names no profile: "water\/no-such-pump" was looked for at .*water\/no-such-pump\.yaml/]);
  t.match(problems(valid.replace('site: { id: sz-garden-01, name: 深圳某花园, timezone: Asia/Shanghai }', 'site: { id: sz-garden-01 }')), [/site\.name: is required: expected a string/]);
  t.match(problems(valid.replace('url: http://127.0.0.1:8090', 'url: ftp://x')), [/cloud\.url: must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/]);
});

t.test('every problem in the file is listed, not just the first', async (t) => {
  const twice = `${valid}  - id: pump-1\n    profile: water/vfd-pump\n    system: water\n    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 70000 }\n`;
  const p = problems(twice.replace('system: water', 'system: watr'));
  t.equal(p.length, 2);
  t.match(p[0], /devices\[0\]\.system/);
  t.match(p[1], /devices\[1\]\.connection\.port: must be an integer 1–65535, got 70000/);
});

t.test('duplicate device ids are refused', async (t) => {
  const twice = `${valid}  - id: pump-1\n    profile: water/vfd-pump\n    system: water\n    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 15021 }\n`;
  t.match(problems(twice), [/devices\[1\]\.id: must be unique in the site: "pump-1" is also devices\[0\]/]);
});

t.test('YAML syntax errors give the line and column', async (t) => {
  const p = problems('site: { id: s1, name: S\ndevices: [\n');
  t.equal(p.length, 1);
  t.match(p[0], /^site\.yaml: \(top level\): line \d+, column \d+: not valid YAML/);
});

t.test('a missing file is a read error, not a crash', async (t) => {
  t.throws(() => loadSiteConfig(path.join(dir, 'nope.yaml')), { code: 'GW_ERR_CONFIG_READ', message: /nope\.yaml: cannot read: no such file/ });
});

t.test('secrets come from the environment or a file, and a missing one is named', async (t) => {
  const withEnv = valid.replace('enrolmentToken: "abcdefgh12345678"', 'enrolmentTokenEnv: GW_TOKEN');
  t.match(problems(withEnv), [/cloud\.enrolmentTokenEnv: names the environment variable GW_TOKEN, which is not set/]);
  const config = loadSiteConfig(write('site.yaml', withEnv), { GW_TOKEN: 'from-the-env-123' });
  t.equal(config.cloud?.enrolmentTokenValue, 'from-the-env-123');
});

t.test('a profile given as a path is read relative to site.yaml, and its own mistakes are reported in its file', async (t) => {
  write('odd-pump.yaml', 'id: local/odd-pump\nname: Odd\nprotocol: modbus\npoints:\n  - { name: p, type: float32, address: { table: holding, register: 70000 } }\n');
  const p = problems(valid.replace('profile: water/vfd-pump', 'profile: odd-pump.yaml'));
  t.equal(p.length, 1);
  t.match(p[0], /odd-pump\.yaml: points\[0\]\.address\.register: must be an integer 0–65535, got 70000/);
});
