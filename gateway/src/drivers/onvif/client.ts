/**
 * The ONVIF transport: SOAP 1.2 calls over HTTP (ONVIF Core §5.1) with WS-Security
 * UsernameToken (Core §5.12.2), HTTP Digest when the device asks for it on top
 * (Core §5.12.1), a timeout on every call, and every failure turned into a GatewayError
 * that names the operation and why: unreachable, timed out, HTTP error, not XML, SOAP
 * fault (with its code, subcodes and reason), or refused credentials.
 *
 * Requests are dated by the device's clock: the offset seen in GetSystemDateAndTime is
 * added to ours (`clockOffsetMs`), as ONVIF clients are expected to do (Core §5.12.2 and
 * §8.3.10 GetSystemDateAndTime, which a device answers without authentication).
 */
import { GatewayError, type GatewayErrorCode } from '../../core/errors.js';
import { authorization, parseChallenges, pickChallenge } from './http-auth.js';
import { bodyOf, describeFault, envelope, faultOf, isAuthFault, securityHeader } from './soap.js';
import { childNames, parseXml, type XmlValue } from './xml.js';

export interface ClientOptions {
  /** The device id, for messages. */
  readonly deviceId: string;
  readonly username: string;
  /** Empty when none is configured (the device will refuse authenticated calls). */
  readonly password: string;
  readonly timeoutMs: number;
  /** Where the password comes from, for the message of an auth error (e.g. `passwordEnv CAM_PASSWORD`). */
  readonly passwordHint: string;
}

export interface CallOptions {
  /** Overrides the client's timeout (ms), e.g. for a long-polling PullMessages. */
  readonly timeoutMs?: number;
  /** False for the calls a device answers before authentication (GetSystemDateAndTime). */
  readonly authenticate?: boolean;
  /** Extra SOAP header blocks (WS-Addressing for the subscription manager). */
  readonly headers?: readonly string[];
  /** Aborts the call (the driver is closing). */
  readonly signal?: AbortSignal;
}

/** An image as fetched from a snapshot URI. */
export interface Snapshot {
  readonly contentType: string;
  readonly data: Buffer;
}

/** Counts of what the client sent: for metrics and for tests that check there is no storm. */
export interface ClientStats {
  requests: number;
  failures: number;
}

function causeCode(err: unknown): string {
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause !== undefined && typeof cause.code === 'string') return cause.code;
  if (cause !== undefined && typeof cause.message === 'string') return cause.message;
  return err instanceof Error ? err.message : String(err);
}

export class OnvifClient {
  /** Device time minus gateway time (ms), from GetSystemDateAndTime. */
  clockOffsetMs = 0;
  readonly stats: ClientStats = { requests: 0, failures: 0 };

  constructor(private readonly opts: ClientOptions) {}

  private fail(code: GatewayErrorCode, message: string, details: Record<string, unknown>, cause?: unknown): GatewayError {
    this.stats.failures++;
    return new GatewayError(code, message, { details: { device: this.opts.deviceId, ...details }, ...(cause === undefined ? {} : { cause }) });
  }

  private authError(what: string, url: string, why: string): GatewayError {
    return this.fail(
      'GW_ERR_ONVIF_AUTH',
      `${what}: the device refused user "${this.opts.username}" (${why}). Fix connection.username or the password (${this.opts.passwordHint}) and restart the gateway; ` +
        'requests are dated by the device’s own clock, so this is not clock skew. Not retried until then.',
      { url },
    );
  }

  /** One HTTP request with the timeout and abort signal, failures mapped to ONVIF errors. */
  private async send(what: string, url: string, init: RequestInit, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(timeoutMs);
    this.stats.requests++;
    try {
      return await fetch(url, { ...init, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (err) {
      if (timeout.aborted) throw this.fail('GW_ERR_ONVIF_TIMEOUT', `${what}: no answer within ${timeoutMs} ms from ${url}`, { url, timeoutMs }, err);
      if (signal?.aborted === true) throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: cancelled (the driver is closing)`, { url }, err);
      throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: cannot reach ${url} (${causeCode(err)})`, { url }, err);
    }
  }

  private async readText(what: string, url: string, res: Response): Promise<string> {
    try {
      return await res.text();
    } catch (err) {
      throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: the connection to ${url} broke while reading the answer (${causeCode(err)})`, { url }, err);
    }
  }

  /**
   * Calls `operation` at `url` with `body` (the operation's element). Resolves with the
   * SOAP Body of the answer; rejects with a GatewayError.
   */
  async call(url: string, operation: string, body: string, options: CallOptions = {}): Promise<XmlValue> {
    const what = `ONVIF ${operation} (${this.opts.deviceId})`;
    const authenticate = options.authenticate !== false;
    const timeoutMs = options.timeoutMs ?? this.opts.timeoutMs;
    let httpAuth: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const headers = [...(authenticate ? [securityHeader(this.opts.username, this.opts.password, Date.now() + this.clockOffsetMs)] : []), ...(options.headers ?? [])];
      const reqHeaders: Record<string, string> = { 'content-type': 'application/soap+xml; charset=utf-8' };
      if (httpAuth !== undefined) reqHeaders.authorization = httpAuth;
      const res = await this.send(what, url, { method: 'POST', headers: reqHeaders, body: envelope(body, headers) }, timeoutMs, options.signal);
      const xml = await this.readText(what, url, res);
      if (res.status === 401) {
        // Core §5.12.1: a device may want HTTP Digest as well as (or instead of) WS-Security.
        const challenge = pickChallenge(parseChallenges(res.headers.get('www-authenticate')));
        if (attempt === 0 && challenge !== undefined && authenticate) {
          httpAuth = authorization(challenge, 'POST', new URL(url).pathname + new URL(url).search, this.opts.username, this.opts.password);
          continue;
        }
        throw this.authError(what, url, attempt === 0 ? 'HTTP 401' : 'HTTP 401 to HTTP Digest');
      }
      return this.answer(what, url, res.status, xml);
    }
  }

  private answer(what: string, url: string, status: number, xml: string): XmlValue {
    let doc;
    try {
      doc = parseXml(xml);
    } catch (err) {
      if (status < 200 || status >= 300) throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: HTTP ${status} from ${url} without a SOAP fault`, { url, status });
      throw this.fail('GW_ERR_ONVIF_MALFORMED', `${what}: the answer from ${url} is ${(err as Error).message}`, { url, status }, err);
    }
    const body = bodyOf(doc);
    const fault = faultOf(body);
    if (fault !== undefined) {
      if (isAuthFault(fault)) throw this.authError(what, url, describeFault(fault));
      throw this.fail('GW_ERR_ONVIF_FAULT', `${what}: the device answered with a SOAP fault ${describeFault(fault)}`, { url, status, fault });
    }
    if (status < 200 || status >= 300) throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: HTTP ${status} from ${url}`, { url, status });
    if (body === undefined || childNames(body).length === 0) throw this.fail('GW_ERR_ONVIF_MALFORMED', `${what}: the answer from ${url} is not a SOAP envelope with a body`, { url, status });
    return body;
  }

  /** An answer lacked an element the operation must return. */
  malformed(operation: string, url: string, missing: string): GatewayError {
    return this.fail('GW_ERR_ONVIF_MALFORMED', `ONVIF ${operation} (${this.opts.deviceId}): the answer from ${url} has no ${missing}`, { url, missing });
  }

  /**
   * GETs an image (a snapshot URI, Media Service §5.11 GetSnapshotUri) with HTTP Digest
   * or Basic as the device asks, answering one challenge at most.
   */
  async fetchImage(url: string, signal?: AbortSignal): Promise<Snapshot> {
    const what = `ONVIF snapshot (${this.opts.deviceId})`;
    let auth: string | undefined;
    for (let attempt = 0; ; attempt++) {
      const res = await this.send(what, url, { method: 'GET', headers: auth === undefined ? {} : { authorization: auth } }, this.opts.timeoutMs, signal);
      if (res.status === 401) {
        await res.arrayBuffer().catch(() => undefined);
        const challenge = pickChallenge(parseChallenges(res.headers.get('www-authenticate')));
        if (attempt === 0 && challenge !== undefined) {
          const u = new URL(url);
          auth = authorization(challenge, 'GET', u.pathname + u.search, this.opts.username, this.opts.password);
          continue;
        }
        throw this.authError(what, url, attempt === 0 ? 'HTTP 401 without a challenge this client can answer' : `HTTP 401 to HTTP ${challenge?.scheme === 'basic' ? 'Basic' : 'Digest'}`);
      }
      let data: Buffer;
      try {
        data = Buffer.from(await res.arrayBuffer());
      } catch (err) {
        throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: the connection to ${url} broke while reading the image (${causeCode(err)})`, { url }, err);
      }
      if (res.status < 200 || res.status >= 300) throw this.fail('GW_ERR_ONVIF_HTTP', `${what}: HTTP ${res.status} from ${url}`, { url, status: res.status });
      const contentType = res.headers.get('content-type') ?? 'application/octet-stream';
      if (!contentType.startsWith('image/')) throw this.fail('GW_ERR_ONVIF_MALFORMED', `${what}: ${url} answered ${contentType}, not an image`, { url, contentType });
      return { contentType, data };
    }
  }
}
