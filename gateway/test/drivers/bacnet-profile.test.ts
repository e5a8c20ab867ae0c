/**
 * What the BACnet driver owns of the configuration: the hvac/ahu and hvac/chiller
 * profiles validate; mistakes in BACnet point keys and in a bacnet-ip connection are
 * refused at load, each naming the path and what was expected.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadProfileFile, loadSiteConfig } from '../../src/config.js';
import { ConfigInvalidError } from '../../src/core/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'steward-bacnet-profile-'));
const library = (id: string) => fileURLToPath(new URL(`../../../device-profiles/${id}.yaml`, import.meta.url));

function problems(fn: () => unknown): string[] {
  try {
    fn();
    return [];
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw err;
  }
}

function profileWith(points: string, extra = ''): string {
  const file = path.join(dir, `p-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, `id: test/bacnet-mistakes\nname: Mistakes\nprotocol: bacnet\n${extra}points:\n${points}`);
  return file;
}

t.test('the library profiles validate, with BACnet defaults filled in', async (t) => {
  const ahu = loadProfileFile(library('hvac/ahu'));
  t.equal(ahu.protocol, 'bacnet');
  t.same(ahu.protocolOptions, { maxPropertiesPerRequest: 20, readMultiple: true });
  const sat = ahu.points.find((p) => p.name === 'supply_air_temperature')!;
  t.same(sat.address, { object: { type: 'analog-input', instance: 1 }, property: 'present-value', cov: true });
  const fan = ahu.points.find((p) => p.name === 'supply_fan_command')!;
  t.same(fan.address, { object: { type: 'binary-output', instance: 1 }, property: 'present-value', cov: false, priority: 8 });
  const chiller = loadProfileFile(library('hvac/chiller'));
  t.ok(chiller.points.some((p) => p.name === 'start_stop' && p.access === 'rw'));
  t.ok(chiller.alarms.length > 0);
  t.same(chiller.models, [], 'no chiller model is trained yet (docs/ml.md)');
});

t.test('mistakes in point keys are refused with path and expectation', async (t) => {
  const file = profileWith(
    [
      '  - { name: a, type: float32, object: { type: analog-inptu, instance: 1 } }',
      '  - { name: b, type: float32, object: { type: analog-input, instance: 4194303 } }',
      '  - { name: c, type: float32, object: { type: binary-input, instance: 1 } }',
      '  - { name: d, type: float32, access: rw, object: { type: analog-input, instance: 2 } }',
      '  - { name: e, type: uint16, object: { type: analog-input, instance: 3 }, property: units, cov: true }',
      '  - { name: f, type: float32, access: rw, object: { type: analog-output, instance: 3 }, priority: 17 }',
      '  - { name: g, type: float32, object: { type: analog-input, instance: 5 }, priority: 8 }',
      '  - { name: h, type: float32, address: { table: holding, register: 0 } }',
      '  - { name: i, type: float32, object: { type: analog-input }, property: presnt-value }',
      '  - { name: j, type: float32, object: { type: multi-state-value, instance: 1 } }',
    ].join('\n') + '\n',
  );
  const found = problems(() => loadProfileFile(file));
  const expect = [
    /^points\.0\.object\.type: must be a BACnet object type .*got "analog-inptu"/,
    /^points\.1\.object\.instance: must be an integer 0–4194302, got 4194303/,
    /^points\.2\.type: must be bool for the present-value of a binary-input, got float32/,
    /^points\.3\.access: must be r: the present-value of an analog-input is written by the device/,
    /^points\.4\.cov: only applies to present-value/,
    /^points\.5\.priority: must be an integer 1–16, got 17/,
    /^points\.6\.priority: only applies to writable points/,
    /^points\.7\.address: is not a bacnet point key/,
    /^points\.8\.object\.instance: .*required|^points\.8\.object: .*instance/,
    /^points\.8\.property: must be a BACnet property name such as present-value, or its number/,
    /^points\.9\.type: must be uint16 or uint32 or uint64 for the present-value of a multi-state-value, got float32/,
  ];
  for (const re of expect) t.ok(found.some((f) => re.test(f)), re.source);
  if (!t.passing()) t.comment(found.join('\n'));
});

t.test('the bacnet: block is checked too', async (t) => {
  const file = profileWith('  - { name: a, type: float32, object: { type: analog-input, instance: 1 } }\n', 'bacnet: { maxPropertiesPerRequest: 0, readMulti: true }\n');
  const found = problems(() => loadProfileFile(file));
  t.ok(found.some((f) => /^bacnet\.maxPropertiesPerRequest/.test(f)));
  t.ok(found.some((f) => /^bacnet\.readMulti/.test(f)));
});

t.test('a bacnet-ip connection: defaults, and mistakes refused', async (t) => {
  const good = path.join(dir, 'site-good.yaml');
  writeFileSync(good, 'site: { id: s, name: S }\ndevices:\n  - { id: ahu-1, profile: hvac/ahu, system: hvac, connection: { protocol: bacnet-ip, host: 127.0.0.1, deviceInstance: 260001 } }\n');
  const conn = loadSiteConfig(good).devices[0]!.connection;
  t.same(conn, { protocol: 'bacnet-ip', host: '127.0.0.1', port: 47808, deviceInstance: 260001, timeoutMs: 3000, localPort: 0, covLifetimeS: 300 });

  const bad = path.join(dir, 'site-bad.yaml');
  writeFileSync(
    bad,
    [
      'site: { id: s, name: S }',
      'devices:',
      '  - { id: a, profile: hvac/ahu, system: hvac, connection: { protocol: bacnet-ip, host: 127.0.0.1, deviceInstance: 4194303 } }',
      '  - { id: b, profile: hvac/ahu, system: hvac, connection: { protocol: bacnet-ip, host: 127.0.0.1 } }',
      '  - { id: c, profile: hvac/ahu, system: hvac, connection: { protocol: bacnet-ip, host: 127.0.0.1, deviceInstance: 1, unitId: 1 } }',
      '  - { id: d, profile: water/vfd-pump, system: water, connection: { protocol: bacnet-ip, host: 127.0.0.1, deviceInstance: 1 } }',
    ].join('\n') + '\n',
  );
  const found = problems(() => loadSiteConfig(bad));
  t.ok(found.some((f) => /^devices\.0\.connection\.deviceInstance: must be an integer 0–4194302/.test(f)));
  t.ok(found.some((f) => /^devices\.1\.connection/.test(f) && /deviceInstance/.test(f)));
  t.ok(found.some((f) => /^devices\.2\.connection/.test(f) && /unitId/.test(f)));
  t.ok(found.some((f) => /^devices\.3\.connection\.protocol: is bacnet-ip, but profile water\/vfd-pump speaks modbus/.test(f)));
});
