/**
 * A small BBMD stand-in for tests (ASHRAE 135 Annex J.4/J.5), on loopback: it keeps a
 * foreign-device table, answers Register-Foreign-Device with a BVLC-Result, and
 * "broadcasts" on its subnet — which here is a list of simulated devices it is given,
 * each reached by unicast, since tests never send a real broadcast:
 *
 * - Distribute-Broadcast-To-Network from a registered foreign device → a Forwarded-NPDU
 *   (originating address: the foreign device) to every device of the subnet; from an
 *   unregistered one → BVLC-Result NAK 0x0060 (J.4.3.1);
 * - an unconfirmed NPDU a device sends to the BBMD (its I-Am: a real device broadcasts
 *   it, and the BBMD hears it) → a Forwarded-NPDU (originating address: the device) to
 *   every foreign device whose entry has not expired (TTL + 30 s grace, J.5.2.3).
 */
import dgram from 'node:dgram';

export interface ForeignDeviceEntry {
  readonly address: string;
  readonly ttlS: number;
  expiresAt: number;
}

export interface BbmdStandInOptions {
  readonly host?: string;
  readonly port?: number;
  /** Answer Register-Foreign-Device with NAK 0x0030 (J.2.1.1) instead of success. */
  readonly refuse?: boolean;
  /** Grace period added to each TTL, s (J.5.2.3: 30). */
  readonly graceS?: number;
}

const BVLC = { RESULT: 0x00, FORWARDED_NPDU: 0x04, REGISTER_FOREIGN_DEVICE: 0x05, DISTRIBUTE_BROADCAST: 0x09, ORIGINAL_UNICAST: 0x0a, ORIGINAL_BROADCAST: 0x0b } as const;

function parse(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
}

export class BbmdStandIn {
  /** Every Register-Foreign-Device received: who, TTL, when (ms epoch). */
  readonly registrations: { address: string; ttlS: number; at: number }[] = [];
  /** Distribute-Broadcast-To-Network messages received and forwarded. */
  readonly distributed: { from: string; npdu: Buffer }[] = [];
  /** Datagrams forwarded to foreign devices. */
  forwardedToForeign = 0;
  /** Registrations that came after the previous entry had already expired (the foreign device was unreachable for a while). */
  lapsed = 0;
  readonly fdt = new Map<string, ForeignDeviceEntry>();
  /** The devices on the BBMD's "subnet" (ip:port). */
  readonly subnet = new Set<string>();
  refuse: boolean;
  host = '';
  port = 0;
  private readonly socket = dgram.createSocket('udp4');
  private readonly graceS: number;

  private constructor(opts: BbmdStandInOptions) {
    this.refuse = opts.refuse ?? false;
    this.graceS = opts.graceS ?? 30;
    this.socket.on('message', (msg, rinfo) => this.receive(msg, `${rinfo.address}:${rinfo.port}`));
    this.socket.on('error', () => undefined);
  }

  static async start(opts: BbmdStandInOptions = {}): Promise<BbmdStandIn> {
    const bbmd = new BbmdStandIn(opts);
    await new Promise<void>((resolve, reject) => {
      bbmd.socket.once('error', reject);
      bbmd.socket.bind(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
    });
    const a = bbmd.socket.address();
    bbmd.host = a.address;
    bbmd.port = a.port;
    return bbmd;
  }

  private send(datagram: Buffer, to: string): void {
    const { host, port } = parse(to);
    this.socket.send(datagram, port, host);
  }

  private result(code: number, to: string): void {
    this.send(Buffer.from([0x81, BVLC.RESULT, 0x00, 0x06, code >> 8, code & 0xff]), to);
  }

  /** A Forwarded-NPDU (J.2.5) of `npdu` from `origin`. */
  private forwarded(npdu: Buffer, origin: string): Buffer {
    const { host, port } = parse(origin);
    const length = 10 + npdu.length;
    return Buffer.concat([Buffer.from([0x81, BVLC.FORWARDED_NPDU, length >> 8, length & 0xff, ...host.split('.').map(Number), port >> 8, port & 0xff]), npdu]);
  }

  private receive(msg: Buffer, from: string): void {
    if (msg.length < 4 || msg[0] !== 0x81) return;
    const fn = msg[1];
    const now = Date.now();
    for (const [k, e] of this.fdt) if (e.expiresAt <= now) this.fdt.delete(k);
    if (fn === BVLC.REGISTER_FOREIGN_DEVICE && msg.length >= 6) {
      const ttlS = msg.readUInt16BE(4);
      this.registrations.push({ address: from, ttlS, at: now });
      if (this.registrations.filter((r) => r.address === from).length > 1 && !this.fdt.has(from)) this.lapsed++;
      if (this.refuse) return this.result(0x0030, from);
      this.fdt.set(from, { address: from, ttlS, expiresAt: now + (ttlS + this.graceS) * 1000 });
      return this.result(0x0000, from);
    }
    if (fn === BVLC.DISTRIBUTE_BROADCAST) {
      if (!this.fdt.has(from)) return this.result(0x0060, from);
      const npdu = msg.subarray(4);
      this.distributed.push({ from, npdu: Buffer.from(npdu) });
      for (const device of this.subnet) this.send(this.forwarded(npdu, from), device);
      return;
    }
    if ((fn === BVLC.ORIGINAL_UNICAST || fn === BVLC.ORIGINAL_BROADCAST) && this.subnet.has(from)) {
      // What a device of the subnet broadcasts (its I-Am) goes to the foreign devices.
      const npdu = msg.subarray(4);
      for (const e of this.fdt.values()) {
        this.forwardedToForeign++;
        this.send(this.forwarded(npdu, from), e.address);
      }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}
