/**
 * How the simulated device sends an answer that may not fit one APDU, as a real device
 * does (ASHRAE 135 §5.2, §5.4.5, §20.1.5/§20.1.6):
 *
 * - it fits the smaller of the device's max APDU and the client's max-APDU-accepted: sent
 *   as is;
 * - it does not fit, and the device cannot segment or the client did not say
 *   segmented-response-accepted: Abort segmentation-not-supported (§5.4.5.3);
 * - it would need more segments than the client's max-segments-accepted: Abort
 *   buffer-overflow;
 * - otherwise a segmented ComplexACK: the first segment alone, then windows of segments
 *   as the client's SegmentACKs ask (a negative SegmentACK resends from the segment after
 *   the one it names); a window that is not acknowledged within Tseg is sent again, up to
 *   3 times.
 *
 * The datagrams are built here, not by @bacnet-js/client: the library never segments
 * what it sends.
 */
import { unicastDatagram } from './udp-transport.js';

/** §20.1.2.5 max-APDU-length-accepted codes → octets. */
const MAX_APDU_OCTETS = [50, 128, 206, 480, 1024, 1476];
/** §20.1.2.4 max-segments-accepted codes → segments (0 = unspecified, 7 = more than 64). */
const MAX_SEGMENTS = [Infinity, 2, 4, 8, 16, 32, 64, Infinity];
/** Segments the server proposes per window (§5.3). */
const PROPOSED_WINDOW = 4;
const ABORT_BUFFER_OVERFLOW = 1;
const ABORT_SEGMENTATION_NOT_SUPPORTED = 4;

/** The header fields of the confirmed request being answered, as the library decodes them. */
export interface RequestHeader {
  readonly invokeId: number;
  /** PDU type octet: bit 1 (0x02) is segmented-response-accepted. */
  readonly type: number;
  /** High nibble of octet 2 (already masked, not shifted). */
  readonly maxSegments: number;
  /** Low nibble of octet 2. */
  readonly maxApdu: number;
}

interface Outgoing {
  readonly segments: Buffer[];
  /** Gives the answer up when the client has gone quiet. */
  readonly timer: NodeJS.Timeout;
  /** The window last sent, resent when no SegmentACK comes within Tseg. */
  window: { from: number; to: number; retries: number; timer: NodeJS.Timeout | undefined };
}

/** APDU_Segment_Timeout (§12.11.29) of the simulated device, ms, and Number_Of_APDU_Retries. */
const SEGMENT_TIMEOUT_MS = 300;
const RETRIES = 3;

export interface SegmenterStats {
  /** Answers sent in segments. */
  segmented: number;
  /** Segments sent (including resends). */
  segmentsSent: number;
  /** Answers refused with segmentation-not-supported or buffer-overflow. */
  aborted: number;
  /** Segments not sent on purpose (`dropOnce`), as a lossy network would. */
  dropped: number;
  /** Negative SegmentACKs received. */
  negativeAcks: number;
  /** Windows sent again because no SegmentACK came within Tseg. */
  resentWindows: number;
}

export class Segmenter {
  private readonly outgoing = new Map<string, Outgoing>();
  readonly stats: SegmenterStats = { segmented: 0, segmentsSent: 0, aborted: 0, dropped: 0, negativeAcks: 0, resentWindows: 0 };
  /** Sequence numbers whose first transmission is lost (each once), to exercise the client's negative SegmentACK. */
  readonly dropOnce = new Set<number>();

  constructor(
    private readonly send: (datagram: Buffer, receiver: string) => void,
    /** The device's own max APDU (Max_APDU_Length_Accepted), octets. */
    public maxApdu: number,
    /** Whether the device can send segmented answers (segmented-transmit or both). */
    public canSegment: boolean,
  ) {}

  /** Sends `datagram` (a complete unsegmented ComplexACK the library encoded) to `receiver` the way the limits allow. */
  answer(datagram: Buffer, receiver: string, request: RequestHeader): void {
    // BVLC (4) + NPDU version/control (2): the library's answers carry no network addresses.
    const apdu = datagram.subarray(6);
    const limit = Math.min(this.maxApdu, MAX_APDU_OCTETS[request.maxApdu] ?? 1476);
    if (apdu.length <= limit) return this.send(datagram, receiver);
    const abort = (reason: number) => {
      this.stats.aborted++;
      this.send(unicastDatagram([0x71, request.invokeId, reason]), receiver); // §20.1.8, sent by the server
    };
    if (!this.canSegment || (request.type & 0x02) === 0) return abort(ABORT_SEGMENTATION_NOT_SUPPORTED);
    const service = apdu[2]!;
    const body = apdu.subarray(3);
    const chunk = limit - 5; // §20.1.5: type, invoke id, sequence number, window, service
    const count = Math.ceil(body.length / chunk);
    if (count > 256 || count > (MAX_SEGMENTS[request.maxSegments >> 4] ?? Infinity)) return abort(ABORT_BUFFER_OVERFLOW);
    const segments: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const more = i < count - 1;
      segments.push(unicastDatagram([0x38 | (more ? 0x04 : 0), request.invokeId, i, PROPOSED_WINDOW, service, ...body.subarray(i * chunk, (i + 1) * chunk)]));
    }
    const k = `${receiver}/${request.invokeId}`;
    const previous = this.outgoing.get(k);
    if (previous !== undefined) this.forget(k);
    // A client that never acknowledges is given up on (Tseg, §5.3), without retries: loopback does not lose datagrams.
    const timer = setTimeout(() => this.outgoing.delete(k), 5000);
    timer.unref();
    this.outgoing.set(k, { segments, timer, window: { from: 0, to: 0, retries: 0, timer: undefined } });
    this.stats.segmented++;
    this.sendWindow(k, receiver, 0, 0);
  }

  /** Sends segments from..to and resends them if no SegmentACK comes within Tseg (§5.4.5.2). */
  private sendWindow(k: string, receiver: string, from: number, to: number, retries = 0): void {
    const out = this.outgoing.get(k);
    if (out === undefined) return;
    clearTimeout(out.window.timer);
    if (retries > 0) this.stats.resentWindows++;
    for (let i = from; i <= to; i++) this.sendSegment(k, receiver, i);
    const timer = retries < RETRIES ? setTimeout(() => this.sendWindow(k, receiver, from, to, retries + 1), SEGMENT_TIMEOUT_MS) : undefined;
    timer?.unref();
    out.window = { from, to, retries, timer };
  }

  private forget(k: string): void {
    const out = this.outgoing.get(k);
    if (out === undefined) return;
    clearTimeout(out.timer);
    clearTimeout(out.window.timer);
    this.outgoing.delete(k);
  }

  /** A SegmentACK PDU (§20.1.6) from `sender`; `apdu` starts at its type octet. */
  onSegmentAck(apdu: Buffer, sender: string): void {
    if (apdu.length < 4) return;
    const negative = (apdu[0]! & 0x02) !== 0;
    const [invokeId, seq, window] = [apdu[1]!, apdu[2]!, Math.max(1, apdu[3]!)];
    const k = `${sender}/${invokeId}`;
    const out = this.outgoing.get(k);
    if (out === undefined) return;
    if (negative) this.stats.negativeAcks++;
    const last = out.segments.length - 1;
    if (!negative && seq >= last) return this.forget(k);
    this.sendWindow(k, sender, seq + 1, Math.min(last, seq + window));
  }

  private sendSegment(k: string, receiver: string, i: number): void {
    const seg = this.outgoing.get(k)?.segments[i];
    if (seg === undefined) return;
    if (this.dropOnce.delete(i)) {
      this.stats.dropped++;
      return;
    }
    this.stats.segmentsSent++;
    this.send(seg, receiver);
  }

  close(): void {
    for (const k of [...this.outgoing.keys()]) this.forget(k);
  }
}
