/**
 * The simulator's UDP transport under @bacnet-js/client: binds the host and port a
 * simulated device is configured with (0 = an ephemeral port, which the library's own
 * transport cannot do: it binds `port || 47808`), names every sender `ip:port` (so the
 * library's drop of the bare "127.0.0.1" sender never applies, DEPENDENCIES.md) and
 * never broadcasts. Written apart from the gateway's transport on purpose: the simulator
 * is the peer the driver is tested against, and should not share its code.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';

export class SimUdpTransport extends EventEmitter {
  private readonly socket = dgram.createSocket({ type: 'udp4' });
  readonly ready: Promise<{ address: string; port: number }>;
  /** While true, incoming datagrams are dropped (a stalled or rebooting device). */
  deaf = false;
  /**
   * While set, what the library sends is handed here instead of to the socket, and the
   * library gets room for an APDU larger than one datagram: the device then decides
   * whether to send it whole, in segments or not at all (segmenter.ts).
   */
  capture: ((datagram: Buffer, receiver: string) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    super();
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('listening', () => resolve(this.socket.address()));
      this.socket.once('error', reject);
    });
    this.ready.catch(() => undefined);
    this.socket.on('message', (msg, rinfo) => {
      if (this.deaf) return;
      const sender = `${rinfo.address}:${rinfo.port}`;
      // A SegmentACK (§20.1.6) to a segmented answer: the library would mistake it for a segment of its own.
      if (msg.length >= 10 && msg[0] === 0x81 && msg[4] === 0x01 && msg[5] === 0x00 && (msg[6]! & 0xf0) === 0x40) {
        this.emit('segmentAck', msg.subarray(6), sender);
        return;
      }
      this.emit('message', msg, sender);
    });
    this.socket.on('error', (err) => this.emit('error', err));
  }

  getBroadcastAddress(): string {
    return '255.255.255.255';
  }

  getMaxPayload(): number {
    return this.capture === undefined ? 1482 : 65_535;
  }

  send(buffer: Buffer, offset: number, receiver?: string): void {
    if (receiver === undefined || receiver === '') return;
    if (this.capture !== undefined) return this.capture(Buffer.from(buffer.subarray(0, offset)), receiver);
    const colon = receiver.lastIndexOf(':');
    this.socket.send(buffer, 0, offset, colon > 0 ? Number(receiver.slice(colon + 1)) : 47808, colon > 0 ? receiver.slice(0, colon) : receiver);
  }

  /** Sends a raw BACnet/IP datagram (Reject and Abort PDUs, which the library cannot send). */
  sendRaw(datagram: Buffer, receiver: string): void {
    if (receiver === '') return;
    const colon = receiver.lastIndexOf(':');
    this.socket.send(datagram, 0, datagram.length, colon > 0 ? Number(receiver.slice(colon + 1)) : 47808, colon > 0 ? receiver.slice(0, colon) : receiver);
  }

  open(): void {
    this.socket.bind(this.port, this.host);
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/** A BVLC Original-Unicast-NPDU (Annex J.2.11) around an APDU, with a plain NPDU (§6.2: version 1, no control bits). */
export function unicastDatagram(apdu: readonly number[]): Buffer {
  const length = 4 + 2 + apdu.length;
  return Buffer.from([0x81, 0x0a, length >> 8, length & 0xff, 0x01, 0x00, ...apdu]);
}
