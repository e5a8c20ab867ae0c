/**
 * A simulated BACnet/IP device: @bacnet-js/client acting as the server side, on its own
 * UDP socket, serving the objects of a profile (object-db.ts). Services:
 * ReadProperty (§15.5), ReadPropertyMultiple (§15.7, incl. ALL), WriteProperty (§15.9)
 * with the priority array of commandable objects (§19.2), SubscribeCOV (§13.14) with
 * confirmed or unconfirmed notifications (§13.6/§13.7) when a value moves by its
 * cov-increment (analog) or changes (binary, multi-state) (§13.1.3/§13.1.4), and
 * Who-Is/I-Am (§16.10).
 *
 * Misbehaviour for tests: refuse ReadPropertyMultiple (Reject unrecognized-service, an
 * Error, or an Abort), refuse COV (all objects or some), stall (drop every request), and
 * reboot (forget subscriptions, stay silent, then announce itself with I-Am).
 */
import P from '@bacnet-js/client';
import { allProps, buildObjects, encodeValue, expectedTag, key, PROP, readProp, resolveCommand, STATUS_FLAGS_CLEAR, TAG, type AppData, type SimObject } from './object-db.js';
import { Segmenter, type RequestHeader } from './segmenter.js';
import { SimUdpTransport, unicastDatagram } from './udp-transport.js';
import type { DeviceProfile } from '../../../gateway/src/core/config/profile.js';

const Bacnet = P.default;
type Client = InstanceType<typeof Bacnet>;

const ARRAY_ALL = 0xffffffff;
/** §21 error classes and codes used here. */
const E = { OBJECT: 1, PROPERTY: 2, SERVICES: 5, UNKNOWN_OBJECT: 31, UNKNOWN_PROPERTY: 32, WRITE_ACCESS_DENIED: 40, INVALID_DATA_TYPE: 9, VALUE_OUT_OF_RANGE: 37, INVALID_ARRAY_INDEX: 42, NOT_AN_ARRAY: 50, COV_SUBSCRIPTION_FAILED: 43, OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED: 45, SERVICE_REQUEST_DENIED: 29 } as const;
const SERVICE = { SUBSCRIBE_COV: 5, READ_PROPERTY: 12, READ_PROPERTY_MULTIPLE: 14, WRITE_PROPERTY: 15 } as const;
const ARRAYS = new Set<number>([PROP.OBJECT_LIST, PROP.PRIORITY_ARRAY, PROP.STATE_TEXT]);

export interface BacnetBehaviour {
  /** Refuse ReadPropertyMultiple: a Reject (unrecognized-service, §18.8), an Error (services/service-request-denied) or an Abort (segmentation-not-supported). */
  refuseRpm?: false | 'reject' | 'error' | 'abort';
  /** Refuse SubscribeCOV for every object (true) or for the objects of these point names. */
  refuseCov?: boolean | readonly string[];
  /** The objects of these point names do not exist (unknown-object), as when a profile names objects a controller lacks. */
  missing?: readonly string[];
  /** The device's Max_APDU_Length_Accepted (§12.11.19), octets; default 1476. Answers longer than this (or than the client accepts) are segmented or aborted. */
  maxApdu?: number;
  /** The device sends segmented answers (Segmentation_Supported segmented-transmit); default false: a too-long answer is aborted with segmentation-not-supported. */
  segmentation?: boolean;
  /** Loses the first transmission of these segment numbers (each once, for the next segmented answers), as a lossy network would. */
  dropSegments?: readonly number[];
  /** Adds this many analog-value objects (instances 100000…) to the object list, as a large controller has. Read at start only. */
  extraObjects?: number;
}

export interface CovSubscription {
  readonly address: string;
  readonly processId: number;
  readonly object: string;
  readonly confirmed: boolean;
  /** ms epoch; null = indefinite (lifetime 0). */
  expiresAt: number | null;
  lastSent: number | boolean | string | undefined;
}

type Value = number | boolean | string;

interface Sender {
  address?: string;
}

export interface SimBacnetDeviceOptions {
  readonly host: string;
  readonly port: number;
  readonly deviceInstance: number;
  readonly profile: DeviceProfile;
  readonly name: string;
  readonly behaviour?: BacnetBehaviour;
}

export class SimBacnetDevice {
  readonly objects: Map<string, SimObject>;
  readonly deviceInstance: number;
  behaviour: BacnetBehaviour;
  host = '';
  port = 0;
  private readonly byName = new Map<string, SimObject>();
  private readonly subs: CovSubscription[] = [];
  private readonly writeListeners: ((names: string[]) => void)[] = [];
  private readonly transport: SimUdpTransport;
  private readonly client: Client;
  private readonly peers = new Set<string>();
  private rebootTimer: NodeJS.Timeout | undefined;
  /** Sends answers that do not fit one APDU in segments, or refuses them (segmenter.ts). */
  readonly segmenter: Segmenter;

  private constructor(opts: SimBacnetDeviceOptions) {
    this.deviceInstance = opts.deviceInstance;
    this.behaviour = { ...(opts.behaviour ?? {}) };
    this.objects = buildObjects(opts.profile, opts.deviceInstance, opts.name, { extraObjects: this.behaviour.extraObjects ?? 0, maxApdu: this.behaviour.maxApdu ?? 1476, segmentation: this.behaviour.segmentation === true });
    for (const obj of this.objects.values()) for (const p of obj.points) this.byName.set(p.name, obj);
    this.transport = new SimUdpTransport(opts.host, opts.port);
    this.client = new Bacnet({ transport: this.transport, apduTimeout: 2000 });
    this.segmenter = new Segmenter((d, r) => this.transport.sendRaw(d, r), 1476, false);
    this.transport.on('segmentAck', (apdu: Buffer, sender: string) => this.segmenter.onSegmentAck(apdu, sender));
    this.client.on('error', () => undefined);
    this.client.on('readProperty', (c) => this.onReadProperty(c as never));
    this.client.on('readPropertyMultiple', (c) => this.onReadPropertyMultiple(c as never));
    this.client.on('writeProperty', (c) => this.onWriteProperty(c as never));
    this.client.on('subscribeCov', (c) => this.onSubscribeCov(c as never));
    this.client.on('whoIs', (c) => this.onWhoIs(c as never));
  }

  /** Binds the device's socket. */
  static async start(opts: SimBacnetDeviceOptions): Promise<SimBacnetDevice> {
    const device = new SimBacnetDevice(opts);
    try {
      const bound = await device.transport.ready;
      device.host = bound.address;
      device.port = bound.port;
    } catch (err) {
      device.client.close();
      throw err;
    }
    return device;
  }

  // ---- what models and tests use ----

  /** The object holding point `name`. */
  object(name: string): SimObject | undefined {
    return this.byName.get(name);
  }

  /** Present-value of the object of point `name`. */
  get(name: string): Value | undefined {
    return this.byName.get(name)?.value;
  }

  /**
   * Sets what the device measures or its program decides. For a commandable object this is
   * the program's command at `priority` (default 16, the lowest: an operator's command at
   * 8 wins over it, §19.2); otherwise the present-value itself. Missing points are ignored.
   */
  set(name: string, value: Value, priority = 16): void {
    const obj = this.byName.get(name);
    if (obj === undefined) return;
    const v = obj.family === 'analog' || obj.family === 'double' ? Number(value) : obj.family === 'binary' ? value === true || value === 1 : value;
    if (obj.priorityArray !== undefined) {
      obj.priorityArray[priority - 1] = v;
      resolveCommand(obj);
    } else obj.value = v;
  }

  /** The priority array of a commandable point (null = relinquished), or undefined. */
  priorityArray(name: string): readonly (Value | null)[] | undefined {
    const obj = this.byName.get(name);
    return obj?.priorityArray === undefined ? undefined : [...obj.priorityArray];
  }

  /** Active COV subscriptions. */
  subscriptions(): readonly CovSubscription[] {
    return this.subs.map((s) => ({ ...s }));
  }

  /** Called with the point names a client wrote. */
  onClientWrite(listener: (names: string[]) => void): void {
    this.writeListeners.push(listener);
  }

  /** While stalled the device drops every request, as one whose CPU is pegged or whose cable is out. */
  stall(on: boolean): void {
    this.transport.deaf = on;
  }

  /**
   * Restarts: forgets every COV subscription (§13.14: subscriptions do not survive a
   * restart), answers nothing for `downMs`, then announces itself with I-Am to the peers it
   * knew (a real device broadcasts it; the simulator stays off the broadcast address).
   */
  reboot(downMs = 1000): Promise<void> {
    this.subs.length = 0;
    this.transport.deaf = true;
    return new Promise((resolve) => {
      this.rebootTimer = setTimeout(() => {
        this.rebootTimer = undefined;
        this.transport.deaf = false;
        for (const peer of this.peers) this.client.iAmResponse({ address: peer }, this.deviceInstance, this.behaviour.segmentation === true ? 1 : 3, 999);
        resolve();
      }, downMs);
    });
  }

  /** Sends the COV notifications due (§13.1): after each model tick and each client write. */
  checkCov(now = Date.now()): void {
    for (let i = this.subs.length - 1; i >= 0; i--) {
      const sub = this.subs[i]!;
      if (sub.expiresAt !== null && sub.expiresAt <= now) {
        this.subs.splice(i, 1);
        continue;
      }
      const obj = this.objects.get(sub.object);
      if (obj === undefined) continue;
      const last = sub.lastSent;
      const moved =
        last === undefined ||
        (typeof obj.value === 'number' && typeof last === 'number' && obj.covIncrement !== undefined ? Math.abs(obj.value - last) >= obj.covIncrement : obj.value !== last);
      if (moved) this.notify(sub, obj, now);
    }
  }

  async close(): Promise<void> {
    if (this.rebootTimer !== undefined) clearTimeout(this.rebootTimer);
    this.subs.length = 0;
    this.segmenter.close();
    this.client.close();
    await new Promise((r) => setImmediate(r));
  }

  // ---- services ----

  private notify(sub: CovSubscription, obj: SimObject, now: number): void {
    sub.lastSent = obj.value;
    const objectId = { type: obj.type, instance: obj.instance };
    const timeRemaining = sub.expiresAt === null ? 0 : Math.max(0, Math.ceil((sub.expiresAt - now) / 1000));
    // §13.1.3: present-value and status-flags. (The library encodes an array index only when asked for "all": leave it out.)
    const values = [
      { property: { id: PROP.PRESENT_VALUE }, value: [encodeValue(obj.family, obj.value)] },
      { property: { id: PROP.STATUS_FLAGS }, value: [STATUS_FLAGS_CLEAR] },
    ];
    if (sub.confirmed) {
      this.client.confirmedCOVNotification({ address: sub.address }, objectId, sub.processId, this.deviceInstance, timeRemaining, values as never).catch(() => undefined);
    } else {
      this.client.unconfirmedCOVNotification({ address: sub.address }, sub.processId, this.deviceInstance, objectId, timeRemaining, values as never);
    }
  }

  private find(objectId: { type: number; instance: number }): SimObject | undefined {
    // §15.5.1.1.1: device instance 4194303 means "this device".
    const instance = objectId.type === 8 && objectId.instance === 4_194_303 ? this.deviceInstance : objectId.instance;
    const obj = this.objects.get(key(objectId.type, instance));
    const missing = this.behaviour.missing;
    return obj !== undefined && missing !== undefined && obj.points.some((p) => missing.includes(p.name)) ? undefined : obj;
  }

  /**
   * Sends the ComplexACK that `encode` makes through the library, whole if it fits the
   * device's and the client's max APDU, else in segments or as an Abort (segmenter.ts).
   */
  private reply(request: RequestHeader, sender: Sender, encode: () => void): void {
    let captured: { datagram: Buffer; receiver: string } | undefined;
    this.transport.capture = (datagram, receiver) => {
      captured = { datagram, receiver };
    };
    try {
      encode();
    } finally {
      this.transport.capture = undefined;
    }
    if (captured === undefined) return;
    this.segmenter.maxApdu = this.behaviour.maxApdu ?? 1476;
    this.segmenter.canSegment = this.behaviour.segmentation === true;
    for (const n of this.behaviour.dropSegments ?? []) this.segmenter.dropOnce.add(n);
    this.behaviour.dropSegments = [];
    this.segmenter.answer(captured.datagram, captured.receiver || (sender.address ?? ''), request);
  }

  private error(sender: Sender, service: number, invokeId: number, errorClass: number, errorCode: number): void {
    this.client.errorResponse(sender as never, service, invokeId, errorClass, errorCode);
  }

  /** The value of one property reference, or the error class/code it earns. */
  private valueOf(obj: SimObject, id: number, index: number): AppData[] | { errorClass: number; errorCode: number } {
    const all = readProp(obj, id);
    if (all === undefined) return { errorClass: E.PROPERTY, errorCode: E.UNKNOWN_PROPERTY };
    if (index === ARRAY_ALL || index === undefined) return all;
    if (!ARRAYS.has(id)) return { errorClass: E.PROPERTY, errorCode: E.NOT_AN_ARRAY };
    if (index === 0) return [{ type: TAG.UNSIGNED, value: all.length }];
    const element = all[index - 1];
    return element === undefined ? { errorClass: E.PROPERTY, errorCode: E.INVALID_ARRAY_INDEX } : [element];
  }

  private onReadProperty(c: RequestHeader & { header: { sender: Sender }; payload: { objectId: { type: number; instance: number }; property: { id: number; index: number } } }): void {
    const { sender } = c.header;
    this.remember(sender);
    const obj = this.find(c.payload.objectId);
    if (obj === undefined) return this.error(sender, SERVICE.READ_PROPERTY, c.invokeId, E.OBJECT, E.UNKNOWN_OBJECT);
    const { id, index } = c.payload.property;
    const v = this.valueOf(obj, id, index);
    if (!Array.isArray(v)) return this.error(sender, SERVICE.READ_PROPERTY, c.invokeId, v.errorClass, v.errorCode);
    this.reply(c, sender, () => this.client.readPropertyResponse(sender as never, c.invokeId, { type: obj.type, instance: obj.instance }, { id, index } as never, v as never));
  }

  private onReadPropertyMultiple(
    c: RequestHeader & {
    header: { sender: Sender };
    payload: { properties: { objectId: { type: number; instance: number }; properties: { id: number; index: number }[] }[] };
  }): void {
    const { sender } = c.header;
    this.remember(sender);
    const refuse = this.behaviour.refuseRpm;
    if (refuse === 'reject') return this.transport.sendRaw(unicastDatagram([0x60, c.invokeId, 9]), sender.address ?? ''); // §20.1.7, reason unrecognized-service
    if (refuse === 'abort') return this.transport.sendRaw(unicastDatagram([0x71, c.invokeId, 4]), sender.address ?? ''); // §20.1.8, server, segmentation-not-supported
    if (refuse === 'error') return this.error(sender, SERVICE.READ_PROPERTY_MULTIPLE, c.invokeId, E.SERVICES, E.SERVICE_REQUEST_DENIED);
    const results = c.payload.properties.map((spec) => {
      const obj = this.find(spec.objectId);
      const objectId = obj === undefined ? spec.objectId : { type: obj.type, instance: obj.instance };
      const refs = obj !== undefined && spec.properties.length === 1 && spec.properties[0]!.id === PROP.ALL ? allProps(obj).map((id) => ({ id, index: ARRAY_ALL })) : spec.properties;
      const values = refs.map((ref) => {
        const v = obj === undefined ? { errorClass: E.OBJECT, errorCode: E.UNKNOWN_OBJECT } : this.valueOf(obj, ref.id, ref.index);
        return { property: { id: ref.id, index: ref.index ?? ARRAY_ALL }, value: Array.isArray(v) ? v : [{ value: { type: 'BacnetError', ...v } }] };
      });
      return { objectId, values };
    });
    this.reply(c, sender, () => this.client.readPropertyMultipleResponse(sender as never, c.invokeId, results as never));
  }

  private onWriteProperty(c: {
    header: { sender: Sender };
    invokeId: number;
    payload: { objectId: { type: number; instance: number }; value: { property: { id: number; index: number }; value: { type: number; value: unknown }[]; priority: number } };
  }): void {
    const { sender } = c.header;
    this.remember(sender);
    const fail = (cls: number, code: number) => this.error(sender, SERVICE.WRITE_PROPERTY, c.invokeId, cls, code);
    const obj = this.find(c.payload.objectId);
    if (obj === undefined) return fail(E.OBJECT, E.UNKNOWN_OBJECT);
    const { property, value: values, priority } = c.payload.value;
    const v = values[0];
    if (v === undefined) return fail(E.PROPERTY, E.INVALID_DATA_TYPE);
    if (property.id === PROP.PRESENT_VALUE) {
      const input = obj.typeName.endsWith('-input');
      if (input || obj.family === 'device') return fail(E.PROPERTY, E.WRITE_ACCESS_DENIED);
      const slot = priority >= 1 && priority <= 16 ? priority : 16; // §19.2.1: no priority means 16
      let next: Value | null;
      if (v.type === TAG.NULL) {
        if (obj.priorityArray === undefined) return fail(E.PROPERTY, E.INVALID_DATA_TYPE);
        next = null;
      } else {
        const numeric = obj.family === 'analog' || obj.family === 'double';
        const ok = v.type === expectedTag(obj.family) || (numeric && (v.type === TAG.UNSIGNED || v.type === TAG.SIGNED || v.type === TAG.REAL || v.type === TAG.DOUBLE));
        if (!ok) return fail(E.PROPERTY, E.INVALID_DATA_TYPE);
        next = obj.family === 'binary' ? v.value === 1 : obj.family === 'string' ? String(v.value) : Number(v.value);
        if (obj.family === 'multi-state') {
          const states = Number(readProp(obj, 74)?.[0]?.value ?? 1);
          if (typeof next !== 'number' || next < 1 || next > states) return fail(E.PROPERTY, E.VALUE_OUT_OF_RANGE);
        }
      }
      if (obj.priorityArray !== undefined) {
        obj.priorityArray[slot - 1] = next;
        resolveCommand(obj);
      } else if (next !== null) obj.value = next;
    } else if (property.id === PROP.RELINQUISH_DEFAULT && obj.priorityArray !== undefined && v.type === expectedTag(obj.family)) {
      obj.relinquishDefault = obj.family === 'binary' ? v.value === 1 : (v.value as Value);
      resolveCommand(obj);
    } else if (readProp(obj, property.id) === undefined) {
      return fail(E.PROPERTY, E.UNKNOWN_PROPERTY);
    } else return fail(E.PROPERTY, E.WRITE_ACCESS_DENIED);
    this.client.simpleAckResponse(sender as never, SERVICE.WRITE_PROPERTY, c.invokeId);
    const names = obj.points.map((p) => p.name);
    for (const l of this.writeListeners) l(names);
    this.checkCov();
  }

  private onSubscribeCov(c: {
    header: { sender: Sender };
    invokeId: number;
    payload: { subscriberProcessId: number; monitoredObjectId: { type: number; instance: number }; cancellationRequest?: boolean; issueConfirmedNotifications: boolean; lifetime: number };
  }): void {
    const { sender } = c.header;
    const address = sender.address ?? '';
    this.remember(sender);
    const p = c.payload;
    const obj = this.find(p.monitoredObjectId);
    const fail = (cls: number, code: number) => this.error(sender, SERVICE.SUBSCRIBE_COV, c.invokeId, cls, code);
    if (obj === undefined) return fail(E.OBJECT, E.UNKNOWN_OBJECT);
    const k = key(obj.type, obj.instance);
    const index = this.subs.findIndex((s) => s.address === address && s.processId === p.subscriberProcessId && s.object === k);
    if (p.cancellationRequest === true) {
      // §13.14.1.3.1: cancelling a subscription that does not exist is not an error.
      if (index >= 0) this.subs.splice(index, 1);
      return this.client.simpleAckResponse(sender as never, SERVICE.SUBSCRIBE_COV, c.invokeId);
    }
    const refuse = this.behaviour.refuseCov;
    if (refuse === true || (Array.isArray(refuse) && obj.points.some((pt) => refuse.includes(pt.name)))) return fail(E.SERVICES, E.COV_SUBSCRIPTION_FAILED);
    if (obj.family === 'device' || obj.family === 'string') return fail(E.OBJECT, E.OPTIONAL_FUNCTIONALITY_NOT_SUPPORTED);
    const expiresAt = p.lifetime > 0 ? Date.now() + p.lifetime * 1000 : null;
    let sub: CovSubscription;
    if (index >= 0) {
      // §13.14.1.1.4: the same subscriber, process and object: the subscription is renewed.
      sub = this.subs[index]!;
      sub.expiresAt = expiresAt;
    } else {
      sub = { address, processId: p.subscriberProcessId, object: k, confirmed: p.issueConfirmedNotifications, expiresAt, lastSent: undefined };
      this.subs.push(sub);
    }
    this.client.simpleAckResponse(sender as never, SERVICE.SUBSCRIBE_COV, c.invokeId);
    // An initial notification follows every successful subscription, new or renewed (as bacnet-stack does).
    this.notify(sub, obj, Date.now());
  }

  private onWhoIs(c: { header: { sender: Sender }; payload: { lowLimit?: number; highLimit?: number } }): void {
    const { lowLimit, highLimit } = c.payload;
    if (lowLimit !== undefined && highLimit !== undefined && (this.deviceInstance < lowLimit || this.deviceInstance > highLimit)) return;
    this.remember(c.header.sender);
    this.client.iAmResponse({ address: c.header.sender.address ?? '' }, this.deviceInstance, this.behaviour.segmentation === true ? 1 : 3, 999);
  }

  private remember(sender: Sender): void {
    if (sender.address !== undefined && this.peers.size < 64) this.peers.add(sender.address);
  }
}
