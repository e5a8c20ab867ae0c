/**
 * WS-Discovery Probe sent by *unicast* to one configured host (WS-Discovery 2005/04 §5.2;
 * ONVIF Core §7.3 allows a directed probe). Never multicast: the gateway only looks at
 * the address it was given, and tests never touch the LAN.
 */
import { randomUUID } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { DiscoveredDevice } from '../driver.js';
import { at, child, children, parseXml, text } from './xml.js';

const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  wsa: 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
  wsd: 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
  dn: 'http://www.onvif.org/ver10/network/wsdl',
};

export function probeMessage(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="${NS.soap}" xmlns:a="${NS.wsa}" xmlns:d="${NS.wsd}" xmlns:dn="${NS.dn}"><s:Header>` +
    `<a:Action s:mustUnderstand="1">${NS.wsd}/Probe</a:Action><a:MessageID>uuid:${messageId}</a:MessageID>` +
    `<a:ReplyTo><a:Address>${NS.wsa}/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>` +
    `</s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

/** `onvif://www.onvif.org/name/Front%20Gate` → the decoded value of the scope kind `name`. */
function scope(scopes: readonly string[], kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const s = scopes.find((x) => x.startsWith(prefix));
  return s === undefined ? undefined : decodeURIComponent(s.slice(prefix.length));
}

/** The devices of a ProbeMatches message; [] when it is something else. */
export function parseProbeMatches(xml: string, relatesTo: string): DiscoveredDevice[] {
  let doc;
  try {
    doc = parseXml(xml);
  } catch {
    return [];
  }
  const rel = text(at(doc, 'Envelope', 'Header', 'RelatesTo'));
  if (rel !== undefined && rel !== `uuid:${relatesTo}`) return [];
  return children(at(doc, 'Envelope', 'Body', 'ProbeMatches'), 'ProbeMatch').flatMap((m): DiscoveredDevice[] => {
    const xaddrs = (text(child(m, 'XAddrs')) ?? '').split(/\s+/).filter((x) => x !== '');
    const first = xaddrs[0];
    if (first === undefined) return [];
    let url: URL;
    try {
      url = new URL(first);
    } catch {
      return [];
    }
    const scopes = (text(child(m, 'Scopes')) ?? '').split(/\s+/).filter((x) => x !== '');
    const name = scope(scopes, 'name');
    const model = scope(scopes, 'hardware');
    const vendor = scope(scopes, 'manufacturer') ?? scope(scopes, 'mfr');
    return [
      {
        protocol: 'onvif',
        connection: { protocol: 'onvif', url: url.origin, path: url.pathname },
        ...(name === undefined ? {} : { name }),
        ...(vendor === undefined ? {} : { vendor }),
        ...(model === undefined ? {} : { model }),
        details: { xaddrs, scopes, endpoint: text(at(m, 'EndpointReference', 'Address')) ?? '', types: text(child(m, 'Types')) ?? '' },
      },
    ];
  });
}

/**
 * Sends one Probe to `host:port` over UDP and collects ProbeMatches for `timeoutMs`
 * (resolving early on the first match, since one host answers for itself).
 */
export function probe(host: string, port: number, timeoutMs: number): Promise<DiscoveredDevice[]> {
  const id = randomUUID();
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<DiscoveredDevice[]>((resolve, reject) => {
    const found: DiscoveredDevice[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.close();
      resolve(found);
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('message', (msg) => {
      found.push(...parseProbeMatches(msg.toString('utf8'), id));
      if (found.length > 0) finish();
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.close();
      reject(err);
    });
    socket.send(probeMessage(id), port, host);
  });
}
