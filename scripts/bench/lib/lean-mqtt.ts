/**
 * A lean MQTT 3.1.1 subscriber for the benches (`lib/mqtt-subscribers.ts`, `--mqtt-client
 * lean`, the default): a raw `net` socket, CONNECT (user name and password), SUBSCRIBE at
 * QoS 0, PINGREQ keepalive, and a frame parser that walks each fixed header's remaining
 * length and hands the frame to the client without copying it (a frame split across reads
 * is the only copy). PUBLISH frames are counted; the payload is decoded only for the
 * latency sample (every 97th message). No streams, no packet objects per message: the
 * subscribers are the benches' load generator, not the system under test, and on a 2-core
 * machine every cycle they spend is taken from the gateway they measure.
 *
 * MQTT 3.1.1 (OASIS standard, 2014): CONNACK and SUBACK return codes are honoured (a
 * refusal is an error that says why); a PUBLISH at QoS 1 or 2 (a broker may not send one
 * on a QoS 0 subscription, but an overlapping filter of another kind could) is acknowledged
 * as the protocol says; a PINGREQ goes out every half keepalive, and a PINGRESP still
 * missing when the next one is due closes the connection (3.1.2.10).
 */
import net from 'node:net';
import { varintLength, writeVarint } from '../../../gateway/src/broker/fanout.js';

/** Control packet types (the fixed header's high nibble). */
export const PacketType = {
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
} as const;

/** What the parser hands over: the fixed header's first byte and the frame's body `buf[start, end)` (valid during the call only). */
export type FrameHandler = (header: number, buf: Buffer, start: number, end: number) => void;

/** The largest remaining length MQTT can encode (4 bytes of 7 bits). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** Encodes MQTT's variable-length "remaining length" (1–4 bytes). */
export function encodeRemainingLength(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > MAX_REMAINING_LENGTH) throw new RangeError(`MQTT remaining length out of range: ${n}`);
  const out = Buffer.allocUnsafe(varintLength(n));
  writeVarint(out, 0, n);
  return out;
}

/**
 * Splits a byte stream into MQTT control packets. `push` each chunk as the socket gives it;
 * every complete frame goes to the handler, in order; an incomplete tail is kept (copied)
 * until the next chunk. A remaining length longer than 4 bytes is a protocol error (thrown).
 */
export class FrameParser {
  private rest: Buffer | undefined;

  constructor(private readonly onFrame: FrameHandler) {}

  /** Bytes held back from the last chunk (an incomplete frame). */
  get pending(): number {
    return this.rest?.length ?? 0;
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest !== undefined) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    const n = buf.length;
    let i = 0;
    while (i < n) {
      // The remaining length: up to 4 bytes after the first, 7 bits each, least significant first.
      let len = 0;
      let mul = 1;
      let j = i + 1;
      let complete = false;
      for (;;) {
        if (j >= n) break;
        if (j - i > 4) throw new Error(`MQTT: malformed remaining length (more than 4 bytes) in a frame of type ${buf[i]! >> 4}`);
        const b = buf[j++]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || j + len > n) break;
      this.onFrame(buf[i]!, buf, j, j + len);
      i = j + len;
    }
    if (i < n) this.rest = i === 0 && buf !== chunk ? buf : Buffer.from(buf.subarray(i));
  }
}

function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 0xffff) throw new RangeError('MQTT: string longer than 65,535 bytes');
  const out = Buffer.allocUnsafe(2 + b.length);
  out.writeUInt16BE(b.length, 0);
  b.copy(out, 2);
  return out;
}

function frame(header: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([header]), encodeRemainingLength(body.length), body]);
}

/** CONNECT, MQTT 3.1.1 (protocol level 4), clean session. */
export function encodeConnect(o: { clientId: string; username?: string; password?: string; keepaliveS: number }): Buffer {
  let flags = 0x02;
  if (o.username !== undefined) flags |= 0x80;
  if (o.password !== undefined) {
    if (o.username === undefined) throw new Error('MQTT 3.1.1: a password needs a user name');
    flags |= 0x40;
  }
  const keepalive = Buffer.alloc(2);
  keepalive.writeUInt16BE(o.keepaliveS, 0);
  const parts = [str('MQTT'), Buffer.from([4, flags]), keepalive, str(o.clientId)];
  if (o.username !== undefined) parts.push(str(o.username));
  if (o.password !== undefined) parts.push(str(o.password));
  return frame(PacketType.CONNECT << 4, Buffer.concat(parts));
}

/** SUBSCRIBE of one filter (fixed header flags 0b0010, as 3.1.1 requires). */
export function encodeSubscribe(packetId: number, filter: string, qos: 0 | 1 | 2): Buffer {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId, 0);
  return frame((PacketType.SUBSCRIBE << 4) | 0x02, Buffer.concat([id, str(filter), Buffer.from([qos])]));
}

const PINGREQ = Buffer.from([PacketType.PINGREQ << 4, 0]);
const DISCONNECT = Buffer.from([PacketType.DISCONNECT << 4, 0]);

const CONNACK_REFUSED: Record<number, string> = {
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

/** A received PUBLISH as the latency sampler sees it (decoded only when asked). */
export interface PublishView {
  readonly buf: Buffer;
  /** The topic's bytes and the payload's, within `buf`. */
  readonly topicStart: number;
  readonly topicEnd: number;
  readonly payloadStart: number;
  readonly payloadEnd: number;
}

/** Where a PUBLISH body's topic and payload are (`header`'s QoS says whether a packet id sits between). */
export function publishView(header: number, buf: Buffer, start: number, end: number): PublishView {
  const topicLen = buf.readUInt16BE(start);
  const topicStart = start + 2;
  const topicEnd = topicStart + topicLen;
  const payloadStart = topicEnd + (((header >> 1) & 3) > 0 ? 2 : 0);
  if (payloadStart > end) throw new Error('MQTT: PUBLISH shorter than its topic');
  return { buf, topicStart, topicEnd, payloadStart, payloadEnd: end };
}

export interface LeanClientOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: string;
  /** Seconds; a PINGREQ every half of it. Default 60 (as mqtt.js). */
  readonly keepaliveS?: number;
  /** Until CONNACK, ms. Default 60,000. */
  readonly connectTimeoutMs?: number;
  /** Every PUBLISH received: its fixed header's first byte and body (valid during the call only). */
  readonly onPublish: (header: number, buf: Buffer, start: number, end: number) => void;
  /** The connection closed (after it was up), with the reason when there was one. */
  readonly onClose?: (error?: Error) => void;
}

/** One MQTT 3.1.1 connection that subscribes and reads. */
export class LeanClient {
  private readonly socket: net.Socket;
  private readonly parser: FrameParser;
  private nextId = 1;
  private readonly subacks = new Map<number, { resolve: (granted: number) => void; reject: (e: Error) => void; filter: string }>();
  private connack: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private ping: NodeJS.Timeout | undefined;
  private awaitingPingResp = false;
  private closedWith: Error | undefined;
  private isClosed = false;
  private connected = false;
  /** PINGRESPs received (a test's view of the keepalive). */
  pingResponses = 0;

  private constructor(private readonly o: LeanClientOptions) {
    this.parser = new FrameParser((h, b, s, e) => this.frame(h, b, s, e));
    this.socket = net.connect({ host: o.host, port: o.port });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
      } catch (e) {
        this.fail(e as Error);
      }
    });
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => this.fail(new Error(`MQTT: connection to ${o.host}:${o.port} closed`)));
  }

  /** Connects and logs in; resolves on a CONNACK that accepts, rejects with the refusal's reason. */
  static connect(o: LeanClientOptions): Promise<LeanClient> {
    const c = new LeanClient(o);
    const keepaliveS = o.keepaliveS ?? 60;
    return new Promise<LeanClient>((resolve, reject) => {
      const timer = setTimeout(() => c.fail(new Error(`MQTT: no CONNACK from ${o.host}:${o.port} within ${o.connectTimeoutMs ?? 60_000} ms`)), o.connectTimeoutMs ?? 60_000);
      c.connack = {
        resolve: () => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      c.socket.once('connect', () => c.socket.write(encodeConnect({ clientId: o.clientId, username: o.username, password: o.password, keepaliveS })));
      if (keepaliveS > 0) {
        c.ping = setInterval(() => {
          if (c.awaitingPingResp) return c.fail(new Error(`MQTT: no PINGRESP within ${keepaliveS / 2} s`));
          c.awaitingPingResp = true;
          c.socket.write(PINGREQ);
        }, (keepaliveS * 1000) / 2);
        c.ping.unref();
      }
    });
  }

  /** SUBSCRIBE one filter; resolves with the granted QoS, rejects on SUBACK's failure code (0x80). */
  subscribe(filter: string, qos: 0 | 1 | 2 = 0): Promise<number> {
    if (this.isClosed) return Promise.reject(this.closedWith ?? new Error('connection closed'));
    const id = this.nextId;
    this.nextId = (this.nextId % 0xffff) + 1;
    return new Promise<number>((resolve, reject) => {
      this.subacks.set(id, { resolve, reject, filter });
      this.socket.write(encodeSubscribe(id, filter, qos));
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** DISCONNECT, then the socket ends. */
  end(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.ping);
    this.socket.end(DISCONNECT);
  }

  private frame(header: number, buf: Buffer, start: number, end: number): void {
    switch (header >> 4) {
      case PacketType.PUBLISH: {
        this.o.onPublish(header, buf, start, end);
        const qos = (header >> 1) & 3;
        if (qos > 0) {
          const at = start + 2 + buf.readUInt16BE(start);
          this.socket.write(Buffer.from([(qos === 1 ? PacketType.PUBACK : PacketType.PUBREC) << 4, 2, buf[at]!, buf[at + 1]!]));
        }
        return;
      }
      case PacketType.PUBREL:
        this.socket.write(Buffer.from([PacketType.PUBCOMP << 4, 2, buf[start]!, buf[start + 1]!]));
        return;
      case PacketType.CONNACK: {
        if (end - start !== 2) return this.fail(new Error(`MQTT: CONNACK of ${end - start} bytes (2 expected)`));
        const rc = buf[start + 1]!;
        if (rc !== 0) return this.fail(new Error(`MQTT: connection refused by ${this.o.host}:${this.o.port}: return code ${rc} (${CONNACK_REFUSED[rc] ?? 'unknown'})`));
        this.connected = true;
        const c = this.connack;
        this.connack = undefined;
        c?.resolve();
        return;
      }
      case PacketType.SUBACK: {
        const id = buf.readUInt16BE(start);
        const waiting = this.subacks.get(id);
        if (waiting === undefined) return this.fail(new Error(`MQTT: SUBACK for packet ${id}, which was not asked`));
        this.subacks.delete(id);
        const rc = buf[start + 2];
        if (rc === 0x80) waiting.reject(new Error(`MQTT: subscription to "${waiting.filter}" refused (SUBACK 0x80)`));
        else if (rc === undefined || rc > 2) waiting.reject(new Error(`MQTT: SUBACK for "${waiting.filter}" with return code ${rc} (0, 1, 2 or 0x80 expected)`));
        else waiting.resolve(rc);
        return;
      }
      case PacketType.PINGRESP:
        this.awaitingPingResp = false;
        this.pingResponses++;
        return;
      default:
        return this.fail(new Error(`MQTT: unexpected packet type ${header >> 4} from the server`));
    }
  }

  private fail(e: Error): void {
    if (this.closedWith !== undefined) return;
    const wasUp = this.connected && !this.isClosed;
    this.closedWith = e;
    this.isClosed = true;
    clearInterval(this.ping);
    this.socket.destroy();
    this.connack?.reject(e);
    this.connack = undefined;
    for (const w of this.subacks.values()) w.reject(e);
    this.subacks.clear();
    if (wasUp) this.o.onClose?.(e);
  }
}

/**
 * The subscribers' child process (`lib/mqtt-subscribers.ts` starts it): `n` clients of
 * `filter` on `url`, all connected first, then all subscribed at once (subscribed one by
 * one, the later ones would wait behind the flood the earlier ones already get); then
 * `{ready}` on stdout and, every 500 ms, `{count, closed, lat}` as the mqtt.js script does.
 */
export async function runSubscribers(url: string, n: number, filter: string, username: string, password: string): Promise<void> {
  const u = new URL(url);
  let count = 0;
  let closed = 0;
  const lat: number[] = [];
  const onPublish = (header: number, buf: Buffer, start: number, end: number): void => {
    if (++count % 97 !== 0) return;
    const v = publishView(header, buf, start, end);
    if (buf.toString('utf8', v.topicStart, v.topicEnd).endsWith('$state')) return;
    const ts = (JSON.parse(buf.toString('utf8', v.payloadStart, v.payloadEnd)) as { ts?: unknown }).ts;
    if (typeof ts === 'number') lat.push(Date.now() - ts);
  };
  const clients = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      LeanClient.connect({ host: u.hostname, port: Number(u.port || 1883), clientId: `bench-sub-${process.pid}-${i}`, username, password, onPublish, onClose: () => closed++ }),
    ),
  );
  await Promise.all(clients.map((c) => c.subscribe(filter, 0)));
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  setInterval(() => process.stdout.write(JSON.stringify({ count, closed, lat: lat.splice(0) }) + '\n'), 500);
}
