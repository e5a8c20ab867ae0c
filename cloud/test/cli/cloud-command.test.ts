/**
 * `steward cloud …` as a user runs it: the real bin in a child process for what prints on
 * stdout or serves; `cloudCommand` in-process for the refusals (stderr and exit code).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cloudCommand } from '../../src/cli.js';

const bin = fileURLToPath(new URL('../../../bin/steward.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'steward-cloud-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const database = join(dir, 'cloud.db');

function steward(...args: string[]) {
  const res = spawnSync(process.execPath, [bin, 'cloud', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, DATABASE_URL: '' } });
  return { code: res.status, stdout: res.stdout, stderr: res.stderr, last: res.stdout.trimEnd().split('\n').pop() ?? '' };
}

/** Runs cloudCommand in-process, capturing stderr (tap reports on stdout, so stderr is free to borrow). */
async function refused(...args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await cloudCommand(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

t.test('gateway add prints the token as the last line; user add prints a generated password', async (t) => {
  const added = steward('gateway', 'add', '--site', 'sz-garden-01', '--gateway', 'gw-01', '--database', database);
  t.equal(added.code, 0, added.stderr);
  t.match(added.last, /^ste_[A-Za-z0-9_-]{43}$/);

  const user = steward('user', 'add', '--name', 'ops', '--role', 'admin', '--database', database);
  t.equal(user.code, 0, user.stderr);
  t.match(user.last, /^[A-Za-z0-9_-]{24}$/, 'a generated password, printed once');
});

t.test('refusals: one line on stderr, exit 1', async (t) => {
  const clash = await refused('gateway', 'add', '--site', 'other', '--gateway', 'gw-01', '--database', database);
  t.equal(clash.code, 1);
  t.match(clash.stderr, /CS_ERR_GATEWAY_EXISTS/);
  const taken = await refused('user', 'add', '--name', 'ops', '--password', 'long enough', '--database', database);
  t.equal(taken.code, 1);
  t.match(taken.stderr, /CS_ERR_USER_EXISTS/);
  const missing = await refused('gateway', 'add', '--site', 'x', '--database', database);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /--gateway is required/);
  const unknown = await refused('gateway', 'add', '--bogus');
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /Unknown option '--bogus'/);
  const badPort = await refused('--port', 'eighty', '--database', database);
  t.equal(badPort.code, 1);
  t.match(badPort.stderr, /--port "eighty"/);
  const badRole = await refused('user', 'add', '--name', 'x', '--role', 'god', '--database', database);
  t.equal(badRole.code, 1);
  t.match(badRole.stderr, /--role "god"/);
  const noDb = await refused('gateway', 'add', '--site', 's', '--gateway', 'g', '--database', 'postgres://nobody@127.0.0.1:1/none');
  t.equal(noDb.code, 1);
  t.match(noDb.stderr, /CS_ERR_DB_UNAVAILABLE/);
});

t.test('steward cloud serves until SIGTERM, then exits 0', async (t) => {
  const child = spawn(process.execPath, [bin, 'cloud', '--port', '0', '--database', database], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const health = await fetch(`${url}/healthz`);
  t.equal(health.status, 200);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'clean exit');
});
