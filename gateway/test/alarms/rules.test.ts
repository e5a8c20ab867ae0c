/**
 * Rules are compiled once, at start: every bundled profile's rules compile with unique
 * names; site.yaml replaces, adds and drops rules per device; a rule that cannot be
 * evaluated stops the start with a message naming the device and the rule.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { compileRules } from '../../src/alarms/rules.js';
import { siteConfig } from './fixture.js';

const settings = { floodWindowMs: 60_000, floodLookbackMs: 10_000, maxShelveMs: 28_800_000, tickMs: 1000, deviceOffline: { enabled: true, severity: 'major' as const, delayMs: 10_000 } };
const library = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../device-profiles');

t.test('every bundled profile compiles, with unique rule names', async (t) => {
  const profiles = readdirSync(library, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) => readdirSync(path.join(library, d.name)).filter((f) => f.endsWith('.yaml')).map((f) => `${d.name}/${f.replace(/\.yaml$/, '')}`));
  t.ok(profiles.length >= 10);
  const devices = profiles.map((p, i) => {
    const onvif = p === 'camera/onvif-camera' || p === 'access/onvif-door';
    const bacnet = p.startsWith('hvac/');
    const conn = onvif ? '{ protocol: onvif, url: "http://127.0.0.1:1", username: admin }' : bacnet ? `{ protocol: bacnet-ip, host: 127.0.0.1, port: 47809, deviceInstance: ${i + 1} }` : '{ protocol: modbus-tcp, host: 127.0.0.1, port: 1 }';
    return `  - { id: d${i}, profile: ${p}, system: other, connection: ${conn} }`;
  });
  const config = siteConfig(`site: { id: s1, name: S }\ndevices:\n${devices.join('\n')}\n`);
  const rules = compileRules(config.devices, settings);
  t.equal(new Set(rules.map((r) => r.id)).size, rules.length, 'ids unique');
  t.ok(rules.some((r) => r.id === 'd0:comm'), 'every device has its comm rule');
  for (const r of rules) t.ok(r.message.length > 0, `${r.id} has a message`);
});

t.test('site.yaml replaces, adds and drops rules', async (t) => {
  const config = siteConfig(`site: { id: s1, name: S }
devices:
  - id: pump-1
    profile: water/vfd-pump
    system: water
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 }
    alarms:
      - { point: outlet_pressure, kind: low, limit: 2.5, severity: critical }
      - { point: flow, kind: low, limit: 1, severity: warning, name: no-flow, priority: P2 }
      - { point: vibration, kind: high, limit: 7.1, severity: minor, enabled: false }
    disableAlarms: [comm]
`);
  const rules = compileRules(config.devices, settings);
  const ids = rules.map((r) => r.id).sort();
  t.same(ids, ['pump-1:bearing_temperature.high', 'pump-1:fault.state.true', 'pump-1:no-flow', 'pump-1:outlet_pressure.low']);
  t.match(rules.find((r) => r.id === 'pump-1:outlet_pressure.low'), { limit: 2.5, severity: 'critical', priority: 'P1', message: 'outlet_pressure below 2.5 bar' });
  t.match(rules.find((r) => r.id === 'pump-1:no-flow'), { priority: 'P2', severity: 'warning' });
});

t.test('a rule that cannot be evaluated stops the start, naming device and rule', async (t) => {
  const base = `site: { id: s1, name: S }
devices:
  - id: pump-1
    profile: water/vfd-pump
    system: water
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 }
`;
  t.throws(() => compileRules(siteConfig(`${base}    alarms: [{ point: nope, kind: high, limit: 1, severity: minor }]\n`).devices, settings), {
    code: 'GW_ERR_ALARM_RULE_INVALID',
    message: /pump-1: site.yaml devices.pump-1.alarms\[0\]: point "nope" is not a point of profile water\/vfd-pump/,
  });
  t.throws(() => compileRules(siteConfig(`${base}    alarms: [{ point: flow, kind: high, severity: minor }]\n`).devices, settings), { message: /a high rule needs a limit/ });
  t.throws(() => compileRules(siteConfig(`${base}    dependsOn: [brk-9]\n`).devices, settings), { message: /"brk-9" is not a device of this site/ });
  t.throws(() => compileRules(siteConfig(`${base}    disableAlarms: [nope]\n`).devices, settings), { message: /no rule is named "nope"/ });
});
