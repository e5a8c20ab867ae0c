/**
 * One physical Modbus link — a TCP connection or a serial port — shared by every device
 * configured on it, with the request timeout enforced here rather than by modbus-serial.
 *
 * Why shared: several devices on one RS-485 bus (`modbus-rtu`, one serial port, one unit
 * id each) cannot each open the port, and serial device servers and many Modbus TCP
 * gateways accept a single TCP connection. Devices with the same link key get the same
 * link; the poller already sends one request at a time per link key, and the link queues
 * requests anyway so that two callers cannot interleave frames on an RTU line.
 *
 * Why our own timeout: modbus-serial@8 never rejects a pending request when the socket
 * closes, and its transports mark themselves closed without telling the client
 * (DEPENDENCIES.md). Each request here races the answer against a timer and against the
 * link going down; a timeout or a malformed answer drops the link (a late answer must
 * not be taken for the next request's, RTU has no transaction id), and the poller
 * reconnects through `Driver.connect()`.
 *
 * Transports: `modbus-tcp` is MBAP framing (MODBUS Messaging on TCP/IP V1.0b §3.1.3) —
 * our own MbapClient (mbap.ts: answers parsed in place, no RTU frame and CRC per answer
 * as modbus-serial's TcpPort makes); `modbus-rtu-tcp` is RTU frames with CRC over a raw TCP stream
 * (Modbus over Serial Line V1.02 §2.5.1), as serial device servers forward them —
 * modbus-serial's TelnetPort, which writes RTU frames as they are. (Its
 * `connectTcpRTUBuffered` is, despite the name, MBAP framing with a tolerant receive
 * buffer, so it would not speak to a serial device server in transparent mode.)
 * `modbus-rtu` is a serial port — modbus-serial's RTUBufferedPort.
 */
import net from 'node:net';
import ModbusSerial from 'modbus-serial';
import type { ModbusRTU } from 'modbus-serial/ModbusRTU.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import { exceptionError } from './exceptions.js';
import { MbapClient, type ModbusOps } from './mbap.js';
import type { ModbusConnection } from './schema.js';

/** The runtime export is `module.exports = class`; the .d.ts says `export default` (DEPENDENCIES.md). */
const SerialClient = ModbusSerial as unknown as typeof ModbusRTU;
type SerialClient = ModbusRTU;
/** What a request runs on: modbus-serial's client (RTU, RTU over TCP) or MbapClient (Modbus TCP). */
export type ModbusClient = ModbusOps;

/** Identifies the physical link: `tcp://host:port`, `rtu-tcp://host:port` or `rtu://path`. */
export function linkKeyOf(conn: ModbusConnection): string {
  const hostPort = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (conn.protocol) {
    case 'modbus-tcp':
      return `tcp://${hostPort(conn.host, conn.port)}`;
    case 'modbus-rtu-tcp':
      return `rtu-tcp://${hostPort(conn.host, conn.port)}`;
    case 'modbus-rtu':
      return `rtu://${conn.path}`;
  }
}

/** modbus-serial's errors are plain objects with a name, a message and sometimes `modbusCode`. */
interface LibraryError {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly modbusCode?: unknown;
}

/** Turns what modbus-serial rejected with into a GatewayError; `drop` says whether the link is unusable now. */
function classify(what: string, key: string, err: unknown): { error: GatewayError; drop: boolean } {
  if (isGatewayError(err)) return { error: err, drop: err.code !== 'GW_ERR_MODBUS_EXCEPTION' };
  const e = (typeof err === 'object' && err !== null ? err : {}) as LibraryError;
  const message = typeof e.message === 'string' ? e.message : String(err);
  // An exception response is a valid answer (Modbus Application Protocol §7): the link is fine.
  if (typeof e.modbusCode === 'number') return { error: exceptionError(e.modbusCode, what), drop: false };
  if (e.name === 'PortNotOpenError') return { error: new GatewayError('GW_ERR_MODBUS_CONNECT', `${what}: ${key} is not open`, { cause: err }), drop: true };
  if (/CRC|length|Unexpected data/i.test(message)) {
    return { error: new GatewayError('GW_ERR_MODBUS_FRAME', `${what}: malformed answer from ${key} (${message}); the connection is reset`, { cause: err }), drop: true };
  }
  return { error: new GatewayError('GW_ERR_MODBUS_CONNECT', `${what}: ${key}: ${message}`, { cause: err }), drop: true };
}

/** What a `modbus-tcp` socket reads into (net's `onread`): an answer is at most 260 bytes (MBAP header + 253-byte PDU). */
const READ_BUFFER_BYTES = 4096;

/** Opens a TCP connection within `timeoutMs`; `onread`: net's option (reads handed to a callback, no 'data' events). */
function connectSocket(host: string, port: number, timeoutMs: number, key: string, onread?: net.OnReadOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    // `onread` is taken by the Socket's constructor (net.connect passes its options there), not by
    // connect(); @types/node lists it under connect's options only, hence the cast.
    const socket = new net.Socket(onread === undefined ? {} : ({ onread } as net.SocketConstructorOpts));
    const fail = (err: GatewayError) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new GatewayError('GW_ERR_MODBUS_CONNECT', `cannot connect to ${key}: no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => fail(new GatewayError('GW_ERR_MODBUS_CONNECT', `cannot connect to ${key}: ${err.message}`, { cause: err })));
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      // Notices a peer that vanished (power cut, cable) while the link is idle.
      socket.setKeepAlive(true, 10_000);
      resolve(socket);
    });
    socket.connect({ host, port });
  });
}

export class ModbusLink {
  readonly key: string;
  /** The connection of the first device that opened the link (serial settings come from it). */
  readonly connection: ModbusConnection;
  /** Devices holding the link; it closes when the last one lets go. */
  refs = 0;
  private client: ModbusClient | undefined;
  /** modbus-serial's client when it is the transport (closed through it when there is no socket of ours). */
  private serial: SerialClient | undefined;
  private socket: net.Socket | undefined;
  private opening: Promise<void> | undefined;
  /** Bumped whenever the transport is replaced or dropped, so that stale close events are ignored. */
  private generation = 0;
  private readonly dropWaiters = new Set<(err: GatewayError) => void>();
  /** Requests waiting for the one in progress, oldest first (a FIFO, not a chain of promises). */
  private readonly waiting: (() => void)[] = [];
  private busy = false;

  constructor(key: string, connection: ModbusConnection) {
    this.key = key;
    this.connection = connection;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Opens the transport if it is not open; concurrent callers share one attempt. */
  open(timeoutMs: number): Promise<void> {
    if (this.client !== undefined) return Promise.resolve();
    this.opening ??= this.doOpen(timeoutMs).finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async doOpen(timeoutMs: number): Promise<void> {
    const conn = this.connection;
    if (conn.protocol === 'modbus-rtu') {
      const client = new SerialClient();
      // modbus-serial re-emits serial port errors on the client; an EventEmitter 'error' without a listener would throw.
      (client as unknown as NodeJS.EventEmitter).on('error', () => undefined);
      const opened = client.connectRTUBuffered(conn.path, { baudRate: conn.baudRate, parity: conn.parity, dataBits: conn.dataBits, stopBits: conn.stopBits });
      await raceTimeout(opened, timeoutMs, () => new GatewayError('GW_ERR_MODBUS_CONNECT', `cannot open ${this.key}: no answer within ${timeoutMs} ms`)).catch((err: unknown) => {
        // The port may still open after we gave up on it: close it then.
        opened.then(() => closeQuietly(client), () => undefined);
        if (isGatewayError(err)) throw err;
        throw new GatewayError('GW_ERR_MODBUS_CONNECT', `cannot open ${this.key}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      const generation = ++this.generation;
      client.on('close', () => this.lost(generation, new GatewayError('GW_ERR_MODBUS_CONNECT', `${this.key} was closed`)));
      this.client = client;
      this.serial = client;
      this.abandonIfReleased();
      return;
    }
    // modbus-tcp: the answers are read into one buffer of the link's own and handed to the
    // MBAP client as they come (nothing arrives before it exists: it sends the first request).
    let mbap: MbapClient | undefined;
    const onread: net.OnReadOpts | undefined =
      conn.protocol === 'modbus-tcp'
        ? {
            buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
            callback: (n: number, buf: Uint8Array) => {
              mbap?.feed(buf.subarray(0, n));
              return true;
            },
          }
        : undefined;
    const socket = await connectSocket(conn.host, conn.port, timeoutMs, this.key, onread);
    const generation = ++this.generation;
    let lastError: Error | undefined;
    socket.on('error', (err) => {
      lastError = err;
    });
    socket.on('close', () => {
      const why = lastError === undefined ? 'the device closed the connection' : lastError.message;
      this.lost(generation, new GatewayError('GW_ERR_MODBUS_CONNECT', `${this.key}: ${why}`, lastError === undefined ? {} : { cause: lastError }));
    });
    let client: ModbusClient;
    if (conn.protocol === 'modbus-tcp') client = mbap = new MbapClient(socket, 'fed');
    else {
      const serial = new SerialClient();
      (serial as unknown as NodeJS.EventEmitter).on('error', () => undefined);
      await serial.linkTelnet(socket, { port: conn.port });
      client = serial;
    }
    if (socket.destroyed) throw new GatewayError('GW_ERR_MODBUS_CONNECT', `${this.key}: the device closed the connection`);
    this.socket = socket;
    this.client = client;
    this.abandonIfReleased();
  }

  /** Every device let go while the link was opening: close what was just opened. */
  private abandonIfReleased(): void {
    if (this.refs > 0) return;
    this.shutdown();
    throw new GatewayError('GW_ERR_MODBUS_CONNECT', `${this.key} was closed while it was being opened`);
  }

  private lost(generation: number, err: GatewayError): void {
    if (generation === this.generation) this.drop(err);
  }

  /** Throws the transport away (now, without a goodbye) and fails whatever is waiting on it. */
  drop(err: GatewayError): void {
    const { socket, serial } = this.detach();
    if (socket !== undefined) socket.destroy();
    else if (serial !== undefined) closeQuietly(serial);
    this.failWaiters(err);
  }

  private detach(): { socket: net.Socket | undefined; serial: SerialClient | undefined } {
    const { socket, serial } = this;
    this.socket = undefined;
    this.client = undefined;
    this.serial = undefined;
    this.generation++;
    return { socket, serial };
  }

  private failWaiters(err: GatewayError): void {
    for (const waiter of [...this.dropWaiters]) waiter(err);
  }

  /**
   * Sends one request for `unitId` and waits for its answer at most `timeoutMs`.
   * Rejects with GW_ERR_MODBUS_TIMEOUT (and drops the link), GW_ERR_MODBUS_CONNECT (link
   * down or lost meanwhile), GW_ERR_MODBUS_FRAME (malformed answer; link dropped) or
   * GW_ERR_MODBUS_EXCEPTION (the device refused; link kept).
   */
  request<T>(what: string, unitId: number, timeoutMs: number, op: (client: ModbusClient) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = (): void => this.exchange(what, unitId, timeoutMs, op, resolve, reject);
      if (this.busy) this.waiting.push(start);
      else {
        this.busy = true;
        start();
      }
    });
  }

  /**
   * The request in progress settled: the next one starts in a microtask, after whatever
   * the settling code does next (a timeout drops the link first, so the next request
   * finds it down, as it would have after a chain of promises).
   */
  private done(): void {
    queueMicrotask(this.next);
  }

  private readonly next = (): void => {
    const start = this.waiting.shift();
    if (start === undefined) this.busy = false;
    else start();
  };

  private exchange<T>(what: string, unitId: number, timeoutMs: number, op: (client: ModbusClient) => Promise<T>, resolve: (value: T) => void, reject: (err: unknown) => void): void {
    const client = this.client;
    if (client === undefined) {
      reject(new GatewayError('GW_ERR_MODBUS_CONNECT', `${what}: ${this.key} is not connected`));
      this.done();
      return;
    }
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.dropWaiters.delete(onDrop);
      fn();
      this.done();
    };
    const onDrop = (err: GatewayError) => settle(() => reject(new GatewayError(err.code, `${what}: ${err.message}`, { cause: err })));
    const timer = setTimeout(() => {
      // Timers run before the I/O of a loop turn: after a long busy stretch (a big store
      // flush) the answer may be waiting on the socket already. Look again after the next
      // turn's I/O — two setImmediate hops: a busy stretch in this turn's own I/O phase
      // may have let answers arrive that only the next turn reads — before calling it a
      // timeout and dropping a healthy link.
      setImmediate(() =>
        setImmediate(() => {
          if (settled) return;
          const err = new GatewayError('GW_ERR_MODBUS_TIMEOUT', `${what}: no answer from ${this.key} within ${timeoutMs} ms`, { details: { timeoutMs } });
          settle(() => reject(err));
          this.drop(err);
        }),
      );
    }, timeoutMs);
    this.dropWaiters.add(onDrop);
    let pending: Promise<T>;
    try {
      // The promise API reads the unit id when the call is made, so setting it just before is safe.
      client.setID(unitId);
      pending = op(client);
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(
      (value) => settle(() => resolve(value)),
      (err: unknown) => {
        if (settled) return;
        const { error, drop } = classify(what, this.key, err);
        settle(() => reject(error));
        if (drop && this.client === client) this.drop(error);
      },
    );
  }

  /** Closes the transport politely (TCP FIN) and fails what is pending. */
  shutdown(): void {
    const { socket, serial } = this.detach();
    if (socket !== undefined) {
      socket.end();
      // A peer that never acknowledges the FIN must not hold the socket open.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else if (serial !== undefined) closeQuietly(serial);
    this.failWaiters(new GatewayError('GW_ERR_MODBUS_CONNECT', `${this.key} was closed by the gateway`));
  }
}

function closeQuietly(client: SerialClient): void {
  try {
    client.close(() => undefined);
  } catch {
    // Already closed: nothing to do.
  }
}

function raceTimeout<T>(promise: Promise<T>, timeoutMs: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), timeoutMs);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

const links = new Map<string, ModbusLink>();

/** The link for `conn`, shared with other devices on the same physical link. Pair with releaseLink. */
export function acquireLink(conn: ModbusConnection): ModbusLink {
  const key = linkKeyOf(conn);
  let link = links.get(key);
  if (link === undefined) {
    link = new ModbusLink(key, conn);
    links.set(key, link);
  }
  link.refs++;
  return link;
}

/** Lets go of a link; the last holder closes it. */
export function releaseLink(link: ModbusLink): void {
  link.refs--;
  if (link.refs > 0) return;
  if (links.get(link.key) === link) links.delete(link.key);
  link.shutdown();
}
