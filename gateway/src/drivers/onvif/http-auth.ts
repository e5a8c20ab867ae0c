/**
 * HTTP authentication as cameras ask for it on snapshot URIs (and some on SOAP calls,
 * ONVIF Core §5.12.1): Digest (RFC 7616, MD5 or SHA-256, qop=auth, with the RFC 2069
 * form when no qop is offered) or Basic (RFC 7617). Pure: builds the Authorization
 * header from a challenge; the caller sends it.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface Challenge {
  readonly scheme: 'digest' | 'basic';
  readonly params: Readonly<Record<string, string>>;
}

/** Splits `name=value, name="quoted, value"` pairs. */
function parseParams(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  return out;
}

/**
 * The challenges of a `WWW-Authenticate` value. Several headers arrive joined by commas
 * (fetch joins them), so the value is cut before each scheme name.
 */
export function parseChallenges(header: string | null): Challenge[] {
  if (header === null || header.trim() === '') return [];
  const parts = header.split(/,?\s*(?=\b(?:Digest|Basic)\s)/i).filter((p) => p.trim() !== '');
  const out: Challenge[] = [];
  for (const part of parts) {
    const m = /^\s*(Digest|Basic)\s+(.*)$/is.exec(part);
    if (m === null) continue;
    out.push({ scheme: m[1]!.toLowerCase() === 'digest' ? 'digest' : 'basic', params: parseParams(m[2]!) });
  }
  return out;
}

const HASHES: Readonly<Record<string, string>> = { 'md5': 'md5', 'md5-sess': 'md5', 'sha-256': 'sha256', 'sha-256-sess': 'sha256' };

/** Picks the strongest challenge this client can answer: Digest SHA-256, then MD5, then Basic. */
export function pickChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  const digest = challenges.filter((c) => c.scheme === 'digest' && HASHES[(c.params.algorithm ?? 'MD5').toLowerCase()] !== undefined);
  const sha = digest.find((c) => (c.params.algorithm ?? '').toLowerCase().startsWith('sha-256'));
  return sha ?? digest[0] ?? challenges.find((c) => c.scheme === 'basic');
}

/**
 * The Authorization header answering `challenge` for `method uri` (uri: path and query,
 * as on the request line). `nc` counts uses of the same nonce (1 for a fresh one).
 */
export function authorization(challenge: Challenge, method: string, uri: string, username: string, password: string, nc = 1): string {
  if (challenge.scheme === 'basic') return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
  const p = challenge.params;
  const algorithm = p.algorithm ?? 'MD5';
  const hashName = HASHES[algorithm.toLowerCase()] ?? 'md5';
  const H = (s: string) => createHash(hashName).update(s, 'utf8').digest('hex');
  const realm = p.realm ?? '';
  const nonce = p.nonce ?? '';
  const cnonce = randomBytes(8).toString('hex');
  const ncHex = nc.toString(16).padStart(8, '0');
  let ha1 = H(`${username}:${realm}:${password}`);
  if (algorithm.toLowerCase().endsWith('-sess')) ha1 = H(`${ha1}:${nonce}:${cnonce}`);
  const ha2 = H(`${method}:${uri}`);
  // RFC 7616 §3.4.1: qop=auth when offered (auth-int is not needed for a GET without body).
  const qops = (p.qop ?? '').split(',').map((q) => q.trim().toLowerCase());
  const qop = qops.includes('auth') ? 'auth' : undefined;
  const response = qop === undefined ? H(`${ha1}:${nonce}:${ha2}`) : H(`${ha1}:${nonce}:${ncHex}:${cnonce}:${qop}:${ha2}`);
  const q = (s: string) => `"${s.replace(/(["\\])/g, '\\$1')}"`;
  const fields = [`username=${q(username)}`, `realm=${q(realm)}`, `nonce=${q(nonce)}`, `uri=${q(uri)}`, `algorithm=${algorithm}`, `response=${q(response)}`];
  if (qop !== undefined) fields.push(`qop=${qop}`, `nc=${ncHex}`, `cnonce=${q(cnonce)}`);
  if (p.opaque !== undefined) fields.push(`opaque=${q(p.opaque)}`);
  return `Digest ${fields.join(', ')}`;
}
