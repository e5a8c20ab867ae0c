/**
 * `gateway.mqtt` of site.yaml is checked at load like every other key: a broker user with
 * no password or two, a username twice, a malformed ACL filter, a TLS file that is not
 * there, an unset passwordEnv — each named with its file and path; secrets resolved.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';

function site(mqtt: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-mqtt-config-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, `site: { id: s1, name: S }\ngateway:\n  mqtt:\n${mqtt}`);
  return file;
}

t.test('a valid gateway.mqtt loads with its secrets and absolute files', async (t) => {
  const file = site(`    port: 11884
    users:
      - { username: bms, passwordEnv: BMS_PW }
      - { username: lights, role: operator, passwordFile: lights.pw, acl: { subscribe: [steward/v1/s1/light-1/#], publish: [steward/v1/s1/light-1/+/set] } }
    bridge: { url: mqtt://upstream.example:1883, passwordEnv: UP_PW }
`);
  writeFileSync(path.join(path.dirname(file), 'lights.pw'), 'lights-pass\n');
  const config = loadSiteConfig(file, { BMS_PW: 'bms-pass', UP_PW: 'up-pass' });
  t.match(config.gateway.mqtt, {
    host: '127.0.0.1',
    port: 11884,
    enabled: true,
    allowAnonymous: false,
    users: [
      { username: 'bms', role: 'viewer', password: 'bms-pass' },
      { username: 'lights', role: 'operator', password: 'lights-pass', acl: { publish: ['steward/v1/s1/light-1/+/set'] } },
    ],
    bridge: { url: 'mqtt://upstream.example:1883', password: 'up-pass', events: true, telemetry: false, maxQueuedEvents: 10000 },
  });
});

function problems(file: string, env: Record<string, string>): string {
  try {
    loadSiteConfig(file, env);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

t.test('each problem is named with its path', async (t) => {
  const file = site(`    users:
      - { username: a, passwordEnv: A_PW, passwordHash: "scrypt$1" }
      - { username: b }
      - { username: c, passwordEnv: UNSET_PW }
      - { username: c, passwordEnv: C_PW }
    tls: { keyFile: missing.key, certFile: missing.crt }
`);
  const message = problems(file, { A_PW: 'x', C_PW: 'y' });
  t.match(message, /gateway\.mqtt\.users\[0\]: needs exactly one of passwordHash, passwordEnv, passwordFile/);
  t.match(message, /gateway\.mqtt\.users\[1\]: needs exactly one of/);
  t.match(message, /gateway\.mqtt\.users\[2\]\.passwordEnv: names the environment variable UNSET_PW, which is not set/);
  t.match(message, /gateway\.mqtt\.users\[3\]\.username: must be unique: "c" appears twice/);
  t.match(message, /gateway\.mqtt\.tls\.keyFile: names .*missing\.key, which does not exist/);
  // A malformed ACL filter is a schema problem, named with line and expectation.
  const acl = site(`    users: [{ username: d, passwordEnv: D_PW, acl: { subscribe: ["steward/#/x"], publish: [] } }]
`);
  t.match(problems(acl, { D_PW: 'z' }), /gateway\.mqtt\.users\[0\]\.acl\.subscribe\[0\]: must be an MQTT topic filter such as steward\/v1\/\+\/pump-1\/#, got "steward\/#\/x"/);
});
