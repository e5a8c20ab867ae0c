/**
 * `steward gateway --config site.yaml` and `steward profile validate FILE…`.
 */
import { copyFileSync, existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigInvalidError } from './core/config/load.js';
import { readYaml } from './core/config/yaml-file.js';
import { GatewayError } from './core/errors.js';
import { hashPassword } from './api/auth.js';
import { loadProfileFile, loadSiteConfig } from './config.js';
import { startGateway, type Gateway } from './main.js';

function fail(err: unknown): number {
  if (err instanceof GatewayError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** `steward gateway hash-password [--password P]`: the scrypt hash for a user's `passwordHash` in site.yaml (reads stdin without --password). */
async function hashPasswordCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { password: { type: 'string' } }, strict: true });
  let password = values.password;
  if (password === undefined) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  }
  if (password.length < 8) {
    process.stderr.write('steward gateway hash-password: the password must have at least 8 characters\n');
    return 1;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return 0;
}

export async function gatewayCommand(argv: string[]): Promise<number> {
  if (argv[0] === 'hash-password') return hashPasswordCommand(argv.slice(1));
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }));
  } catch (err) {
    return fail(err);
  }
  if (values.help === true || values.config === undefined) {
    process.stdout.write(
      'Usage: steward gateway --config site.yaml [--port N]\n       steward gateway hash-password [--password P]   (or the password on stdin)\n\nRuns the gateway of one community. See docs/configuration.md and docs/gateway-api.md.\n',
    );
    return values.help === true ? 0 : 1;
  }
  const file = values.config;
  let port: number | undefined;
  let gateway: Gateway;
  // A desired site config from the cloud, once installed over the file, takes effect by a
  // restart in this process (site-install.ts): the gateway closed, then started on the new
  // file — or, should that fail, on the previous one again (site.yaml.previous put back).
  let restarting: Promise<void> | undefined;
  const start = (): Promise<Gateway> => startGateway(loadSiteConfig(file), { ...(port === undefined ? {} : { httpPort: port }), siteFile: file, restart });
  function restart(reason: string): void {
    restarting ??= (async () => {
      process.stdout.write(`steward gateway: restarting on ${file} (${reason})\n`);
      await gateway.close();
      try {
        gateway = await start();
      } catch (err) {
        process.stderr.write(`steward gateway: the new configuration did not start (${err instanceof Error ? err.message : String(err)}); back to the previous one\n`);
        if (existsSync(`${file}.previous`)) copyFileSync(`${file}.previous`, file);
        gateway = await start();
      }
      process.stdout.write(`steward gateway: site ${gateway.config.site.id}, ${gateway.config.devices.length} devices, API ${gateway.url}\n`);
    })()
      .catch((err: unknown) => {
        process.stderr.write(`steward gateway: cannot start again (${err instanceof Error ? err.message : String(err)})\n`);
        process.exit(1);
      })
      .finally(() => (restarting = undefined));
  }
  try {
    port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new Error(`--port must be an integer 0–65535, got "${values.port}"`);
    gateway = await start();
  } catch (err) {
    return fail(err);
  }
  process.stdout.write(`steward gateway: site ${gateway.config.site.id}, ${gateway.config.devices.length} devices, API ${gateway.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await restarting?.catch(() => undefined);
  await gateway.close();
  return 0;
}

/** A site config has `site:` or `devices:` at the top; anything else is taken as a profile. */
function isSiteConfig(file: string): boolean {
  try {
    const { data } = readYaml(file);
    return typeof data === 'object' && data !== null && ('site' in data || 'devices' in data);
  } catch {
    return false;
  }
}

export async function profileCommand(argv: string[]): Promise<number> {
  const [sub, ...files] = argv;
  if (sub !== 'validate' || files.length === 0) {
    process.stdout.write('Usage: steward profile validate FILE…\n\nChecks device profiles (and site configs) and lists every problem. Exit 0 when all are valid, 1 otherwise.\n');
    return sub === 'validate' || sub === undefined ? 1 : sub === '--help' || sub === '-h' ? 0 : 1;
  }
  let bad = 0;
  for (const file of files) {
    try {
      if (isSiteConfig(file)) {
        const site = loadSiteConfig(file, undefined, false);
        process.stdout.write(`ok  ${file} (site ${site.site.id}, ${site.devices.length} devices)\n`);
      } else {
        const profile = loadProfileFile(file);
        process.stdout.write(`ok  ${file} (${profile.id}, ${profile.points.length} points)\n`);
      }
    } catch (err) {
      bad++;
      if (err instanceof ConfigInvalidError) for (const line of err.details.issues as string[]) process.stderr.write(`${line}\n`);
      else fail(err);
    }
  }
  if (bad > 0) process.stderr.write(`${bad} of ${files.length} file${files.length === 1 ? '' : 's'} invalid\n`);
  return bad > 0 ? 1 : 0;
}
