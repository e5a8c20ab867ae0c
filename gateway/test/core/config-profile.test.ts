/**
 * Device profiles are checked at load against the generic schema and their driver's
 * address schema; every bundled profile is valid.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { BUNDLED_PROFILE_DIR, loadProfileFile } from '../../src/config.js';
import { ConfigInvalidError } from '../../src/core/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'steward-profile-'));

function problems(text: string): string[] {
  const file = path.join(dir, 'p.yaml');
  writeFileSync(file, text);
  try {
    loadProfileFile(file);
  } catch (err) {
    if (err instanceof ConfigInvalidError) return (err.details.issues as string[]).map((l) => l.replace(`${dir}/`, ''));
    throw err;
  }
  return [];
}

const head = 'id: test/thing\nname: Thing\nprotocol: modbus\n';

function* yamlFiles(d: string): Generator<string> {
  for (const name of readdirSync(d)) {
    const full = path.join(d, name);
    if (statSync(full).isDirectory()) yield* yamlFiles(full);
    else if (name.endsWith('.yaml')) yield full;
  }
}

t.test('every bundled profile is valid and its id matches its place in the library', async (t) => {
  const files = [...yamlFiles(BUNDLED_PROFILE_DIR)];
  t.ok(files.length >= 1);
  for (const file of files) {
    const profile = loadProfileFile(file);
    t.equal(profile.id, path.relative(BUNDLED_PROFILE_DIR, file).replace(/\.yaml$/, ''), file);
  }
});

t.test('the pump profile has the points a VFD pump needs, with defaults applied', async (t) => {
  const pump = loadProfileFile(path.join(BUNDLED_PROFILE_DIR, 'water/vfd-pump.yaml'));
  const names = pump.points.map((p) => p.name);
  for (const n of ['outlet_pressure', 'flow', 'motor_current', 'frequency', 'bearing_temperature', 'vibration', 'run_hours', 'running', 'fault', 'fault_code', 'start_stop']) {
    t.ok(names.includes(n), n);
  }
  const pressure = pump.points.find((p) => p.name === 'outlet_pressure')!;
  t.equal(pressure.scale, 1);
  t.equal(pressure.access, 'r');
  t.same(pump.protocolOptions, { maxRegistersPerRead: 120, maxBitsPerRead: 2000, maxGap: 8, wordOrder: 'big', byteOrder: 'big', writeSingleWithMultiple: false });
});

t.test('mistakes in a profile are named with their path', async (t) => {
  t.match(problems(`${head}points:\n  - { name: p, type: float33, address: { table: holding, register: 0 } }\n`), [/p\.yaml: points\[0\]\.type: must be one of: bool, int16, .*, got "float33" \(line 5\)/]);
  t.match(problems(`${head}points:\n  - { name: p, type: float32, address: { table: holdings, register: 0 } }\n`), [/points\[0\]\.address\.table: must be one of: holding, input, coil, discrete, got "holdings"/]);
  t.match(problems(`${head}points:\n  - { name: p, type: float32, address: { table: holding, register: -1 } }\n`), [/points\[0\]\.address\.register: must be an integer 0–65535, got -1/]);
  t.match(problems(`${head}points:\n  - { name: p, type: float32 }\n`), [/points\[0\]\.address: is required: expected a modbus address/]);
  t.match(problems(`${head}points:\n  - { name: Bad-Name, type: int16, address: { table: holding, register: 0 } }\n`), [/points\[0\]\.name: must be a string matching/]);
  t.match(problems(`${head}points: []\n`), [/p\.yaml: points: must list at least one point for a modbus profile/]);
  t.match(problems('name: X\nprotocol: modbus\npoints:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\n'), [/\(top level\)|id: is required/]);
});

t.test('cross-field mistakes are caught at load, not at read time', async (t) => {
  t.match(problems(`${head}points:\n  - { name: p, type: float32, address: { table: coil, register: 0 } }\n`), [/points\[0\]\.type: must be bool for a coil \(1-bit\) address, got float32/]);
  t.match(problems(`${head}points:\n  - { name: p, type: bits, address: { table: holding, register: 0 } }\n`), [/points\[0\]\.address\.bit: is required for a bits point/]);
  t.match(problems(`${head}points:\n  - { name: p, type: int16, access: rw, address: { table: input, register: 0 } }\n`), [/points\[0\]\.access: must be r: input registers are read-only/]);
  t.match(problems(`${head}points:\n  - { name: p, type: string, address: { table: holding, register: 0 } }\n`), [/points\[0\]\.length: is required for a string point/]);
  t.match(problems(`${head}points:\n  - { name: p, type: int16, range: [10, 1], address: { table: holding, register: 0 } }\n`), [/points\[0\]\.range: must be \[min, max\] with min < max, got \[10, 1\]/]);
  t.match(
    problems(`${head}points:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\n  - { name: p, type: int16, address: { table: holding, register: 1 } }\n`),
    [/points\[1\]\.name: must be unique in the profile: "p" is also points\[0\]/],
  );
  t.match(problems(`${head}points:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\nalarms:\n  - { point: q, kind: high, limit: 1, severity: major }\n`), [/alarms\[0\]\.point: must name a point of this profile, got "q"/]);
  t.match(problems(`${head}modbus: { maxRegistersPerRead: 200 }\npoints:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\n`), [/modbus\.maxRegistersPerRead: must be an integer 1–125, got 200/]);
});

t.test('a valid profile has no problems', async (t) => {
  t.same(problems(`${head}points:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\n`), []);
});

t.test('an event on a point names a point of the profile', async (t) => {
  t.match(problems(`${head}points:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\nevents:\n  - { topic: "point:q", when: { value: 1 }, type: device.fault }\n`), [
    /events\[0\]\.topic: must name a point of this profile after "point:", got "point:q"/,
  ]);
  t.same(problems(`${head}points:\n  - { name: p, type: int16, address: { table: holding, register: 0 } }\nevents:\n  - { topic: "point:p", when: { value: 1 }, type: device.fault }\n`), []);
});
