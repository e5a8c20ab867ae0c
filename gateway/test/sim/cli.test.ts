/**
 * `steward sim`: prints one line per simulated device, serves until SIGINT and exits 0;
 * a broken config or command line is a message on stderr and exit 1.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { simCommand } from '../../../scripts/sim/cli.js';
import { freePort } from '../../../test/support/ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Runs simCommand in-process, capturing stderr. */
async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await simCommand(argv, { signal: AbortSignal.abort() });
    return { code, stderr };
  } finally {
    process.stderr.write = write;
  }
}


t.test('usage errors exit 1 with a message', async (t) => {
  const none = await run([]);
  t.equal(none.code, 1);
  t.match(none.stderr, /--config is required[\s\S]*Usage: steward sim/);
  const bad = await run(['--config', 'x.yaml', '--seed', 'abc']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /--seed must be an integer/);
  const unknown = await run(['--frobnicate']);
  t.equal(unknown.code, 1);
});

t.test('config errors exit 1 naming the file and the problem', async (t) => {
  const dir = t.testdir({
    'bad.yaml': 'site: { id: s, name: S }\ndevices:\n  - { id: p1, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 99999 } }\n',
  });
  const missing = await run(['--config', path.join(dir, 'missing.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /missing\.yaml/);
  const bad = await run(['--config', path.join(dir, 'bad.yaml')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /bad\.yaml.*port/);
});

t.test('`steward sim --config site.yaml` prints the devices, serves them, exits 0 on SIGINT', async (t) => {
  const port = await freePort();
  const dir = t.testdir({
    'site.yaml': `site: { id: s, name: S }\ndevices:\n  - { id: pump-1, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }\n`,
  });
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/steward.js'), 'sim', '--config', path.join(dir, 'site.yaml'), '--seed', '3'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no device line within 20 s; stderr: ${err}`)), 20_000);
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  t.equal(out, `pump-1  modbus-tcp 127.0.0.1:${port}  water/vfd-pump\n`);

  // It serves: read the setpoint register (holding 20, FC3) with a raw request.
  const answer = await new Promise<Buffer>((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(Buffer.from('000100000006010300140001', 'hex')));
    s.once('data', (d: Buffer) => {
      s.destroy();
      resolve(d);
    });
    s.on('error', reject);
  });
  t.equal(answer.readUInt16BE(9), 450, 'pressure_setpoint 4.50 bar');

  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  t.equal(await exit, 0);
  t.equal(err, '');
});
