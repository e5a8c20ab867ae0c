/**
 * What Node-RED is told at each start: `<userDir>/steward-node-red.json` (mode 0600), read
 * by flows/runtime/settings.cjs — the editor's listener, the users allowed into the editor
 * with their permissions and scrypt hashes (never a password), the credential secret of
 * the flows' credentials, and the folder of Steward's nodes.
 *
 * The gateway's users (site.yaml `users:`): technician and admin may deploy
 * (permissions `*`), operator and viewer may look (`read`). A user whose password comes
 * from passwordEnv / passwordFile is hashed here with a fresh salt, so that Node-RED
 * never holds a password.
 */
import { randomBytes, scrypt as scryptCb } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { UserConfig } from '../core/config/load.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

/** The gateway's scrypt parameters (api/auth.ts): the same hash format, checked by settings.cjs. */
const N = 2 ** 15;
const R = 8;

async function hash(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { N, r: R, p: 1, maxmem: 128 * N * R * 2 });
  return `scrypt$${N}$${R}$1$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export interface EditorUser {
  readonly username: string;
  /** `*` deploys, `read` looks. */
  readonly permissions: '*' | 'read';
  readonly hash: string;
}

/** The editor's users from the gateway's: deploy rights for technician and admin. */
export async function editorUsers(users: readonly UserConfig[]): Promise<EditorUser[]> {
  const out: EditorUser[] = [];
  for (const u of users) {
    const h = u.passwordHash ?? (u.password === undefined ? undefined : await hash(u.password));
    if (h === undefined) continue;
    out.push({ username: u.name, permissions: u.role === 'technician' || u.role === 'admin' ? '*' : 'read', hash: h });
  }
  return out;
}

/** A secret kept in a file of the data folder (mode 0600), made on first use. */
export function fileSecret(file: string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}

export interface NodeRedConfigFile {
  readonly host: string;
  readonly port: number;
  readonly siteId: string;
  readonly siteName: string;
  readonly credentialSecret: string;
  readonly nodesDir: string;
  readonly heartbeatMs: number;
  readonly users: readonly EditorUser[];
}

/** Writes `<userDir>/steward-node-red.json` (0600) and returns its path. */
export function writeNodeRedConfig(userDir: string, config: NodeRedConfigFile): string {
  mkdirSync(userDir, { recursive: true });
  const file = path.join(userDir, 'steward-node-red.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
