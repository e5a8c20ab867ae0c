/**
 * A Modbus TCP client (MBAP framing, MODBUS Messaging on TCP/IP Implementation Guide
 * V1.0b §3.1.3) on a socket the link opened: the part of modbus-serial's promise API the
 * driver uses, for `modbus-tcp` links. modbus-serial's TCP transport turns each answer
 * into an RTU frame — a new Buffer, the running receive buffer concatenated, a CRC-16
 * computed and checked again — before parsing it; the poller reads every register of a
 * site this way, so here an answer is parsed once, in place, and the registers are a
 * view on the received bytes.
 *
 * One request at a time (the link queues them): a request is sent, and the next frame
 * that arrives must be its answer — same transaction id, unit and function, or the
 * exception form of the function (§4.1: function | 0x80 and a code). Anything else is a
 * malformed answer (an Error whose message the link classifies as a frame error and drops
 * the connection for); an exception response rejects with `modbusCode`, as modbus-serial does.
 */
import type net from 'node:net';

/** MBAP header (transaction, protocol, length) before the unit id. */
const MBAP = 6;
/** Largest `length` field: unit id + a PDU of at most 253 bytes (§4.1). */
const MAX_LENGTH = 254;

/** The client operations the driver and the link use (a subset of modbus-serial's ModbusRTU). */
export interface ModbusOps {
  setID(id: number): void;
  readCoils(address: number, length: number): Promise<{ data: boolean[]; buffer: Buffer }>;
  readDiscreteInputs(address: number, length: number): Promise<{ data: boolean[]; buffer: Buffer }>;
  readHoldingRegisters(address: number, length: number): Promise<{ data: number[]; buffer: Buffer }>;
  readInputRegisters(address: number, length: number): Promise<{ data: number[]; buffer: Buffer }>;
  writeCoil(address: number, state: boolean): Promise<{ address: number; state: boolean }>;
  writeRegister(address: number, value: number): Promise<{ address: number; value: number }>;
  writeRegisters(address: number, values: number[]): Promise<{ address: number; length: number }>;
}

interface Pending {
  readonly tid: number;
  readonly unit: number;
  readonly fc: number;
  /** Parses the PDU after the function code: bytes [from, end) of `frame`. */
  readonly parse: (frame: Buffer, from: number, end: number) => unknown;
  readonly resolve: (value: never) => void;
  readonly reject: (err: unknown) => void;
}

function malformed(message: string): Error {
  // "Unexpected data" / "length": what the link classifies as a malformed answer (link.ts).
  return new Error(`Unexpected data: ${message}`);
}

/**
 * The registers of an answer: `buffer` (their bytes, big-endian, as on the wire) and
 * `data` (one number each), the array made only when asked for — the driver's fast path
 * decodes from the bytes and never asks (an array of 120 numbers a request, ~1 kB, was a
 * good part of what a poll allocated).
 */
class WordsAnswer {
  private words: number[] | undefined;

  constructor(
    readonly buffer: Buffer,
    private readonly length: number,
  ) {}

  get data(): number[] {
    if (this.words === undefined) {
      const bytes = this.buffer;
      const data = new Array<number>(this.length);
      for (let i = 0; i < this.length; i++) data[i] = (bytes[2 * i]! << 8) | bytes[2 * i + 1]!;
      this.words = data;
    }
    return this.words;
  }
}

export class MbapClient implements ModbusOps {
  private unit = 1;
  private tid = 0;
  private pending: Pending | undefined;
  private rx: Buffer | undefined;

  /**
   * `reads: 'data'` (default): the socket's 'data' events. `reads: 'fed'`: the socket was
   * opened with net's `onread` option (one buffer of its own, reused for every read: no
   * Readable stream machinery and no new ArrayBuffer per answer), whose callback hands each
   * read to `feed`.
   */
  constructor(
    private readonly socket: net.Socket,
    reads: 'data' | 'fed' = 'data',
  ) {
    if (reads === 'data') socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('close', () => this.fail(Object.assign(new Error('Port Not Open'), { name: 'PortNotOpenError' })));
  }

  /**
   * Bytes read into a buffer the caller reuses (net's `onread`): valid during this call
   * only, so they are copied before anything keeps them (answers hold views on them).
   */
  feed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.receive(Buffer.from(bytes));
  }

  setID(id: number): void {
    this.unit = id;
  }

  private fail(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    this.rx = undefined;
    p?.reject(err);
  }

  private receive(chunk: Buffer): void {
    let rx = this.rx === undefined ? chunk : Buffer.concat([this.rx, chunk]);
    while (rx.length >= MBAP) {
      const length = rx.readUInt16BE(4);
      if (length < 2 || length > MAX_LENGTH || rx.readUInt16BE(2) !== 0) {
        // Not MBAP: no way to find the next frame in this stream.
        this.rx = undefined;
        this.fail(malformed(`not a Modbus TCP frame (protocol ${rx.readUInt16BE(2)}, length ${length})`));
        this.socket.destroy();
        return;
      }
      if (rx.length < MBAP + length) break;
      const frame = rx.subarray(0, MBAP + length);
      rx = rx.subarray(MBAP + length);
      this.answer(frame);
    }
    this.rx = rx.length === 0 ? undefined : rx;
  }

  private answer(frame: Buffer): void {
    const p = this.pending;
    if (p === undefined) return; // nobody asked (a late answer): ignored
    this.pending = undefined;
    const tid = frame.readUInt16BE(0);
    const unit = frame[6]!;
    const fc = frame[7]!;
    if (tid !== p.tid) return p.reject(malformed(`transaction ${tid}, expected ${p.tid}`));
    if (unit !== p.unit) return p.reject(malformed(`unit ${unit}, expected ${p.unit}`));
    if (fc === (p.fc | 0x80)) {
      if (frame.length < 9) return p.reject(malformed('exception response without a code'));
      const code = frame[8]!;
      return p.reject(Object.assign(new Error(`Modbus exception ${code}`), { name: 'ModbusExceptionError', modbusCode: code }));
    }
    if (fc !== p.fc) return p.reject(malformed(`function ${fc}, expected ${p.fc}`));
    let value: unknown;
    try {
      value = p.parse(frame, 8, frame.length);
    } catch (err) {
      return p.reject(err);
    }
    p.resolve(value as never);
  }

  private send<T>(fc: number, body: Buffer, parse: (frame: Buffer, from: number, end: number) => T): Promise<T> {
    if (this.pending !== undefined) return Promise.reject(new Error('a request is already waiting on this connection'));
    if (this.socket.destroyed) return Promise.reject(Object.assign(new Error('Port Not Open'), { name: 'PortNotOpenError' }));
    this.tid = (this.tid + 1) & 0xffff;
    const frame = Buffer.allocUnsafe(MBAP + 2 + body.length);
    frame.writeUInt16BE(this.tid, 0);
    frame.writeUInt16BE(0, 2);
    frame.writeUInt16BE(2 + body.length, 4);
    frame[6] = this.unit;
    frame[7] = fc;
    body.copy(frame, 8);
    return new Promise<T>((resolve, reject) => {
      this.pending = { tid: this.tid, unit: this.unit, fc, parse, resolve: resolve as (v: never) => void, reject };
      this.socket.write(frame);
    });
  }

  private static head(address: number, quantity: number): Buffer {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt16BE(address, 0);
    b.writeUInt16BE(quantity, 2);
    return b;
  }

  private readBits(fc: number, address: number, length: number): Promise<{ data: boolean[]; buffer: Buffer }> {
    return this.send(fc, MbapClient.head(address, length), (frame, from, end) => {
      const count = frame[from]!;
      const want = Math.ceil(length / 8);
      if (count !== want || end - from - 1 !== count) throw malformed(`Data length error, expected ${want} bytes, got ${count} (${end - from - 1} in the frame)`);
      const bytes = frame.subarray(from + 1, end);
      const data = new Array<boolean>(length);
      for (let i = 0; i < length; i++) data[i] = ((bytes[i >> 3]! >> (i & 7)) & 1) === 1;
      return { data, buffer: bytes };
    });
  }

  private readWords(fc: number, address: number, length: number): Promise<{ data: number[]; buffer: Buffer }> {
    return this.send(fc, MbapClient.head(address, length), (frame, from, end) => {
      const count = frame[from]!;
      if (count !== length * 2 || end - from - 1 !== count) throw malformed(`Data length error, expected ${length * 2} bytes, got ${count} (${end - from - 1} in the frame)`);
      return new WordsAnswer(frame.subarray(from + 1, end), length);
    });
  }

  readCoils(address: number, length: number): Promise<{ data: boolean[]; buffer: Buffer }> {
    return this.readBits(1, address, length);
  }

  readDiscreteInputs(address: number, length: number): Promise<{ data: boolean[]; buffer: Buffer }> {
    return this.readBits(2, address, length);
  }

  readHoldingRegisters(address: number, length: number): Promise<{ data: number[]; buffer: Buffer }> {
    return this.readWords(3, address, length);
  }

  readInputRegisters(address: number, length: number): Promise<{ data: number[]; buffer: Buffer }> {
    return this.readWords(4, address, length);
  }

  /** Echo of a write: address and a 16-bit value, 4 bytes. */
  private static echo(frame: Buffer, from: number, end: number): { address: number; value: number } {
    if (end - from !== 4) throw malformed(`Data length error, expected a 4-byte echo, got ${end - from} bytes`);
    return { address: frame.readUInt16BE(from), value: frame.readUInt16BE(from + 2) };
  }

  writeCoil(address: number, state: boolean): Promise<{ address: number; state: boolean }> {
    // §6.5: ON is 0xFF00, OFF 0x0000.
    return this.send(5, MbapClient.head(address, state ? 0xff00 : 0), (frame, from, end) => {
      const e = MbapClient.echo(frame, from, end);
      return { address: e.address, state: e.value === 0xff00 };
    });
  }

  writeRegister(address: number, value: number): Promise<{ address: number; value: number }> {
    return this.send(6, MbapClient.head(address, value & 0xffff), MbapClient.echo);
  }

  writeRegisters(address: number, values: number[]): Promise<{ address: number; length: number }> {
    const body = Buffer.allocUnsafe(5 + values.length * 2);
    body.writeUInt16BE(address, 0);
    body.writeUInt16BE(values.length, 2);
    body[4] = values.length * 2;
    values.forEach((v, i) => body.writeUInt16BE(v & 0xffff, 5 + i * 2));
    return this.send(16, body, (frame, from, end) => {
      const e = MbapClient.echo(frame, from, end);
      return { address: e.address, length: e.value };
    });
  }
}
