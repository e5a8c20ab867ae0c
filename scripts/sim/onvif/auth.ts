/**
 * The simulated camera's side of authentication, written independently of the driver's
 * client code so that the tests check one against the other:
 *
 * - WS-Security UsernameToken (OASIS UsernameToken Profile 1.0 §3.1; ONVIF Core §5.12.2):
 *   PasswordDigest = Base64(SHA-1(nonce + created + password)), `Created` within ±5 min of
 *   the camera's clock, each nonce accepted once (replay protection, §3.1 "nonce cache").
 * - HTTP Digest (RFC 7616, MD5, qop=auth) for the snapshot URI, with server nonces that
 *   carry their issue time and a MAC, so no state is needed to check them.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const PASSWORD_DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const PASSWORD_TEXT = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText';

/** The UsernameToken fields of a request, as parsed. */
export interface UsernameToken {
  readonly username: string;
  readonly password: string;
  readonly passwordType: string;
  readonly nonce: string;
  readonly created: string;
}

export type TokenVerdict = { readonly ok: true; readonly username: string } | { readonly ok: false; readonly why: string };

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class UsernameTokenVerifier {
  private readonly seen = new Map<string, number>();

  /**
   * @param users username → password
   * @param windowMs accepted distance of `Created` from the camera's clock (ms)
   */
  constructor(
    private readonly users: () => Readonly<Record<string, string>>,
    private readonly windowMs = 5 * 60_000,
  ) {}

  verify(token: UsernameToken | undefined, cameraNowMs: number): TokenVerdict {
    if (token === undefined) return { ok: false, why: 'no UsernameToken' };
    const password = this.users()[token.username];
    if (password === undefined) return { ok: false, why: `unknown user ${token.username}` };
    if (token.passwordType === PASSWORD_TEXT || token.passwordType === '') {
      return same(token.password, password) ? { ok: true, username: token.username } : { ok: false, why: 'wrong password' };
    }
    if (token.passwordType !== PASSWORD_DIGEST) return { ok: false, why: `unknown password type ${token.passwordType}` };
    const created = Date.parse(token.created);
    if (!Number.isFinite(created)) return { ok: false, why: 'Created is not a dateTime' };
    if (Math.abs(created - cameraNowMs) > this.windowMs) return { ok: false, why: `Created ${token.created} is outside ±${this.windowMs / 60_000} min of the camera clock` };
    for (const [n, at] of this.seen) if (at < cameraNowMs - 2 * this.windowMs) this.seen.delete(n);
    if (this.seen.has(token.nonce)) return { ok: false, why: 'nonce replayed' };
    const nonce = Buffer.from(token.nonce, 'base64');
    const expected = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(token.created, 'utf8'), Buffer.from(password, 'utf8')])).digest('base64');
    if (!same(expected, token.password)) return { ok: false, why: 'wrong password digest' };
    this.seen.set(token.nonce, cameraNowMs);
    return { ok: true, username: token.username };
  }
}

/** HTTP Digest, server side. */
export class DigestAuthority {
  private readonly key = randomBytes(16);

  constructor(
    private readonly realm: string,
    private readonly users: () => Readonly<Record<string, string>>,
    private readonly nonceTtlMs = 5 * 60_000,
  ) {}

  /** A `WWW-Authenticate` value with a fresh nonce. */
  challenge(nowMs = Date.now()): string {
    const t = nowMs.toString(16);
    const nonce = `${t}.${createHmac('sha256', this.key).update(t).digest('hex').slice(0, 24)}`;
    return `Digest realm="${this.realm}", qop="auth", nonce="${nonce}", algorithm=MD5`;
  }

  private nonceValid(nonce: string, nowMs: number): boolean {
    const [t, mac] = nonce.split('.');
    if (t === undefined || mac === undefined) return false;
    const expected = createHmac('sha256', this.key).update(t).digest('hex').slice(0, 24);
    return same(mac, expected) && nowMs - parseInt(t, 16) <= this.nonceTtlMs;
  }

  /** True when `header` answers one of our challenges correctly for `method` on `uri`. */
  check(header: string | undefined, method: string, nowMs = Date.now()): boolean {
    if (header === undefined || !/^Digest\s/i.test(header)) return false;
    const p: Record<string, string> = {};
    const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
    for (let m = re.exec(header); m !== null; m = re.exec(header)) p[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
    const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined || realm !== this.realm) return false;
    const password = this.users()[username];
    if (password === undefined || !this.nonceValid(nonce, nowMs)) return false;
    const md5 = (s: string) => createHash('md5').update(s).digest('hex');
    const ha1 = md5(`${username}:${realm}:${password}`);
    const ha2 = md5(`${method}:${uri}`);
    const expected = qop === 'auth' ? md5(`${ha1}:${nonce}:${nc ?? ''}:${cnonce ?? ''}:auth:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
    return same(expected, response);
  }
}
