/**
 * The UDP transport under @bacnet-js/client for the gateway: BACnet/IP (ASHRAE 135
 * Annex J) on a local port of our choosing, unicast only.
 *
 * Why our own (the library accepts any object with its transport's shape):
 * - the library's transport binds `port || 47808`, so port 0 (an ephemeral port, what
 *   a gateway polling devices wants, and what tests need) is impossible with it;
 * - it names a sender on port 47808 by its bare IP, and the client then drops every
 *   service request from the bare "127.0.0.1" (DEPENDENCIES.md). We always name the
 *   sender `ip:port`, which keeps unicast replies correct and that filter inert;
 * - the client reports a Reject PDU and an Abort PDU alike ("BacnetAbort - Reason:n"),
 *   yet reject reason 9 is unrecognized-service and abort reason 9 out-of-resources. We
 *   peek at each incoming APDU (§20.1.7 BACnet-Reject-PDU, §20.1.8 BACnet-Abort-PDU)
 *   and remember which one answered an invoke id.
 * - it never broadcasts: a send without a receiver is dropped (the driver only ever
 *   unicasts Who-Is to a configured address, or hands it to a BBMD);
 * - segmented answers (§5.2, §20.1.5) are reassembled here, per sender and invoke id,
 *   and handed to the library as one unsegmented ComplexACK. The library reassembles
 *   into a single store (and sequence counter) per client, so two segmented answers
 *   arriving at once on the socket that all devices share are mixed up (tried: the
 *   "two at once" test of bacnet-segmentation.test.ts fails without this). We
 *   acknowledge the first segment and then each window's last (§5.4), NAK a gap, and
 *   give up on an answer whose next segment does not come (the request then times out).
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';

/** What answered a confirmed request when it was not an ack or an Error PDU. */
export interface ApduRefusal {
  readonly pdu: 'reject' | 'abort';
  readonly reason: number;
}

/** Annex J.2: BVLC type 0x81; Original-Unicast/Broadcast-NPDU carry a 4-octet header, Forwarded-NPDU 10. */
const BVLC_TYPE = 0x81;
const BVLC_FORWARDED_NPDU = 0x04;
const MAX_PAYLOAD = 1482;
/** Window size we accept (§5.3: actual-window-size ≤ the server's proposed, 1–127). */
const WINDOW = 16;
/** The largest reassembled APDU we accept; beyond it the answer is aborted (buffer-overflow). */
const MAX_REASSEMBLED = 60_000;
/** How long a half-reassembled answer is kept without a new segment (Tseg, §5.3). */
const SEGMENT_TIMEOUT_MS = 5000;

interface Reassembly {
  readonly service: number;
  readonly chunks: Buffer[];
  size: number;
  /** Next sequence number expected (mod 256). */
  next: number;
  /** Sequence number that ends the current window. */
  windowEnd: number;
  timer: NodeJS.Timeout;
}

/** A BVLC Original-Unicast-NPDU (Annex J.2.11) with a plain NPDU (§6.2) around `apdu`. */
function unicast(apdu: readonly number[] | Buffer): Buffer {
  const length = 6 + apdu.length;
  return Buffer.concat([Buffer.from([BVLC_TYPE, 0x0a, length >> 8, length & 0xff, 0x01, 0x00]), Buffer.from(apdu)]);
}

/** Where the APDU of a BACnet/IP datagram starts, or undefined for a network-layer message (§6.2). */
export function apduOffset(msg: Buffer): number | undefined {
  if (msg.length < 6 || msg[0] !== BVLC_TYPE) return undefined;
  let pos = msg[1] === BVLC_FORWARDED_NPDU ? 10 : 4;
  const control = msg[pos + 1];
  if (msg[pos] !== 0x01 || control === undefined || (control & 0x80) !== 0) return undefined;
  pos += 2;
  const hasDestination = (control & 0x20) !== 0;
  if (hasDestination) pos += 3 + (msg[pos + 2] ?? 0);
  if ((control & 0x08) !== 0) pos += 3 + (msg[pos + 2] ?? 0);
  if (hasDestination) pos += 1; // hop count
  return pos < msg.length ? pos : undefined;
}

export class UdpTransport extends EventEmitter {
  private readonly socket: dgram.Socket;
  private readonly refusals = new Map<number, ApduRefusal>();
  private readonly reassembly = new Map<string, Reassembly>();
  /** Segmented answers reassembled so far (for tests and diagnostics). */
  segmentedAnswers = 0;
  /** Resolves with the bound address once the socket listens; rejects if it cannot bind. */
  readonly ready: Promise<{ address: string; port: number }>;

  constructor(
    private readonly port: number,
    private readonly host?: string,
  ) {
    super();
    this.socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('listening', () => {
        const a = this.socket.address();
        resolve({ address: a.address, port: a.port });
      });
      this.socket.once('error', reject);
    });
    this.ready.catch(() => undefined);
    this.socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    this.socket.on('error', (err) => this.emit('error', err));
    this.socket.on('close', () => this.emit('close'));
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const at = apduOffset(msg);
    if (at !== undefined) {
      const type = (msg[at]! & 0xf0) >> 4;
      // §20.1.7/§20.1.8: type, original invoke id, reason.
      if ((type === 6 || type === 7) && at + 2 < msg.length) this.refusals.set(msg[at + 1]!, { pdu: type === 6 ? 'reject' : 'abort', reason: msg[at + 2]! });
      // §20.1.5: a ComplexACK with segmented-message set.
      if (type === 3 && (msg[at]! & 0x08) !== 0) {
        this.segment(msg.subarray(at), rinfo);
        return;
      }
    }
    this.emit('message', msg, `${rinfo.address}:${rinfo.port}`);
  }

  private segment(apdu: Buffer, rinfo: dgram.RemoteInfo): void {
    if (apdu.length < 5) return;
    const sender = `${rinfo.address}:${rinfo.port}`;
    const moreFollows = (apdu[0]! & 0x04) !== 0;
    const [invokeId, seq, proposed, service] = [apdu[1]!, apdu[2]!, apdu[3]!, apdu[4]!];
    const k = `${sender}/${invokeId}`;
    const window = Math.max(1, Math.min(WINDOW, proposed));
    const ack = (negative: boolean, last: number) => this.socket.send(unicast([0x40 | (negative ? 0x02 : 0), invokeId, last & 0xff, window]), rinfo.port, rinfo.address);
    let r = this.reassembly.get(k);
    // Sequence numbers are one octet: after 256 segments 0 comes again and continues the answer.
    if (seq === 0 && (r === undefined || r.next !== 0 || r.chunks.length === 0)) {
      // A first segment (again): start over. §5.4.4: the first segment is acknowledged alone.
      if (r !== undefined) clearTimeout(r.timer);
      r = { service, chunks: [], size: 0, next: 0, windowEnd: 0, timer: this.segmentTimer(k) };
      this.reassembly.set(k, r);
    }
    if (r === undefined) return; // a segment of an answer we are not reassembling
    if (seq !== r.next) {
      // §5.4: a segment ahead of the next expected means one was lost: tell the server the
      // last one we have in order (negative SegmentACK). One behind it is a duplicate of a
      // resent window: dropped.
      if (((seq - r.next) & 0xff) < 128) ack(true, (r.next + 255) & 0xff);
      return;
    }
    r.chunks.push(apdu.subarray(5));
    r.size += apdu.length - 5;
    if (r.size > MAX_REASSEMBLED) {
      this.drop(k);
      this.socket.send(unicast([0x70, invokeId, 1]), rinfo.port, rinfo.address); // §20.1.8 from the client: buffer-overflow
      return;
    }
    clearTimeout(r.timer);
    r.timer = this.segmentTimer(k);
    r.next = (seq + 1) & 0xff;
    if (!moreFollows) {
      this.drop(k);
      ack(false, seq);
      this.segmentedAnswers++;
      // Handed to the library as if the device had sent it whole.
      this.emit('message', unicast(Buffer.concat([Buffer.from([0x30, invokeId, r.service]), ...r.chunks])), sender);
      return;
    }
    if (seq === r.windowEnd) {
      ack(false, seq);
      r.windowEnd = (seq + window) & 0xff;
    }
  }

  private segmentTimer(k: string): NodeJS.Timeout {
    const timer = setTimeout(() => this.reassembly.delete(k), SEGMENT_TIMEOUT_MS);
    timer.unref();
    return timer;
  }

  private drop(k: string): void {
    const r = this.reassembly.get(k);
    if (r !== undefined) clearTimeout(r.timer);
    this.reassembly.delete(k);
  }

  /** Which PDU refused the request with `invokeId` (read once). */
  takeRefusal(invokeId: number): ApduRefusal | undefined {
    const r = this.refusals.get(invokeId);
    this.refusals.delete(invokeId);
    return r;
  }

  /** Forgets a refusal noted for `invokeId` (before the id is used again). */
  forget(invokeId: number): void {
    this.refusals.delete(invokeId);
  }

  // The shape @bacnet-js/client expects of a transport:

  getBroadcastAddress(): string {
    return '255.255.255.255';
  }

  getMaxPayload(): number {
    return MAX_PAYLOAD;
  }

  send(buffer: Buffer, offset: number, receiver?: string): void {
    if (receiver === undefined || receiver === '') return; // never broadcast
    const colon = receiver.lastIndexOf(':');
    const host = colon > 0 ? receiver.slice(0, colon) : receiver;
    const port = colon > 0 ? Number(receiver.slice(colon + 1)) : 47808;
    this.socket.send(buffer, 0, offset, port, host);
  }

  open(): void {
    this.socket.bind(this.port, this.host);
  }

  close(): void {
    for (const k of [...this.reassembly.keys()]) this.drop(k);
    try {
      this.socket.close();
    } catch {
      // Not bound or already closed.
    }
  }
}
