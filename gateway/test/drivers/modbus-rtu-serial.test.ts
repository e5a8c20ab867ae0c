/**
 * `modbus-rtu` (a serial port) without hardware: socat makes a pseudo-terminal whose other
 * end is a TCP connection to the simulator's server in RTU framing, so the driver's serial
 * path (serialport + modbus-serial's RTUBufferedPort) talks RTU frames end to end. Two
 * units on one "bus" share the port, as on RS-485.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createModbusDriver } from '../../src/drivers/modbus/driver.js';
import { banksFor, DeviceIo } from '../../../scripts/sim/device-io.js';
import { startModbusServer } from '../../../scripts/sim/modbus-server.js';
import { deviceConfig, loadAllTypes, readAll, silentLog } from './modbus-fixture.js';

const socat = spawnSync('socat', ['-V'], { encoding: 'utf8' });

t.test('reads and writes over a serial port (pty bridged to the simulator by socat)', { skip: socat.status === 0 ? false : 'socat is not installed (apt-get install socat)' }, async (t) => {
  const profile = loadAllTypes();
  const banks = new Map([
    [1, banksFor(profile, 1).get(1)!],
    [2, banksFor(profile, 1).get(1)!],
  ]);
  const io1 = new DeviceIo(profile, 1, (u) => banks.get(u)!);
  const io2 = new DeviceIo(profile, 2, (u) => banks.get(u)!);
  io1.set('h_float32_cdab', 23.5);
  io1.set('h_string', 'UNIT-1');
  io2.set('h_string', 'UNIT-2');
  io1.set('c_run', true);
  const server = await startModbusServer({ units: banks, framing: 'rtu' });
  t.teardown(() => server.close());

  const tty = path.join(t.testdir({}), 'ttySIM');
  const bridge = spawn('socat', [`pty,raw,echo=0,link=${tty}`, `tcp:127.0.0.1:${server.port}`], { stdio: 'ignore' });
  t.teardown(() => bridge.kill('SIGTERM'));
  for (let i = 0; i < 100 && !existsSync(tty); i++) await new Promise((r) => setTimeout(r, 20));
  t.ok(existsSync(tty), 'pty ready');

  const serial = { protocol: 'modbus-rtu', path: tty, baudRate: 19200, parity: 'even', dataBits: 8, stopBits: 1, timeoutMs: 1000 };
  const d1 = createModbusDriver(deviceConfig(profile, { ...serial, unitId: 1 }, 'unit-1'), silentLog);
  const d2 = createModbusDriver(deviceConfig(profile, { ...serial, unitId: 2 }, 'unit-2'), silentLog);
  t.teardown(async () => {
    await d1.close();
    await d2.close();
  });
  t.equal(d1.linkKey, `rtu://${tty}`);
  await d1.connect();
  await d2.connect();
  const v1 = await readAll(d1, profile.points);
  const v2 = await readAll(d2, profile.points);
  t.equal(v1.get('h_float32_cdab'), 23.5);
  t.equal(v1.get('h_string'), 'UNIT-1');
  t.equal(v2.get('h_string'), 'UNIT-2', 'the second unit on the same port');
  t.equal(v1.get('c_run'), true);
  await d2.write(profile.points.find((p) => p.name === 'h_float64_dcba')!, 6.5);
  t.equal(io2.get('h_float64_dcba'), 6.5);
  t.equal(io1.get('h_float64_dcba'), 0, 'unit 1 untouched');
  await d1.close();
  t.ok(d2.isConnected(), 'the port stays open for the other unit');
});
