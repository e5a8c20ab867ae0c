/**
 * Cloud logins: users with a scrypt-hashed password, and short-lived login tokens
 * (sessions) kept only as SHA-256 hashes.
 */
import { uuidv7 } from '../../../protocol/uuid.js';
import { hashToken, newToken } from '../crypto/tokens.js';
import type { CloudDatabase } from '../db/open.js';
import { CloudError } from '../plugins/errors.js';
import { dummyPasswordHash, hashPassword, verifyPassword } from './passwords.js';

import { ROLES, isRole, type Role } from '../access/policy.js';
import type { Kysely } from 'kysely';
import type { CloudSchema } from '../db/schema.js';

export { ROLES, type Role } from '../access/policy.js';

/** Letters, digits and `._@-`, 1–64 characters: safe in logs, URLs and every database. */
export const USER_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
const USER_NAME = new RegExp(USER_NAME_PATTERN);

/** Login tokens live 12 hours: a working day, then log in again. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

/** Shortest password `addUser` accepts (NIST SP 800-63B §5.1.1.2: at least 8). */
export const MIN_PASSWORD_LENGTH = 8;

export interface NewUser {
  name: string;
  password: string;
  role?: Role;
  /** Sites the user sees (every role but admin); regions add all their sites. */
  sites?: readonly string[];
  regions?: readonly string[];
}

export interface SessionUser {
  id: string;
  name: string;
  role: Role;
}

/** Creates a user. Throws CS_ERR_CONFIG_INVALID for a bad name, role or short password, CS_ERR_USER_EXISTS for a taken name. */
export async function createUser(cdb: CloudDatabase, user: NewUser): Promise<void> {
  const role = user.role ?? 'viewer';
  if (!USER_NAME.test(user.name)) throw new CloudError('CS_ERR_CONFIG_INVALID', `user name "${user.name}" must match ${USER_NAME_PATTERN}`);
  if (!isRole(role)) throw new CloudError('CS_ERR_CONFIG_INVALID', `role "${String(role)}" must be one of ${ROLES.join(', ')}`);
  if (user.password.length < MIN_PASSWORD_LENGTH) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const passwordHash = await hashPassword(user.password);
  await cdb.db.transaction().execute(async (trx) => {
    const taken = await trx.selectFrom('users').select('id').where('name', '=', user.name).executeTakeFirst();
    if (taken !== undefined) throw new CloudError('CS_ERR_USER_EXISTS', `a user named "${user.name}" already exists`);
    const id = uuidv7();
    await trx.insertInto('users').values({ id, name: user.name, password_hash: passwordHash, role, created_at: Date.now() }).execute();
    const scopes = [...new Set(user.sites ?? [])].map((s) => ({ user_id: id, scope_kind: 'site' as 'site' | 'region', scope_id: s }));
    scopes.push(...[...new Set(user.regions ?? [])].map((r) => ({ user_id: id, scope_kind: 'region' as const, scope_id: r })));
    if (scopes.length > 0) await trx.insertInto('user_scopes').values(scopes).execute();
  });
}

/** Checks a name and password and opens a session. Throws CS_ERR_LOGIN_FAILED without saying which was wrong. */
export async function login(cdb: CloudDatabase, name: string, password: string, now = Date.now()): Promise<{ token: string; expiresAt: number }> {
  const user = await cdb.db.selectFrom('users').select(['id', 'password_hash']).where('name', '=', name).executeTakeFirst();
  const ok = await verifyPassword(password, user?.password_hash ?? (await dummyPasswordHash()));
  if (user === undefined || !ok) throw new CloudError('CS_ERR_LOGIN_FAILED', 'wrong user name or password');
  const token = newToken('user');
  const expiresAt = now + SESSION_TTL_MS;
  await cdb.db.transaction().execute(async (trx) => {
    // Housekeeping on the login path: expired sessions are useless, and logins are rare.
    await trx.deleteFrom('sessions').where('expires_at', '<=', now).execute();
    await trx.insertInto('sessions').values({ token_hash: hashToken(token), user_id: user.id, created_at: now, expires_at: expiresAt }).execute();
  });
  return { token, expiresAt };
}

/**
 * The user of a live login token, or null. Looked up by the token's SHA-256: an attacker
 * cannot steer the hash, so the lookup's timing reveals nothing about valid tokens.
 */
export async function userOfToken(cdb: CloudDatabase, token: string, now = Date.now()): Promise<SessionUser | null> {
  const row = await cdb.db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['users.id', 'users.name', 'users.role'])
    .where('sessions.token_hash', '=', hashToken(token))
    .where('sessions.expires_at', '>', now)
    .executeTakeFirst();
  if (row === undefined || !isRole(row.role)) return null;
  return { id: row.id, name: row.name, role: row.role };
}

/** The sites a (non-admin) user sees: its sites plus every site of its regions, sorted. */
export async function sitesOfUser(db: Pick<Kysely<CloudSchema>, 'selectFrom'>, userId: string): Promise<string[]> {
  return (await sitesOfUsers(db, 'id', [userId])).get(userId) ?? [];
}

/**
 * For users by `id` or `name`: the sites their scopes reach (their sites plus every site of
 * their regions), sorted. A user without any scope is absent from the map.
 */
export async function sitesOfUsers(db: Pick<Kysely<CloudSchema>, 'selectFrom'>, by: 'id' | 'name', keys: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, Set<string>>();
  if (keys.length === 0) return new Map();
  const scopes = await db
    .selectFrom('user_scopes')
    .innerJoin('users', 'users.id', 'user_scopes.user_id')
    .select([`users.${by} as key`, 'user_scopes.scope_kind', 'user_scopes.scope_id'])
    .where(`users.${by}`, 'in', [...keys])
    .execute();
  const regions = [...new Set(scopes.filter((s) => s.scope_kind === 'region').map((s) => s.scope_id))];
  const sitesOfRegion = new Map<string, string[]>();
  if (regions.length > 0) {
    for (const r of await db.selectFrom('sites').select(['id', 'region_id']).where('region_id', 'in', regions).execute()) {
      if (r.region_id !== null) sitesOfRegion.set(r.region_id, [...(sitesOfRegion.get(r.region_id) ?? []), r.id]);
    }
  }
  for (const s of scopes) {
    const set = out.get(s.key) ?? new Set<string>();
    for (const site of s.scope_kind === 'site' ? [s.scope_id] : (sitesOfRegion.get(s.scope_id) ?? [])) set.add(site);
    out.set(s.key, set);
  }
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}
