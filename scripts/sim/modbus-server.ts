/**
 * A Modbus server on node:net for simulators, tests and benchmarks. Answers are built
 * synchronously from a register bank and written in the same turn of the event loop as
 * the request arrived — no timer on the reply path (modbus-serial's ServerTCP waits a
 * `setTimeout(0)` before every answer, ≥ 1 ms, which caps a benchmark at ~1000 req/s per
 * connection).
 *
 * Framing:
 * - `mbap` (Modbus TCP): MBAP header (MODBUS Messaging on TCP/IP Implementation Guide
 *   V1.0b §3.1.3) — transaction id, protocol id 0, length (unit id + PDU), unit id. Any
 *   number of frames per TCP chunk, and frames split across chunks, are handled; a
 *   header that cannot be Modbus (protocol id ≠ 0, length outside 2…254) closes that
 *   connection, nothing else.
 * - `rtu` (RTU over TCP, as serial device servers forward it): unit id, PDU, CRC-16
 *   (Modbus over Serial Line V1.02 §2.5.1); a bad CRC or an unknown frame closes the
 *   connection (a byte stream cannot be re-synchronised by silence as a serial line can).
 *
 * Faults for tests, changeable while running: `stall` (accept, read, never answer),
 * `silentUnits` (never answer these unit ids: dead units behind a shared gateway),
 * `close` (drop every connection, refuse new ones), `exception` (answer every request
 * with this exception code), `delayMs` (answer late: a slow device or gateway). Only
 * `delayMs` puts a timer on the reply path, and only while it is set.
 */
import net from 'node:net';
import { crc16 } from './crc16.js';
import { answerPdu, exceptionPdu, GATEWAY_TARGET_FAILED } from './modbus-pdu.js';
import { RegisterBank } from './register-bank.js';

export interface ServerFaults {
  /** Accept connections and requests, answer none. */
  stall?: boolean;
  /** Close every connection as soon as it opens (and those open when set through `setFaults`). */
  close?: boolean;
  /** Answer every request with this exception code (§7), e.g. 4 server device failure. */
  exception?: number;
  /** Never answer requests for these unit ids (as units that died on a bus). */
  silentUnits?: readonly number[];
  /** Hold every answer this many ms before sending it (answers keep their order). */
  delayMs?: number;
}

export interface ModbusServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) picks a free port; read it back from `ModbusServer.port`. */
  readonly port?: number;
  /** Default `mbap` (Modbus TCP). */
  readonly framing?: 'mbap' | 'rtu';
  /**
   * One bank answers every unit id; a map answers only its unit ids (others get exception
   * 0x0B "gateway target device failed to respond" over MBAP, silence over RTU, as a
   * missing unit on a bus).
   */
  readonly units: RegisterBank | ReadonlyMap<number, RegisterBank>;
  readonly faults?: ServerFaults;
}

export interface ServerStats {
  connections: number;
  requests: number;
  /** Requests by function code. */
  functions: Record<number, number>;
  exceptions: number;
  /** Connections closed because they sent something that is not Modbus. */
  garbage: number;
}

export interface ModbusServer {
  readonly host: string;
  readonly port: number;
  readonly framing: 'mbap' | 'rtu';
  readonly faults: Readonly<ServerFaults>;
  readonly stats: Readonly<ServerStats>;
  /** Replaces the faults; `close: true` also drops the connections open now. */
  setFaults(faults: ServerFaults): void;
  /** Closes every open connection (the server keeps listening). */
  dropConnections(): void;
  close(): Promise<void>;
}

const MBAP_HEADER = 7; // transaction id (2), protocol id (2), length (2), unit id (1)
const MAX_MBAP_LENGTH = 254; // unit id + PDU of at most 253 bytes (§4.1: ADU ≤ 260)
const EMPTY = Buffer.alloc(0);

/** The bank for `unit`, or undefined when no such unit is served. */
function bankFor(units: ModbusServerOptions['units'], unit: number): RegisterBank | undefined {
  return units instanceof RegisterBank ? units : units.get(unit);
}

/** Length of the RTU request frame starting at `off` (with CRC), or 0 when more bytes are needed to tell, or -1 for a function we cannot size. */
function rtuRequestLength(buf: Buffer, off: number): number {
  const avail = buf.length - off;
  if (avail < 2) return 0;
  const fc = buf[off + 1]!;
  if (fc >= 1 && fc <= 6) return 8; // unit, fc, 2 × uint16, crc
  if (fc === 15 || fc === 16) return avail < 7 ? 0 : 9 + buf[off + 6]!; // unit, fc, start, qty, byte count, data, crc
  return -1;
}

export function startModbusServer(options: ModbusServerOptions): Promise<ModbusServer> {
  const host = options.host ?? '127.0.0.1';
  const framing = options.framing ?? 'mbap';
  let faults: ServerFaults = { ...(options.faults ?? {}) };
  const stats: ServerStats = { connections: 0, requests: 0, functions: {}, exceptions: 0, garbage: 0 };
  const sockets = new Set<net.Socket>();
  const delayed = new Set<NodeJS.Timeout>();

  /** The response PDU for one request, or undefined for no answer. */
  const respond = (unit: number, pdu: Buffer): Buffer | undefined => {
    const fc = pdu[0]!;
    stats.requests++;
    stats.functions[fc] = (stats.functions[fc] ?? 0) + 1;
    if (faults.stall === true || faults.silentUnits?.includes(unit) === true) return undefined;
    if (faults.exception !== undefined) {
      stats.exceptions++;
      return exceptionPdu(fc, faults.exception);
    }
    const bank = bankFor(options.units, unit);
    if (bank === undefined) {
      if (framing === 'rtu') return undefined;
      stats.exceptions++;
      return exceptionPdu(fc, GATEWAY_TARGET_FAILED);
    }
    const answer = answerPdu(bank, pdu);
    if ((answer[0]! & 0x80) !== 0) stats.exceptions++;
    return answer;
  };

  const garbage = (socket: net.Socket) => {
    stats.garbage++;
    socket.destroy();
  };

  /** Parses every whole MBAP frame of `buf`; returns what is left (a partial frame) or undefined when the connection was closed. */
  const onMbap = (socket: net.Socket, buf: Buffer, replies: Buffer[]): Buffer | undefined => {
    let off = 0;
    while (buf.length - off >= MBAP_HEADER) {
      const protocolId = buf.readUInt16BE(off + 2);
      const length = buf.readUInt16BE(off + 4);
      if (protocolId !== 0 || length < 2 || length > MAX_MBAP_LENGTH) {
        garbage(socket);
        return undefined;
      }
      if (buf.length - off < 6 + length) break;
      const unit = buf[off + 6]!;
      const answer = respond(unit, buf.subarray(off + MBAP_HEADER, off + 6 + length));
      if (answer !== undefined) {
        const frame = Buffer.allocUnsafe(MBAP_HEADER + answer.length);
        buf.copy(frame, 0, off, off + 4); // transaction id and protocol id, echoed (§3.1.3)
        frame.writeUInt16BE(answer.length + 1, 4);
        frame[6] = unit;
        answer.copy(frame, MBAP_HEADER);
        replies.push(frame);
      }
      off += 6 + length;
    }
    return off === buf.length ? EMPTY : buf.subarray(off);
  };

  const onRtu = (socket: net.Socket, buf: Buffer, replies: Buffer[]): Buffer | undefined => {
    let off = 0;
    while (buf.length - off >= 4) {
      let length = rtuRequestLength(buf, off);
      if (length === 0) break;
      // A function we cannot size: take it to be all that arrived, if its CRC says so (answered with exception 1).
      if (length === -1) length = buf.length - off;
      if (buf.length - off < length) break;
      const end = off + length;
      if (crc16(buf, off, end - 2) !== buf.readUInt16LE(end - 2)) {
        garbage(socket);
        return undefined;
      }
      const unit = buf[off]!;
      const answer = respond(unit, buf.subarray(off + 1, end - 2));
      if (answer !== undefined) {
        const frame = Buffer.allocUnsafe(answer.length + 3);
        frame[0] = unit;
        answer.copy(frame, 1);
        frame.writeUInt16LE(crc16(frame, 0, frame.length - 2), frame.length - 2);
        replies.push(frame);
      }
      off = end;
    }
    return off === buf.length ? EMPTY : buf.subarray(off);
  };

  const onConnection = (socket: net.Socket) => {
    if (faults.close === true) {
      socket.destroy();
      return;
    }
    stats.connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    let pending = EMPTY;
    socket.on('data', (chunk: Buffer) => {
      const buf = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      const replies: Buffer[] = [];
      const rest = framing === 'mbap' ? onMbap(socket, buf, replies) : onRtu(socket, buf, replies);
      if (rest === undefined) return;
      // Keep only the unparsed tail, copied so the chunk it came from can be freed.
      pending = rest.length === 0 ? EMPTY : Buffer.from(rest);
      if (replies.length === 0) return;
      const out = replies.length === 1 ? replies[0]! : Buffer.concat(replies);
      const delayMs = faults.delayMs ?? 0;
      if (delayMs <= 0) {
        socket.write(out);
        return;
      }
      // Timers of equal delay fire in the order they were set, so answers keep their order.
      const timer = setTimeout(() => {
        delayed.delete(timer);
        if (!socket.destroyed) socket.write(out);
      }, delayMs);
      timer.unref();
      delayed.add(timer);
    });
    // A client that resets the connection must not take the server down.
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };

  const server = net.createServer(onConnection);
  server.on('error', () => undefined);

  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      const address = server.address() as net.AddressInfo;
      resolve({
        host,
        port: address.port,
        framing,
        get faults() {
          return faults;
        },
        stats,
        setFaults(next: ServerFaults) {
          faults = { ...next };
          if (faults.close === true) dropConnections();
        },
        dropConnections,
        close: () =>
          new Promise<void>((done) => {
            for (const timer of delayed) clearTimeout(timer);
            delayed.clear();
            dropConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
