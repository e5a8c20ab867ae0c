/**
 * The Modbus driver against a real third-party server: pymodbus 3.0 (Debian's
 * python3-pymodbus, installed by `.ci/run`), run with /usr/bin/python3 — a pyenv python
 * earlier on PATH cannot see Debian's modules (DEPENDENCIES.md). Not skipped when
 * pymodbus is missing: the test fails and says how to install it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadProfileFile } from '../../src/config.js';
import type { PointSpec } from '../../src/core/config/profile.js';
import { createModbusDriver } from '../../src/drivers/modbus/driver.js';
import { deviceConfig, readAll, silentLog } from './modbus-fixture.js';

const PYTHON = '/usr/bin/python3';
const SERVER = fileURLToPath(new URL('../fixtures/pymodbus-server.py', import.meta.url));
const profile = loadProfileFile(fileURLToPath(new URL('../fixtures/pymodbus-device.yaml', import.meta.url)));
const point = (name: string): PointSpec => profile.points.find((p) => p.name === name)!;

function pymodbusVersion(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import pymodbus; print(pymodbus.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Starts the server on a free port; resolves with the port once it prints READY. */
function startPymodbus(): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SERVER, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`pymodbus server did not print READY within 10 s; stderr: ${err}`));
    }, 10_000);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const m = /READY (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pymodbus server exited with ${code}; stderr: ${err}`));
    });
  });
}

t.test('reads and writes a pymodbus 3.0 server', async (t) => {
  const version = pymodbusVersion();
  if (version === undefined) {
    t.fail(`${PYTHON} cannot import pymodbus: install Debian's python3-pymodbus (apt-get install python3-pymodbus), as .ci/run does`);
    return;
  }
  t.comment(`pymodbus ${version}`);
  const { child, port } = await startPymodbus();
  const driver = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs: 2000 }), silentLog);
  t.teardown(async () => {
    await driver.close();
    child.kill('SIGTERM');
  });
  await driver.connect();

  const values = await readAll(driver, profile.points);
  t.equal(values.get('temperature'), 23.5, 'float32 23.5 (0x41BC 0x0000)');
  t.equal(values.get('offset_int'), -1234, 'int16');
  t.equal(values.get('counter'), 3_000_000_000, 'uint32');
  t.equal(values.get('energy'), -12345.678, 'float64');
  t.equal(values.get('tag'), 'STEWARD', 'string, NUL-trimmed');
  t.equal(values.get('swapped'), -7.25, 'float32, little word order');
  t.equal(values.get('big_negative'), -9_007_199_254_740_991, 'int64');
  t.equal(values.get('setpoint'), 0);
  t.equal(values.get('flow'), 101.5, 'input register float32');
  t.equal(values.get('level'), 42, 'input register uint16');
  t.same(['coil_0', 'coil_1', 'coil_2', 'coil_3'].map((n) => values.get(n)), [true, false, true, true], 'coils');
  t.same(['input_0', 'input_1', 'input_2'].map((n) => values.get(n)), [false, true, true], 'discrete inputs');

  await driver.write(point('setpoint'), 4321);
  await driver.write(point('wide_setpoint'), -0.375);
  await driver.write(point('coil_1'), true);
  await driver.write(point('coil_0'), false);
  const after = await readAll(driver, profile.points);
  t.equal(after.get('setpoint'), 4321, 'FC6 write read back');
  t.equal(after.get('wide_setpoint'), -0.375, 'FC16 write read back');
  t.equal(after.get('coil_1'), true, 'FC5 on read back');
  t.equal(after.get('coil_0'), false, 'FC5 off read back');
  t.equal(after.get('temperature'), 23.5, 'neighbours untouched');

  // pymodbus answers a read past its 100 registers with exception 2.
  const far = { ...point('setpoint'), address: { table: 'holding', register: 150 } };
  const at = driver.locate(far);
  await t.rejects(driver.read({ space: at.space, start: at.start, count: 1, points: [{ spec: far, at }] }), { code: 'GW_ERR_MODBUS_EXCEPTION', message: /exception 2 \(illegal data address\)/ });
  t.ok(driver.isConnected());
});
