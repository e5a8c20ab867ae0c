/**
 * Logins of the gateway's API: users and roles from site.yaml, passwords as scrypt
 * hashes (memory-hard, RFC 7914) or from env/file, and stateless session tokens signed
 * with HMAC-SHA256 under a key kept in the data folder (so sessions survive a restart of
 * the gateway, and one key rotation — deleting the file — ends them all).
 */
import { createHmac, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { UserConfig } from '../core/config/load.js';
import { GatewayError } from '../core/errors.js';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;

export type Role = UserConfig['role'];
const RANK: Record<Role, number> = { viewer: 0, operator: 1, technician: 2, admin: 3 };

/** True when `role` may do what `needed` may. */
export function allows(role: Role, needed: Role): boolean {
  return RANK[role] >= RANK[needed];
}

/** OWASP's scrypt floor (N=2^17 costs ~128 MiB); 2^15 keeps a login under ~100 ms on a small gateway. */
const N = 2 ** 15;
const R = 8;
const P = 1;
const MAXMEM = 128 * N * R * 2;

/** `scrypt$N$r$p$salt$hash`, both base64url. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, { N, r: R, p: P, maxmem: MAXMEM });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(user: UserConfig, password: string): Promise<boolean> {
  if (user.passwordHash !== undefined) {
    const [, n, r, p, salt, hash] = user.passwordHash.split('$');
    if (n === undefined || r === undefined || p === undefined || salt === undefined || hash === undefined) return false;
    const expected = Buffer.from(hash, 'base64url');
    const got = await scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 128 * Number(n) * Number(r) * 2 });
    return timingSafeEqual(got, expected);
  }
  if (user.password === undefined) return false;
  const a = createHmac('sha256', 'cmp').update(password).digest();
  const b = createHmac('sha256', 'cmp').update(user.password).digest();
  return timingSafeEqual(a, b);
}

/** The signing key of session tokens: `<dataDir>/session-key`, created (mode 0600) if missing. */
export function loadSessionKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'session-key');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('base64url')}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return key;
}

export interface Session {
  readonly name: string;
  readonly role: Role;
  /** ms epoch. */
  readonly exp: number;
}

export class Sessions {
  constructor(
    private readonly key: Buffer,
    /** How long a login lasts, ms. */
    readonly ttlMs = 12 * 3600_000,
  ) {}

  issue(name: string, role: Role, now = Date.now()): { token: string; expiresAt: number } {
    const payload = Buffer.from(JSON.stringify({ name, role, exp: now + this.ttlMs } satisfies Session)).toString('base64url');
    return { token: `sgw_${payload}.${this.sign(payload)}`, expiresAt: now + this.ttlMs };
  }

  /** The session of a token; throws GW_ERR_AUTH_INVALID for a forged or expired one. */
  verify(token: string, now = Date.now()): Session {
    const m = /^sgw_([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token);
    if (m === null) throw new GatewayError('GW_ERR_AUTH_INVALID', 'not a gateway session token');
    const [, payload, sig] = m as unknown as [string, string, string];
    const expected = Buffer.from(this.sign(payload), 'base64url');
    const got = Buffer.from(sig, 'base64url');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) throw new GatewayError('GW_ERR_AUTH_INVALID', 'the session token is not valid for this gateway');
    const session = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Session;
    if (session.exp <= now) throw new GatewayError('GW_ERR_AUTH_INVALID', 'the session has expired: log in again');
    return session;
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}

/** Failed logins per address, to slow down guessing (5 per minute). */
export class LoginThrottle {
  private readonly failures = new Map<string, number[]>();
  constructor(
    private readonly max = 5,
    private readonly windowMs = 60_000,
  ) {}

  /** Seconds to wait before another attempt from `ip`, 0 when it may try now. */
  retryAfterS(ip: string, now = Date.now()): number {
    const recent = (this.failures.get(ip) ?? []).filter((t) => now - t < this.windowMs);
    this.failures.set(ip, recent);
    return recent.length >= this.max ? Math.ceil((recent[0]! + this.windowMs - now) / 1000) : 0;
  }

  fail(ip: string, now = Date.now()): void {
    const list = this.failures.get(ip) ?? [];
    list.push(now);
    this.failures.set(ip, list);
    if (this.failures.size > 10_000) this.failures.clear();
  }
}
