/**
 * `steward cloud …`: run the cloud, register gateways, create logins. Errors print one
 * line on stderr and exit 1. Output meant for scripts (a token, a generated password) is
 * the last line of stdout.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { addGateway, addUser } from './admin.js';
import { openCloudDatabase } from './db/open.js';
import { CloudError, isCloudError } from './plugins/errors.js';
import { DEFAULT_HOST, DEFAULT_PORT, startCloud } from './server.js';
import { ROLES, type Role } from './users/users.js';

/** The SQLite file used when neither --database nor DATABASE_URL is given. */
export const DEFAULT_DATABASE = './cloud-data/cloud.db';

const USAGE = `Usage:
  steward cloud [--host ${DEFAULT_HOST}] [--port ${DEFAULT_PORT}] [--database FILE|postgres://…] [--log-level warn]
      run the cloud until SIGINT/SIGTERM
  steward cloud gateway add --site ID --gateway ID [--site-name NAME] [--database …]
      register a gateway; prints its one-time enrolment token (valid 7 days) as the last line
  steward cloud user add --name NAME [--password P] [--role ${ROLES.join('|')}] [--sites A,B] [--regions R] [--database …]
      create a login (default role viewer, scoped to --sites/--regions; admin sees every site);
      without --password one is generated and printed as the last line

The database is --database, else $DATABASE_URL, else ${DEFAULT_DATABASE} (SQLite).
A PostgreSQL URL may end in ?schema=NAME to keep the cloud's tables in their own schema.
`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Where the command writes; tests pass their own. */
export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function databaseOption(value: string | undefined): string {
  return value ?? process.env['DATABASE_URL'] ?? DEFAULT_DATABASE;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new CloudError('CS_ERR_CONFIG_INVALID', `--${name} is required\n\n${USAGE}`);
  return value;
}

function portOption(value: string | undefined): number {
  if (value === undefined) return DEFAULT_PORT;
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) throw new CloudError('CS_ERR_CONFIG_INVALID', `--port "${value}" must be a whole number from 0 to 65535`);
  return port;
}

async function serve(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      database: { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const level = values['log-level'] ?? 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', `--log-level "${level}" must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const cloud = await startCloud({
    host: values.host ?? DEFAULT_HOST,
    port: portOption(values.port),
    database: databaseOption(values.database),
    logger: { level },
  });
  io.stdout.write(`steward cloud listening on ${cloud.url} (database: ${cloud.app.stewardDb.location})\n`);
  io.stdout.write(`  API docs: ${cloud.url}/docs   health: ${cloud.url}/healthz   metrics: ${cloud.url}/metrics\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    const stop = (s: NodeJS.Signals): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(s);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.stdout.write(`steward cloud: ${signal}, closing\n`);
  await cloud.close();
  return 0;
}

async function gatewayAdd(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { site: { type: 'string' }, gateway: { type: 'string' }, 'site-name': { type: 'string' }, database: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const site = required(values.site, 'site');
  const gateway = required(values.gateway, 'gateway');
  const cdb = await openCloudDatabase(databaseOption(values.database));
  try {
    const token = await addGateway(cdb, { site, gateway, ...(values['site-name'] === undefined ? {} : { siteName: values['site-name'] }) });
    io.stdout.write(`Gateway "${gateway}" of site "${site}" registered in ${cdb.location}.\n`);
    io.stdout.write(`One-time enrolment token (valid 7 days) for site.yaml's cloud.enrolmentToken:\n`);
    io.stdout.write(`${token}\n`);
  } finally {
    await cdb.close();
  }
  return 0;
}

async function userAdd(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { name: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' }, sites: { type: 'string' }, regions: { type: 'string' }, database: { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const name = required(values.name, 'name');
  const role = values.role ?? 'viewer';
  if (!(ROLES as readonly string[]).includes(role)) throw new CloudError('CS_ERR_CONFIG_INVALID', `--role "${role}" must be one of ${ROLES.join(', ')}`);
  const generated = values.password === undefined;
  const password = values.password ?? randomBytes(18).toString('base64url');
  const cdb = await openCloudDatabase(databaseOption(values.database));
  try {
    const list = (v: string | undefined): string[] => (v ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
    await addUser(cdb, { name, password, role: role as Role, sites: list(values.sites), regions: list(values.regions) });
    io.stdout.write(`User "${name}" (${role}) created in ${cdb.location}.\n`);
    if (generated) io.stdout.write(`Generated password (shown once):\n${password}\n`);
  } finally {
    await cdb.close();
  }
  return 0;
}

function isParseArgsError(err: unknown): err is Error & { code: string } {
  const code: unknown = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** `steward cloud …` — returns the exit code. */
export async function cloudCommand(argv: string[], io: CommandIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [first, second, ...rest] = argv;
  try {
    if (first === 'help' || first === '--help' || first === '-h') {
      io.stdout.write(USAGE);
      return 0;
    }
    if (first === 'gateway' || first === 'user') {
      if (second !== 'add') throw new CloudError('CS_ERR_CONFIG_INVALID', `unknown command "steward cloud ${first} ${second ?? ''}"\n\n${USAGE}`);
      return first === 'gateway' ? await gatewayAdd(rest, io) : await userAdd(rest, io);
    }
    if (first !== undefined && !first.startsWith('-')) throw new CloudError('CS_ERR_CONFIG_INVALID', `unknown command "steward cloud ${first}"\n\n${USAGE}`);
    return await serve(argv, io);
  } catch (err) {
    if (isCloudError(err)) io.stderr.write(`steward cloud: ${err.code}: ${err.message}\n`);
    else if (isParseArgsError(err)) io.stderr.write(`steward cloud: ${err.message}\n\n${USAGE}`);
    else io.stderr.write(`steward cloud: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
