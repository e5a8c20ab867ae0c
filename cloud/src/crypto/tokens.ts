/**
 * Random tokens and their stored form. Every credential the cloud issues (enrolment token,
 * gateway secret, login token) is 32 random bytes, shown once, and kept only as a SHA-256
 * hash. A prefix says what a token is, so a leaked one is recognisable in logs and by
 * secret scanners (the practice of GitHub's `ghp_` tokens).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = {
  /** One-time enrolment token, for site.yaml's `cloud.enrolmentToken`. */
  enrolment: 'ste_',
  /** A gateway's long-lived secret. */
  gateway: 'stg_',
  /** A person's login token. */
  user: 'stu_',
} as const;

export type TokenKind = keyof typeof TOKEN_PREFIX;

/** 32 random bytes (256 bits), base64url, with the kind's prefix. */
export function newToken(kind: TokenKind): string {
  return TOKEN_PREFIX[kind] + randomBytes(32).toString('base64url');
}

/** The stored form of a token: SHA-256, hex. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Does `token` hash to `storedHash`? Compared in constant time, so the time taken says
 * nothing about how much of the hash matched.
 */
export function tokenMatches(token: string, storedHash: string | null | undefined): boolean {
  if (storedHash === null || storedHash === undefined || storedHash.length !== 64) return false;
  const presented = Buffer.from(hashToken(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
