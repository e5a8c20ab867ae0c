/**
 * `steward profile validate FILE…` exits 0 when every file is valid and 1 with every
 * error listed — the contract scripts rely on.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';

const run = promisify(execFile);
const bin = path.resolve('bin/steward.js');

async function steward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'steward-cli-'));
const bad = path.join(dir, 'bad.yaml');
writeFileSync(bad, 'id: test/bad\nname: Bad\nprotocol: modbus\npoints:\n  - { name: a, type: float33, address: { table: holding, register: 0 } }\n  - { name: b, type: int16, address: { table: holdings, register: 0 } }\n');

t.test('valid profiles and site configs: exit 0', async (t) => {
  const r = await steward('profile', 'validate', 'device-profiles/water/vfd-pump.yaml', 'examples/demo/site.yaml');
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /ok {2}device-profiles\/water\/vfd-pump\.yaml \(water\/vfd-pump, \d+ points\)/);
  t.match(r.stdout, /ok {2}examples\/demo\/site\.yaml \(site demo-garden, \d+ devices\)/);
});

t.test('an invalid profile: exit 1 with every error, the valid one still reported ok', async (t) => {
  const r = await steward('profile', 'validate', 'device-profiles/water/vfd-pump.yaml', bad);
  t.equal(r.code, 1);
  t.match(r.stdout, /ok {2}device-profiles\/water\/vfd-pump\.yaml/);
  t.match(r.stderr, /bad\.yaml: points\[0\]\.type: must be one of: .*got "float33" \(line 5\)/);
  t.match(r.stderr, /bad\.yaml: points\[1\]\.address\.table: must be one of: holding, input, coil, discrete, got "holdings" \(line 6\)/);
  t.match(r.stderr, /1 of 2 files invalid/);
});

t.test('a missing file: exit 1 naming it', async (t) => {
  const r = await steward('profile', 'validate', path.join(dir, 'missing.yaml'));
  t.equal(r.code, 1);
  t.match(r.stderr, /missing\.yaml: .*cannot read: no such file/);
});

t.test('no file: usage and exit 1; an unknown command: exit 1', async (t) => {
  t.equal((await steward('profile', 'validate')).code, 1);
  const r = await steward('frobnicate');
  t.equal(r.code, 1);
  t.match(r.stderr, /unknown command "frobnicate"/);
});
