/**
 * SOAP 1.2 envelopes as ONVIF speaks them (ONVIF Core Specification §5.1: SOAP 1.2 over
 * HTTP, document/literal), with the WS-Security UsernameToken header of Core §5.12
 * (OASIS WS-Security UsernameToken Profile 1.0 §3.1, PasswordDigest), and SOAP faults
 * read back into code, subcodes and reason (SOAP 1.2 Part 1 §5.4; ONVIF Core §5.11 lists
 * the `ter:` subcodes, e.g. `ter:NotAuthorized`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { at, child, children, escapeXml, text, type XmlNode, type XmlValue } from './xml.js';

export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  wsa: 'http://www.w3.org/2005/08/addressing',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tev: 'http://www.onvif.org/ver10/events/wsdl',
  wsnt: 'http://docs.oasis-open.org/wsn/b-2',
  tt: 'http://www.onvif.org/ver10/schema',
} as const;

const PASSWORD_DIGEST = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest';
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

/**
 * UsernameToken Profile 1.0 §3.1: Password_Digest = Base64(SHA-1(nonce + created + password)),
 * the nonce as raw bytes, `created` as the exact xsd:dateTime string sent.
 */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')])).digest('base64');
}

/**
 * The `wsse:Security` header for one request. `nowMs` should be the *device's* time
 * (the gateway's clock corrected by the offset seen in GetSystemDateAndTime): devices
 * refuse a `Created` outside their window (typically ±5 min), Core §5.12.2.
 */
export function securityHeader(username: string, password: string, nowMs: number): string {
  const nonce = randomBytes(16);
  const created = new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}"><wsse:UsernameToken>` +
    `<wsse:Username>${escapeXml(username)}</wsse:Username>` +
    `<wsse:Password Type="${PASSWORD_DIGEST}">${passwordDigest(nonce, created, password)}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

/** A SOAP 1.2 envelope around `body`, with optional header blocks. */
export function envelope(body: string, headers: readonly string[] = []): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap}" xmlns:wsa="${NS.wsa}" xmlns:tt="${NS.tt}">` +
    `<s:Header>${headers.join('')}</s:Header><s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** WS-Addressing 1.0 headers: the subscription manager's operations are addressed this way (WS-BaseNotification §6). */
export function addressingHeaders(action: string, to: string): string[] {
  return [`<wsa:Action s:mustUnderstand="1">${escapeXml(action)}</wsa:Action>`, `<wsa:To s:mustUnderstand="1">${escapeXml(to)}</wsa:To>`];
}

/** A SOAP fault as the device sent it. */
export interface SoapFault {
  /** `env:Sender`, `env:Receiver`, … (SOAP 1.1: `faultcode`). */
  readonly code: string;
  /** Subcodes, outermost first, e.g. `['ter:NotAuthorized']` or `['ter:InvalidArgVal', 'ter:NoProfile']`. */
  readonly subcodes: readonly string[];
  /** The human-readable reason, when given. */
  readonly reason: string;
}

/** The Body of an envelope; undefined when the document is not a SOAP envelope. */
export function bodyOf(doc: XmlNode): XmlValue | undefined {
  return at(doc, 'Envelope', 'Body');
}

/** The fault in a SOAP body, if it holds one (SOAP 1.2, or 1.1 as some devices still answer). */
export function faultOf(body: XmlValue | undefined): SoapFault | undefined {
  const fault = child(body, 'Fault');
  if (fault === undefined) return undefined;
  const code = child(fault, 'Code');
  if (code !== undefined) {
    const subcodes: string[] = [];
    let sub = child(code, 'Subcode');
    for (let depth = 0; sub !== undefined && depth < 8; depth++) {
      const v = text(child(sub, 'Value'));
      if (v !== undefined && v !== '') subcodes.push(v);
      sub = child(sub, 'Subcode');
    }
    const reasons = children(child(fault, 'Reason'), 'Text').map((t) => text(t) ?? '');
    return { code: text(child(code, 'Value')) ?? '', subcodes, reason: reasons.find((r) => r !== '') ?? '' };
  }
  return { code: text(child(fault, 'faultcode')) ?? '', subcodes: [], reason: text(child(fault, 'faultstring')) ?? '' };
}

/** `env:Sender / ter:NotAuthorized: Sender not Authorized` */
export function describeFault(f: SoapFault): string {
  const codes = [f.code, ...f.subcodes].filter((c) => c !== '').join(' / ');
  return f.reason === '' ? codes : `${codes}: ${f.reason}`;
}

/** Local part of a qualified name (`ter:NotAuthorized` → `NotAuthorized`). */
export function localName(qname: string): string {
  const colon = qname.lastIndexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
}

/** Core §5.11.2: `ter:NotAuthorized` is how a device says the credentials were refused. */
export function isAuthFault(f: SoapFault): boolean {
  return f.subcodes.some((s) => localName(s) === 'NotAuthorized' || localName(s) === 'FailedAuthentication') || /not ?authori[sz]ed/i.test(f.reason);
}
