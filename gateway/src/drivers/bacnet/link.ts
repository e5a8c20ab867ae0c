/**
 * One BACnet/IP endpoint of the gateway — a UDP socket on a local port with a
 * @bacnet-js/client on it — shared by every device configured with the same
 * `localPort` (ephemeral by default, so all such devices share one socket), ref-counted:
 * the last device to let go closes it.
 *
 * What it adds to the library:
 * - invoke ids (§20.1.2.5: one octet) chosen here, unique among the requests still in
 *   flight, so that an answer can never be taken for another request's; a request that
 *   timed out keeps its id until the library forgets it too;
 * - a per-request timeout (the device's `timeoutMs`) with GW_ERR_BACNET_TIMEOUT;
 * - Error/Reject/Abort answers as GatewayErrors naming class and code or reason;
 * - routing of COV notifications by subscriber process id, and of I-Am by sender.
 */
import P from '@bacnet-js/client';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { ForeignDeviceRegistration, type BbmdSettings } from './bbmd.js';
import { UdpTransport, type ApduRefusal } from './transport.js';

const Bacnet = P.default;
type BacnetClient = InstanceType<typeof Bacnet>;
export type { BacnetClient };

/** The library's own timeout, after ours: it only frees invoke ids of requests we gave up on. */
const LIBRARY_APDU_TIMEOUT_MS = 60_000;

/** `unknown-object` for ErrorCode.UNKNOWN_OBJECT: the library's enum names, as §21 spells them. */
function kebab(name: string | undefined, n: number): string {
  return name === undefined ? String(n) : name.toLowerCase().replace(/_/g, '-');
}

export const errorClassName = (n: number) => kebab(P.ErrorClass[n], n);
export const errorCodeName = (n: number) => kebab(P.ErrorCode[n], n);
export const rejectReasonName = (n: number) => kebab(P.RejectReason[n], n);
export const abortReasonName = (n: number) => kebab(P.AbortReason[n], n);

/** A device's Error answer (§18: error class and code) as a GatewayError. */
export function bacnetError(what: string, errorClass: number, errorCode: number): GatewayError {
  return new GatewayError('GW_ERR_BACNET_ERROR', `${what}: BACnet error ${errorClassName(errorClass)}/${errorCodeName(errorCode)}`, {
    details: { errorClass: errorClassName(errorClass), errorCode: errorCodeName(errorCode) },
  });
}

/** A Reject or Abort answer (§18.8, §18.9) as a GatewayError. */
export function refusalError(what: string, refusal: ApduRefusal): GatewayError {
  if (refusal.pdu === 'reject') {
    const reason = rejectReasonName(refusal.reason);
    return new GatewayError('GW_ERR_BACNET_REJECT', `${what}: rejected by the device (${reason})`, { details: { reject: reason } });
  }
  const reason = abortReasonName(refusal.reason);
  return new GatewayError('GW_ERR_BACNET_ABORT', `${what}: aborted by the device (${reason})`, { details: { abort: reason } });
}

export interface CovNotification {
  readonly sender: string;
  readonly processId: number;
  readonly initiatingDevice: number;
  readonly object: { readonly type: number; readonly instance: number };
  readonly timeRemainingS: number;
  readonly values: readonly { readonly property: { readonly id: number; readonly index?: number }; readonly value: readonly { type: number; value: unknown }[] }[];
}

/** What the library hands a COV notification listener (§13.6 / §13.7 parameters). */
interface CovContent {
  readonly header?: { readonly sender: { readonly address?: string } };
  readonly invokeId?: number;
  readonly service?: number;
  readonly payload: {
    readonly subscriberProcessId: number;
    readonly initiatingDeviceId: number | { readonly type: number; readonly instance: number };
    readonly monitoredObjectId: { readonly type: number; readonly instance: number };
    readonly timeRemaining: number;
    readonly values: CovNotification['values'];
  };
}

export interface IAm {
  readonly sender: string;
  readonly deviceId: number;
  readonly maxApdu: number;
  readonly segmentation: number;
  readonly vendorId: number;
}

export class BacnetLink {
  readonly key: string;
  refs = 0;
  private client: BacnetClient | undefined;
  private transport: UdpTransport | undefined;
  private opening: Promise<void> | undefined;
  private readonly busyIds = new Set<number>();
  private nextId = 1;
  private nextProcessId = 1;
  private readonly covHandlers = new Map<number, (n: CovNotification) => void>();
  private readonly iAmListeners = new Set<(i: IAm) => void>();
  private readonly registrations = new Map<string, ForeignDeviceRegistration>();
  /** The bound local address, once open. */
  local: { address: string; port: number } | undefined;

  constructor(readonly localPort: number) {
    this.key = `bacnet-ip://0.0.0.0:${localPort === 0 ? 'ephemeral' : localPort}`;
  }

  get open(): boolean {
    return this.client !== undefined;
  }

  /** Binds the socket if it is not bound; concurrent callers share one attempt. */
  ensureOpen(): Promise<void> {
    if (this.client !== undefined) return Promise.resolve();
    this.opening ??= this.doOpen().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const transport = new UdpTransport(this.localPort);
    const client = new Bacnet({ transport, apduTimeout: LIBRARY_APDU_TIMEOUT_MS });
    client.on('error', () => undefined); // socket errors after bind surface as request timeouts
    try {
      this.local = await transport.ready;
    } catch (err) {
      client.close();
      throw new GatewayError('GW_ERR_BACNET_SOCKET', `cannot open UDP port ${this.localPort} for BACnet/IP: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    client.on('covNotifyUnconfirmed', (content) => this.onCov(content, false));
    client.on('covNotify', (content) => this.onCov(content, true));
    client.on('iAm', (content) => {
      const p = content.payload;
      // Through a BBMD an I-Am arrives as a Forwarded-NPDU (J.2.5): the device is the originating address, not the BBMD.
      const forwarded = content.header?.sender.forwardedFrom;
      const sender = typeof forwarded === 'string' && forwarded !== '' ? (forwarded.includes(':') ? forwarded : `${forwarded}:47808`) : (content.header?.sender.address ?? '');
      const i: IAm = { sender, deviceId: p.deviceId, maxApdu: p.maxApdu, segmentation: p.segmentation, vendorId: p.vendorId };
      for (const l of [...this.iAmListeners]) l(i);
    });
    this.client = client;
    this.transport = transport;
    if (this.refs <= 0) {
      this.shutdown();
      throw new GatewayError('GW_ERR_BACNET_SOCKET', `${this.key} was closed while it was being opened`);
    }
  }

  private onCov(content: CovContent, confirmed: boolean): void {
    const sender = content.header?.sender.address ?? '';
    const p = content.payload;
    // §13.15: a confirmed notification is acknowledged, known or not (its subscription may have just ended).
    if (confirmed && this.client !== undefined && content.invokeId !== undefined && content.service !== undefined) this.client.simpleAckResponse({ address: sender }, content.service, content.invokeId);
    const handler = this.covHandlers.get(p.subscriberProcessId);
    if (handler === undefined) return;
    // The library's typings say a number; at runtime it hands over the object identifier { type: 8, instance }.
    const initiating: unknown = p.initiatingDeviceId;
    const initiatingDevice = typeof initiating === 'number' ? initiating : Number((initiating as { instance?: unknown } | null)?.instance);
    handler({ sender, processId: p.subscriberProcessId, initiatingDevice, object: p.monitoredObjectId, timeRemainingS: p.timeRemaining, values: p.values });
  }

  /** A subscriber process id (§13.14.1.1.1) unique on this link, with its notification handler. */
  registerCov(handler: (n: CovNotification) => void): number {
    const id = this.nextProcessId;
    this.nextProcessId = (this.nextProcessId % 4_194_303) + 1;
    this.covHandlers.set(id, handler);
    return id;
  }

  unregisterCov(processId: number): void {
    this.covHandlers.delete(processId);
  }

  onIAm(listener: (i: IAm) => void): () => void {
    this.iAmListeners.add(listener);
    return () => this.iAmListeners.delete(listener);
  }

  /** Sends an unconfirmed Who-Is (§16.10) to one address: unicast, never a broadcast. */
  whoIs(address: string, deviceInstance?: number): void {
    const client = this.client;
    if (client === undefined) throw new GatewayError('GW_ERR_BACNET_SOCKET', `${this.key} is not open`);
    client.whoIs({ address }, deviceInstance === undefined ? {} : { lowLimit: deviceInstance, highLimit: deviceInstance });
  }

  /**
   * Sends a Who-Is as Distribute-Broadcast-To-Network (J.2.11) to a BBMD, which broadcasts
   * it on its own subnet. `deviceInstance` limits it to one device (§16.10.1.1).
   */
  whoIsThroughBbmd(bbmd: string, deviceInstance?: number): void {
    const client = this.client;
    if (client === undefined) throw new GatewayError('GW_ERR_BACNET_SOCKET', `${this.key} is not open`);
    client.whoIsThroughBBMD({ address: bbmd }, deviceInstance === undefined ? {} : { lowLimit: deviceInstance, highLimit: deviceInstance });
  }

  /** The foreign-device registration of this socket with `bbmd` (started at the first holder). Pair with releaseRegistration. */
  acquireRegistration(bbmd: BbmdSettings, timeoutMs: number, log: Logger): ForeignDeviceRegistration {
    const k = `${bbmd.host}:${bbmd.port}/${bbmd.ttlS}`;
    let r = this.registrations.get(k);
    if (r === undefined) {
      r = new ForeignDeviceRegistration(() => this.client, bbmd, timeoutMs, log);
      this.registrations.set(k, r);
    }
    r.refs++;
    return r;
  }

  releaseRegistration(r: ForeignDeviceRegistration): void {
    r.refs--;
    if (r.refs > 0) return;
    r.stop();
    for (const [k, v] of this.registrations) if (v === r) this.registrations.delete(k);
  }

  private takeId(what: string): number {
    for (let n = 0; n < 255; n++) {
      const id = this.nextId;
      this.nextId = (this.nextId % 255) + 1; // 1–255: the library treats 0 as "choose one"
      if (!this.busyIds.has(id)) {
        this.busyIds.add(id);
        this.transport?.forget(id);
        return id;
      }
    }
    throw new GatewayError('GW_ERR_BACNET_BUSY', `${what}: all 255 invoke ids of ${this.key} are waiting for answers`);
  }

  /**
   * Sends one confirmed request and waits for its answer at most `timeoutMs`. Rejects
   * with GW_ERR_BACNET_TIMEOUT, _ERROR (class/code), _REJECT, _ABORT (reason) or _SOCKET.
   */
  request<T>(what: string, timeoutMs: number, op: (client: BacnetClient, invokeId: number) => Promise<T>): Promise<T> {
    const client = this.client;
    const transport = this.transport;
    if (client === undefined || transport === undefined) return Promise.reject(new GatewayError('GW_ERR_BACNET_SOCKET', `${what}: ${this.key} is not open`));
    let invokeId: number;
    try {
      invokeId = this.takeId(what);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        reject(new GatewayError('GW_ERR_BACNET_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { details: { timeoutMs } }));
      }, timeoutMs);
      const pending = (async () => op(client, invokeId))();
      pending.then(
        (value) => {
          this.busyIds.delete(invokeId);
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          const error = this.client === client ? this.classify(what, invokeId, err, timeoutMs) : new GatewayError('GW_ERR_BACNET_SOCKET', `${what}: ${this.key} was closed`, { cause: err });
          this.busyIds.delete(invokeId);
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  private classify(what: string, invokeId: number, err: unknown, timeoutMs: number): GatewayError {
    if (isGatewayError(err)) return err;
    const message = err instanceof Error ? err.message : String(err);
    const error = /BacnetError - Class:(\d+) - Code:(\d+)/.exec(message);
    if (error !== null) return bacnetError(what, Number(error[1]), Number(error[2]));
    const abort = /BacnetAbort - Reason:(\d+)/.exec(message);
    if (abort !== null) return refusalError(what, this.transport?.takeRefusal(invokeId) ?? { pdu: 'abort', reason: Number(abort[1]) });
    if (message === 'ERR_TIMEOUT') return new GatewayError('GW_ERR_BACNET_TIMEOUT', `${what}: no answer within ${timeoutMs} ms`, { details: { timeoutMs } });
    if (message === 'INVALID_DECODING') return new GatewayError('GW_ERR_DECODE', `${what}: the answer could not be decoded`, { cause: err });
    return new GatewayError('GW_ERR_BACNET_SOCKET', `${what}: ${message}`, { cause: err });
  }

  /** Closes the socket; pending requests reject. */
  shutdown(): void {
    const client = this.client;
    this.client = undefined;
    this.transport = undefined;
    this.local = undefined;
    this.covHandlers.clear();
    this.busyIds.clear();
    for (const r of this.registrations.values()) r.stop();
    this.registrations.clear();
    if (client !== undefined) client.close();
  }
}

const links = new Map<number, BacnetLink>();

/** The link of a local port (0 = the shared ephemeral one). Pair with releaseLink. */
export function acquireLink(localPort: number): BacnetLink {
  let link = links.get(localPort);
  if (link === undefined) {
    link = new BacnetLink(localPort);
    links.set(localPort, link);
  }
  link.refs++;
  return link;
}

/** Lets go of a link; the last holder closes it. */
export function releaseLink(link: BacnetLink): void {
  link.refs--;
  if (link.refs > 0) return;
  if (links.get(link.localPort) === link) links.delete(link.localPort);
  link.shutdown();
}
