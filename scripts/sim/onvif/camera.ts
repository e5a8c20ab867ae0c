/**
 * One simulated ONVIF device on node:http: the device, media and event services over
 * SOAP 1.2 (ONVIF Core Specification §5.1), authenticated by WS-Security UsernameToken
 * (Core §5.12.2), a snapshot URI behind HTTP Digest, and a unicast WS-Discovery responder
 * on the same port number over UDP.
 *
 * Operations: GetSystemDateAndTime (no authentication, Core §5.12.1 access class
 * PRE_AUTH), GetDeviceInformation, GetCapabilities, GetServices; GetProfiles,
 * GetSnapshotUri, GetStreamUri; GetEventProperties, CreatePullPointSubscription,
 * PullMessages (long poll up to its Timeout), Renew, Unsubscribe (WS-BaseNotification §6).
 *
 * Faults: wrong credentials → HTTP 400, env:Sender / ter:NotAuthorized; an unknown
 * subscription → env:Sender / wsrf-rw:ResourceUnknownFault; an unknown operation →
 * HTTP 500, env:Receiver / ter:ActionNotSupported. Test hooks inject more.
 */
import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { DigestAuthority, UsernameTokenVerifier, type UsernameToken } from './auth.js';
import type { EventModel, SimMessage } from './camera-events.js';
import { cameraFrame } from './jpeg.js';

const NSDECL =
  'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:ter="http://www.onvif.org/ver10/error" xmlns:tt="http://www.onvif.org/ver10/schema" ' +
  'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" ' +
  'xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tns1="http://www.onvif.org/ver10/topics" ' +
  'xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" xmlns:wsrf-rw="http://docs.oasis-open.org/wsrf/rw-2"';

/** A fault or a broken answer to inject into the next call of an operation. */
export type Injected = 'fault' | 'malformed' | 'http-500' | 'hang';

export interface CameraOptions {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly model: EventModel;
  /** username → password */
  readonly users: () => Readonly<Record<string, string>>;
  readonly manufacturer?: string;
  readonly modelName?: string;
  /** How long the device is down after `reboot()` (ms). */
  readonly rebootMs?: number;
  /** Real-time period of the event model (ms). */
  readonly tickMs?: number;
}

interface Subscription {
  readonly id: string;
  /** Termination time, camera clock (ms epoch). */
  endsAt: number;
  queue: SimMessage[];
  wake?: () => void;
}

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true, parseTagValue: false, trimValues: true });

type Node = Record<string, unknown>;
const obj = (v: unknown): Node | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : undefined);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof obj(v)?.['#text'] === 'string' ? (obj(v)!['#text'] as string) : '');
const esc = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** xs:duration `PT1M30S` or `PT10S` → ms; NaN when it is not one. */
export function durationMs(s: string): number {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(s.trim());
  if (m === null || s.trim() === 'P' || s.trim() === 'PT') return NaN;
  return ((Number(m[1] ?? 0) * 24 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 60_000 + Number(m[4] ?? 0) * 1000;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class SimulatedCamera {
  /** Requests by operation (plus `snapshot`), for tests that check there is no storm. */
  readonly requests: Record<string, number> = {};
  /** Subscriptions that ended by expiry (not Unsubscribe or reboot). */
  expired = 0;
  /** Camera clock minus real time (ms): `wrongTime`. */
  clockOffsetMs = 0;
  private server: Server | undefined;
  private udp: Socket | undefined;
  private readonly subs = new Map<string, Subscription>();
  private readonly injected = new Map<string, Injected[]>();
  private downUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly tokens: UsernameTokenVerifier;
  private readonly digest: DigestAuthority;
  host: string;
  port: number;

  constructor(private readonly o: CameraOptions) {
    this.host = o.host;
    this.port = o.port;
    this.tokens = new UsernameTokenVerifier(o.users);
    this.digest = new DigestAuthority('Steward ONVIF simulator', o.users);
  }

  private now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    await this.startDiscovery().catch(() => undefined);
    this.timer = setInterval(() => this.tick(), this.o.tickMs ?? 100);
  }

  /** WS-Discovery 2005/04 §5.3: answer a Probe with a ProbeMatches to its sender (unicast). */
  private async startDiscovery(): Promise<void> {
    const udp = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    udp.on('message', (msg, rinfo) => {
      const id = /<(?:\w+:)?MessageID>([^<]+)</.exec(msg.toString('utf8'))?.[1];
      if (!/<(?:\w+:)?Probe[\s>]/.test(msg.toString('utf8')) || id === undefined) return;
      const xaddr = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}/onvif/device_service`;
      const xml =
        `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
        `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>` +
        `<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</a:Action><a:MessageID>uuid:${randomUUID()}</a:MessageID><a:RelatesTo>${esc(id)}</a:RelatesTo>` +
        `<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>` +
        `<a:EndpointReference><a:Address>urn:uuid:${this.o.id}</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>` +
        `<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/name/${encodeURIComponent(this.o.id)} ` +
        `onvif://www.onvif.org/hardware/${encodeURIComponent(this.o.modelName ?? 'SimCam')} onvif://www.onvif.org/manufacturer/${encodeURIComponent(this.o.manufacturer ?? 'Steward')}</d:Scopes>` +
        `<d:XAddrs>${xaddr}</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`;
      udp.send(xml, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.port, this.host, () => resolve());
    });
    this.udp = udp;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const s of this.subs.values()) s.wake?.();
    this.subs.clear();
    this.udp?.close();
    this.udp = undefined;
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private tick(): void {
    const now = this.now();
    this.emit(this.o.model.advance(now));
    for (const [id, s] of this.subs) {
      if (s.endsAt <= now) {
        this.subs.delete(id);
        this.expired++;
        s.wake?.();
      }
    }
  }

  /** Queues messages on every live subscription and wakes the waiting pulls. */
  emit(messages: readonly SimMessage[]): void {
    if (messages.length === 0) return;
    for (const s of this.subs.values()) {
      s.queue.push(...messages);
      s.wake?.();
    }
  }

  motion(holdMs?: number): void {
    this.emit(this.o.model.motion(this.now(), holdMs));
  }

  tamper(holdMs?: number): void {
    this.emit(this.o.model.tamper(this.now(), holdMs));
  }

  /** Drops every subscription and every connection; the device answers nothing for `rebootMs`. */
  reboot(): void {
    for (const s of this.subs.values()) s.wake?.();
    this.subs.clear();
    this.downUntil = Date.now() + (this.o.rebootMs ?? 1500);
    this.server?.closeAllConnections();
  }

  /** Sets the camera clock `offsetMs` away from real time. */
  wrongTime(offsetMs: number): void {
    this.clockOffsetMs = offsetMs;
  }

  /** The next call of `operation` fails as `how`. */
  failNext(operation: string, how: Injected): void {
    this.injected.set(operation, [...(this.injected.get(operation) ?? []), how]);
  }

  subscriptionCount(): number {
    return this.subs.size;
  }

  private count(op: string): void {
    this.requests[op] = (this.requests[op] ?? 0) + 1;
    this.requests.total = (this.requests.total ?? 0) + 1;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (Date.now() < this.downUntil) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/onvif/snapshot.jpg') return this.snapshot(req, res);
    if (req.method !== 'POST' || !url.pathname.startsWith('/onvif/')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const xml = Buffer.concat(chunks).toString('utf8');
    if (XMLValidator.validate(xml) !== true) return this.fault(res, 400, 's:Sender', 'ter:WellFormed', 'the request is not well-formed XML');
    const doc = obj(parser.parse(xml));
    const env = obj(doc?.Envelope);
    const body = obj(env?.Body);
    const op = body === undefined ? undefined : Object.keys(body).find((k) => !k.startsWith('@') && k !== '#text');
    if (op === undefined) return this.fault(res, 400, 's:Sender', 'ter:InvalidArgs', 'no operation in the SOAP body');
    this.count(op);
    const inject = this.injected.get(op)?.shift();
    if (inject === 'hang') return; // never answers: the client's timeout must fire
    if (inject === 'http-500') {
      res.writeHead(500, { 'content-type': 'text/html' }).end('<html><body>Internal Server Error</body></html>');
      return;
    }
    if (inject === 'malformed') {
      res.writeHead(200, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(`<s:Envelope ${NSDECL}><s:Body><tds:${op}Response><broken></s:Body>`);
      return;
    }
    if (inject === 'fault') return this.fault(res, 500, 's:Receiver', 'ter:Action', `simulated failure of ${op}`);

    if (op !== 'GetSystemDateAndTime') {
      const verdict = this.tokens.verify(usernameToken(obj(env?.Header)), this.now());
      if (!verdict.ok) return this.fault(res, 400, 's:Sender', 'ter:NotAuthorized', 'Sender not Authorized');
    }
    const operation = obj(body![op]) ?? {};
    const base = `http://${req.headers.host ?? `${this.host}:${this.port}`}`;
    const subId = url.pathname.startsWith('/onvif/subscription/') ? url.pathname.slice('/onvif/subscription/'.length) : undefined;
    switch (op) {
      case 'GetSystemDateAndTime':
        return this.reply(res, `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>${dateTime(this.now())}</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`);
      case 'GetDeviceInformation':
        return this.reply(
          res,
          `<tds:GetDeviceInformationResponse><tds:Manufacturer>${esc(this.o.manufacturer ?? 'Steward')}</tds:Manufacturer><tds:Model>${esc(this.o.modelName ?? 'SimCam')}</tds:Model>` +
            `<tds:FirmwareVersion>sim-1.0</tds:FirmwareVersion><tds:SerialNumber>SIM-${esc(this.o.id.toUpperCase())}</tds:SerialNumber><tds:HardwareId>sim</tds:HardwareId></tds:GetDeviceInformationResponse>`,
        );
      case 'GetServices': {
        const svc = (ns: string, path: string) => `<tds:Service><tds:Namespace>${ns}</tds:Namespace><tds:XAddr>${base}${path}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>`;
        return this.reply(
          res,
          `<tds:GetServicesResponse>${svc('http://www.onvif.org/ver10/device/wsdl', '/onvif/device_service')}${svc('http://www.onvif.org/ver10/media/wsdl', '/onvif/media_service')}` +
            `${svc('http://www.onvif.org/ver10/events/wsdl', '/onvif/event_service')}</tds:GetServicesResponse>`,
        );
      }
      case 'GetCapabilities':
        return this.reply(
          res,
          `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${base}/onvif/device_service</tt:XAddr></tt:Device>` +
            `<tt:Events><tt:XAddr>${base}/onvif/event_service</tt:XAddr><tt:WSSubscriptionPolicySupport>false</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport>` +
            `<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>` +
            `<tt:Media><tt:XAddr>${base}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`,
        );
      case 'GetProfiles': {
        const p = (token: string, name: string, w: number, h: number) =>
          `<trt:Profiles token="${token}" fixed="true"><tt:Name>${name}</tt:Name><tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSource</tt:Name><tt:UseCount>2</tt:UseCount>` +
          `<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"/></tt:VideoSourceConfiguration>` +
          `<tt:VideoEncoderConfiguration token="VideoEncoder_${token}"><tt:Name>${name}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
          `<tt:Resolution><tt:Width>${w}</tt:Width><tt:Height>${h}</tt:Height></tt:Resolution><tt:Quality>4</tt:Quality></tt:VideoEncoderConfiguration></trt:Profiles>`;
        return this.reply(res, `<trt:GetProfilesResponse>${p('Profile_1', 'MainStream', 1920, 1080)}${p('Profile_2', 'SubStream', 640, 360)}</trt:GetProfilesResponse>`);
      }
      case 'GetSnapshotUri':
      case 'GetStreamUri': {
        const token = str(operation.ProfileToken);
        if (token !== 'Profile_1' && token !== 'Profile_2') return this.fault(res, 400, 's:Sender', 'ter:InvalidArgVal', `no profile ${token}`, 'ter:NoProfile');
        const uri = op === 'GetSnapshotUri' ? `${base}/onvif/snapshot.jpg?profile=${token}` : `rtsp://${req.headers.host?.split(':')[0] ?? this.host}:554/Streaming/${token}`;
        return this.reply(
          res,
          `<trt:${op}Response><trt:MediaUri><tt:Uri>${esc(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:${op}Response>`,
        );
      }
      case 'GetEventProperties':
        return this.reply(res, eventProperties());
      case 'CreatePullPointSubscription': {
        const asked = str(operation.InitialTerminationTime);
        const ttl = ttlMs(asked, this.now());
        const id = randomUUID();
        const now = this.now();
        const sub: Subscription = { id, endsAt: now + ttl, queue: this.o.model.initial(now) };
        this.subs.set(id, sub);
        return this.reply(
          res,
          `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>${base}/onvif/subscription/${id}</wsa:Address></tev:SubscriptionReference>` +
            `<wsnt:CurrentTime>${iso(now)}</wsnt:CurrentTime><wsnt:TerminationTime>${iso(sub.endsAt)}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>`,
        );
      }
      case 'PullMessages':
      case 'Renew':
      case 'Unsubscribe': {
        const sub = subId === undefined ? undefined : this.subs.get(subId);
        if (sub === undefined || sub.endsAt <= this.now()) {
          return this.fault(res, 400, 's:Sender', 'wsrf-rw:ResourceUnknownFault', `unknown subscription ${subId ?? '(none)'}`);
        }
        if (op === 'Unsubscribe') {
          this.subs.delete(sub.id);
          sub.wake?.();
          return this.reply(res, '<wsnt:UnsubscribeResponse/>');
        }
        if (op === 'Renew') {
          sub.endsAt = this.now() + ttlMs(str(operation.TerminationTime), this.now());
          return this.reply(res, `<wsnt:RenewResponse><wsnt:TerminationTime>${iso(sub.endsAt)}</wsnt:TerminationTime><wsnt:CurrentTime>${iso(this.now())}</wsnt:CurrentTime></wsnt:RenewResponse>`);
        }
        return this.pull(req, res, sub, operation);
      }
      default:
        return this.fault(res, 500, 's:Receiver', 'ter:ActionNotSupported', `${op} is not supported by this simulator`);
    }
  }

  /** Event Service §9.1.2.2: answer at once when messages wait, else when one comes or the Timeout ends. */
  private async pull(req: IncomingMessage, res: ServerResponse, sub: Subscription, operation: Node): Promise<void> {
    const timeout = Math.min(durationMs(str(operation.Timeout)) || 10_000, 600_000);
    const limit = Math.max(1, Number(str(operation.MessageLimit)) || 100);
    if (sub.queue.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeout);
        function done(): void {
          clearTimeout(timer);
          sub.wake = undefined;
          resolve();
        }
        sub.wake = done;
        res.once('close', done);
      });
    }
    if (res.destroyed || res.writableEnded) return;
    if (!this.subs.has(sub.id)) return this.fault(res, 400, 's:Sender', 'wsrf-rw:ResourceUnknownFault', `subscription ${sub.id} ended`);
    const batch = sub.queue.splice(0, limit);
    this.reply(
      res,
      `<tev:PullMessagesResponse><tev:CurrentTime>${iso(this.now())}</tev:CurrentTime><tev:TerminationTime>${iso(sub.endsAt)}</tev:TerminationTime>${batch.map(notification).join('')}</tev:PullMessagesResponse>`,
    );
  }

  private snapshot(req: IncomingMessage, res: ServerResponse): void {
    this.count('snapshot');
    if (!this.digest.check(req.headers.authorization, 'GET')) {
      res.writeHead(401, { 'www-authenticate': this.digest.challenge(), 'content-type': 'text/plain' }).end('authentication required');
      return;
    }
    const jpeg = cameraFrame(this.now() / 1000);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);
  }

  private reply(res: ServerResponse, body: string): void {
    res.writeHead(200, { 'content-type': 'application/soap+xml; charset=utf-8' }).end(`<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NSDECL}><s:Body>${body}</s:Body></s:Envelope>`);
  }

  /** SOAP 1.2 Part 1 §5.4 fault; Part 2 §7.4.1.2: Sender faults are HTTP 400, Receiver faults 500. */
  private fault(res: ServerResponse, status: number, code: string, subcode: string, reason: string, subsubcode?: string): void {
    const inner = subsubcode === undefined ? '' : `<s:Subcode><s:Value>${subsubcode}</s:Value></s:Subcode>`;
    res
      .writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8' })
      .end(
        `<?xml version="1.0" encoding="UTF-8"?><s:Envelope ${NSDECL}><s:Body><s:Fault><s:Code><s:Value>${code}</s:Value><s:Subcode><s:Value>${subcode}</s:Value>${inner}</s:Subcode></s:Code>` +
          `<s:Reason><s:Text xml:lang="en">${esc(reason)}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`,
      );
  }
}

function usernameToken(header: Node | undefined): UsernameToken | undefined {
  const token = obj(obj(header?.Security)?.UsernameToken);
  if (token === undefined) return undefined;
  const password = token.Password;
  return {
    username: str(token.Username),
    password: str(password),
    passwordType: (obj(password)?.['@Type'] as string | undefined) ?? '',
    nonce: str(token.Nonce),
    created: str(token.Created),
  };
}

/** A requested termination: a duration or an absolute dateTime; 60 s when absent or absurd. */
function ttlMs(asked: string, nowMs: number): number {
  if (asked === '') return 60_000;
  const d = durationMs(asked);
  const ms = Number.isFinite(d) ? d : Date.parse(asked) - nowMs;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 86_400_000) : 60_000;
}

function dateTime(ms: number): string {
  const d = new Date(ms);
  return (
    `<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>CST-8</tt:TZ></tt:TimeZone><tt:UTCDateTime>` +
    `<tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute><tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time>` +
    `<tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month><tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime>`
  );
}

function items(kind: 'Source' | 'Data', values: Readonly<Record<string, string>>): string {
  const inner = Object.entries(values)
    .map(([k, v]) => `<tt:SimpleItem Name="${esc(k)}" Value="${esc(v)}"/>`)
    .join('');
  return `<tt:${kind}>${inner}</tt:${kind}>`;
}

/** Core §9.2: one wsnt:NotificationMessage with a tt:Message. */
function notification(m: SimMessage): string {
  const op = m.operation === undefined ? '' : ` PropertyOperation="${m.operation}"`;
  return (
    `<wsnt:NotificationMessage><wsnt:Topic Dialect="http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet">${esc(m.topic)}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${iso(m.utcTime)}"${op}>${items('Source', m.source)}${items('Data', m.data)}</tt:Message></wsnt:Message></wsnt:NotificationMessage>`
  );
}

function eventProperties(): string {
  const leaf = (name: string, item: string, type: string) =>
    `<${name} wstop:topic="true"><tt:MessageDescription IsProperty="true"><tt:Data><tt:SimpleItemDescription Name="${item}" Type="${type}"/></tt:Data></tt:MessageDescription></${name}>`;
  return (
    `<tev:GetEventPropertiesResponse><tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>` +
    `<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet>` +
    `<tns1:VideoSource>${leaf('MotionAlarm', 'State', 'xs:boolean')}<GlobalSceneChange>${leaf('ImagingService', 'State', 'xs:boolean')}</GlobalSceneChange></tns1:VideoSource>` +
    `<tns1:RuleEngine><CellMotionDetector>${leaf('Motion', 'IsMotion', 'xs:boolean')}</CellMotionDetector><TamperDetector>${leaf('Tamper', 'IsTamper', 'xs:boolean')}</TamperDetector>` +
    `<FieldDetector>${leaf('ObjectsInside', 'IsInside', 'xs:boolean')}</FieldDetector><LineDetector><Crossed wstop:topic="true"/></LineDetector>` +
    `<ObjectDetection><Object wstop:topic="true"/></ObjectDetection></tns1:RuleEngine></wstop:TopicSet>` +
    `<wsnt:TopicExpressionDialect>http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet</wsnt:TopicExpressionDialect>` +
    `<wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete</wsnt:TopicExpressionDialect>` +
    `<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>` +
    `<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>`
  );
}
