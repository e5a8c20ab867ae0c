/**
 * `steward cloud …`: `cloudCommand` in-process with captured output for the admin
 * commands and refusals, and the real bin in a child process for serving until SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { cloudCommand } from '../../src/cli.js';
import { openCloudDatabase } from '../../src/index.js';

const bin = fileURLToPath(new URL('../../../bin/steward.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'steward-cloud-cli-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const database = join(dir, 'cloud.db');

async function steward(...args: string[]): Promise<{ code: number; stdout: string; stderr: string; last: string }> {
  let stdout = '';
  let stderr = '';
  const code = await cloudCommand(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr, last: stdout.trimEnd().split('\n').pop() ?? '' };
}

t.test('gateway add prints the token as the last line; user add prints a generated password', async (t) => {
  const added = await steward('gateway', 'add', '--site', 'sz-garden-01', '--gateway', 'gw-01', '--site-name', '深圳某花园', '--database', database);
  t.equal(added.code, 0, added.stderr);
  t.match(added.last, /^ste_[A-Za-z0-9_-]{43}$/);

  const user = await steward('user', 'add', '--name', 'ops', '--role', 'admin', '--database', database);
  t.equal(user.code, 0, user.stderr);
  t.match(user.last, /^[A-Za-z0-9_-]{24}$/, 'a generated password, printed once');
  const withPassword = await steward('user', 'add', '--name', 'viewer1', '--password', 'correct horse battery', '--database', database);
  t.equal(withPassword.code, 0);
  t.notMatch(withPassword.stdout, /correct horse battery/, 'a given password is not echoed');

  const cdb = await openCloudDatabase(database);
  t.teardown(() => cdb.close());
  t.same(await cdb.db.selectFrom('users').select(['name', 'role']).orderBy('name').execute(), [
    { name: 'ops', role: 'admin' },
    { name: 'viewer1', role: 'viewer' },
  ]);
  t.same(await cdb.db.selectFrom('sites').select(['id', 'name']).execute(), [{ id: 'sz-garden-01', name: '深圳某花园' }]);
});

t.test('DATABASE_URL is used when --database is not given', async (t) => {
  const other = join(dir, 'from-env.db');
  const saved = process.env['DATABASE_URL'];
  process.env['DATABASE_URL'] = other;
  t.teardown(() => {
    if (saved === undefined) delete process.env['DATABASE_URL'];
    else process.env['DATABASE_URL'] = saved;
  });
  const added = await steward('gateway', 'add', '--site', 's1', '--gateway', 'gw-env');
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, other);
});

t.test('refusals: one line on stderr, exit 1', async (t) => {
  const cases: [string[], RegExp][] = [
    [['gateway', 'add', '--site', 'other', '--gateway', 'gw-01', '--database', database], /CS_ERR_GATEWAY_EXISTS/],
    [['user', 'add', '--name', 'ops', '--password', 'long enough', '--database', database], /CS_ERR_USER_EXISTS/],
    [['user', 'add', '--name', 'x', '--password', 'short', '--database', database], /at least 8 characters/],
    [['gateway', 'add', '--site', 'x', '--database', database], /--gateway is required/],
    [['gateway', 'add', '--bogus'], /Unknown option '--bogus'/],
    [['gateway', 'remove'], /unknown command/],
    [['--port', 'eighty', '--database', database], /--port "eighty"/],
    [['--log-level', 'loud', '--database', database], /--log-level "loud"/],
    [['user', 'add', '--name', 'x', '--role', 'god', '--database', database], /--role "god"/],
    [['gateway', 'add', '--site', 's', '--gateway', 'g', '--database', 'postgres://nobody@127.0.0.1:1/none'], /CS_ERR_DB_UNAVAILABLE/],
  ];
  for (const [args, message] of cases) {
    const res = await steward(...args);
    t.equal(res.code, 1, args.join(' '));
    t.match(res.stderr, message, args.join(' '));
  }
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
