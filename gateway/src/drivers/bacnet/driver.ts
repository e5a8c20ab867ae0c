/**
 * The BACnet/IP driver (ASHRAE 135 Annex J) through @bacnet-js/client, behind the Driver
 * contract (driver.ts): ReadPropertyMultiple (§15.7) for a planned block of points, with
 * a fall-back to one ReadProperty (§15.5) per point for devices without it;
 * WriteProperty (§15.9) at the point's priority (§19.2) and relinquish (NULL at that
 * priority); SubscribeCOV (§13.14) for `cov: true` points; Who-Is/I-Am (§16.10) and the
 * object list for discovery.
 *
 * Addressing for the poller: every point of a device is in one space (the device
 * instance); a point's "address" is its index in the profile, so the coalescer packs up
 * to `bacnet.maxPropertiesPerRequest` points into one request.
 */
import type { DeviceConfig } from '../../core/config/load.js';
import type { PointSpec } from '../../core/config/profile.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { DiscoveredDevice, Driver, DriverSink, Location, PointResult, RawValue, ReadBlock } from '../driver.js';
import { CovSubscriptions, type CovPoint } from './cov.js';
import type { BACNetAppData } from '@bacnet-js/client';
import type { ForeignDeviceRegistration } from './bbmd.js';
import { acquireLink, bacnetError, releaseLink, type BacnetClient, type BacnetLink, type IAm } from './link.js';
import { OBJECT_TYPES, COMMANDABLE, objectLabel, objectTypeName, propertyId, propertyName, type ObjectTypeName } from './names.js';
import { DEFAULT_WRITE_PRIORITY, type BacnetAddress, type BacnetIpConnection, type BacnetOptions } from './schema.js';
import { fromRaw, toRaw, type AppValue } from './values.js';

/** BACnetARRAY "all elements" (§15.5.1.1.3: the array index is omitted). */
const ARRAY_ALL = 0xffffffff;
const DEVICE = OBJECT_TYPES.device;
const OBJECT_NAME = 77;
const OBJECT_LIST = 76;
const VENDOR_NAME = 121;
const MODEL_NAME = 70;
/** The library's tag for a per-property error inside a ReadPropertyMultiple-ACK. */
const TAG_ERROR = 105;

/** A driver with BACnet's relinquish (§19.2.1.3): writes NULL at the point's priority. */
export interface BacnetDriver extends Driver {
  /** Removes this gateway's command at the point's priority; the next priority (or relinquish-default) takes over. */
  relinquish(point: PointSpec): Promise<void>;
  /** False once the device refused ReadPropertyMultiple (reads then go one ReadProperty per point). */
  readonly readPropertyMultiple: boolean;
  subscribe(points: readonly PointSpec[], sink: DriverSink): Promise<readonly string[]>;
  discover(): Promise<DiscoveredDevice[]>;
}

/** A point's resolved BACnet reference. */
interface Ref {
  readonly typeName: ObjectTypeName;
  readonly type: number;
  readonly instance: number;
  readonly property: number;
  readonly index: number;
  readonly address: BacnetAddress;
  readonly label: string;
}

function resolveConnection(raw: Readonly<Record<string, unknown>>): BacnetIpConnection {
  const c = raw as Partial<BacnetIpConnection>;
  if (typeof c.host !== 'string' || typeof c.deviceInstance !== 'number') throw new GatewayError('GW_ERR_CONFIG_INVALID', 'a bacnet-ip connection needs host and deviceInstance');
  return {
    protocol: 'bacnet-ip',
    host: c.host,
    port: c.port ?? 47808,
    deviceInstance: c.deviceInstance,
    timeoutMs: c.timeoutMs ?? 3000,
    localPort: c.localPort ?? 0,
    covLifetimeS: c.covLifetimeS ?? 300,
    ...(c.maxApduLength === undefined ? {} : { maxApduLength: c.maxApduLength }),
    ...(c.bbmd === undefined || typeof c.bbmd.host !== 'string' ? {} : { bbmd: { host: c.bbmd.host, port: c.bbmd.port ?? 47808, ttlS: c.bbmd.ttlS ?? 600 } }),
  };
}

function resolveOptions(raw: Readonly<Record<string, unknown>>): BacnetOptions {
  const max = raw.maxPropertiesPerRequest;
  return { maxPropertiesPerRequest: typeof max === 'number' && max >= 1 ? Math.floor(max) : 20, readMultiple: raw.readMultiple !== false };
}

function refOf(point: PointSpec): Ref {
  const address = point.address as unknown as BacnetAddress | undefined;
  const typeName = address?.object?.type;
  if (address === undefined || typeName === undefined || !(typeName in OBJECT_TYPES) || typeof address.object.instance !== 'number') {
    throw new GatewayError('GW_ERR_DECODE', `point ${point.name} has no valid BACnet address (expected object: { type, instance })`, { details: { point: point.name } });
  }
  const type = OBJECT_TYPES[typeName];
  const property = propertyId(address.property ?? 'present-value');
  return { typeName, type, instance: address.object.instance, property, index: address.arrayIndex ?? ARRAY_ALL, address, label: `${objectLabel(type, address.object.instance)} ${propertyName(property)}` };
}

/** Whether an answer to ReadPropertyMultiple says the device does not do it (§15.7, §18.8, §18.9). */
function rpmUnsupported(err: GatewayError): boolean {
  if (err.code === 'GW_ERR_BACNET_REJECT') return true; // unrecognized-service, or a request it cannot parse
  if (err.code === 'GW_ERR_BACNET_ABORT') return ['segmentation-not-supported', 'buffer-overflow', 'apdu-too-long', 'out-of-resources'].includes(String(err.details.abort));
  return err.code === 'GW_ERR_BACNET_ERROR' && err.details.errorClass === 'services';
}

class BacnetIpDriver implements BacnetDriver {
  readonly protocol = 'bacnet-ip';
  readonly linkKey: string;
  private link: BacnetLink | undefined;
  private connected = false;
  private rpm: boolean;
  private cov: CovSubscriptions | undefined;
  private registration: ForeignDeviceRegistration | undefined;
  private readonly conn: BacnetIpConnection;
  private readonly options: BacnetOptions;
  private readonly address: string;
  private readonly index = new Map<string, number>();
  private readonly refs = new WeakMap<PointSpec, Ref>();

  constructor(
    private readonly device: DeviceConfig,
    private readonly log: Logger,
  ) {
    this.conn = resolveConnection(device.connection);
    this.options = resolveOptions(device.profile.protocolOptions);
    this.rpm = this.options.readMultiple;
    this.address = `${this.conn.host}:${this.conn.port}`;
    // UDP: requests to different devices do not queue behind each other, so each device is its own "link" for the poller.
    this.linkKey = `bacnet-ip://${this.address}/${this.conn.deviceInstance}`;
    device.profile.points.forEach((p, i) => this.index.set(p.name, i));
  }

  get readPropertyMultiple(): boolean {
    return this.rpm;
  }

  private ref(point: PointSpec): Ref {
    let ref = this.refs.get(point);
    if (ref === undefined) {
      ref = refOf(point);
      this.refs.set(point, ref);
    }
    return ref;
  }

  private async openLink(): Promise<BacnetLink> {
    this.link ??= acquireLink(this.conn.localPort);
    await this.link.ensureOpen();
    const bbmd = this.conn.bbmd;
    if (bbmd !== undefined && this.registration === undefined) {
      // Annex J.5.2: the first holder registers (and keeps re-registering); the others share it.
      this.registration = this.link.acquireRegistration(bbmd, this.conn.timeoutMs, this.log);
      if (!this.registration.registered) await this.registration.register();
    }
    return this.link;
  }

  private request<T>(what: string, op: (client: BacnetClient, invokeId: number, receiver: { address: string }) => Promise<T>): Promise<T> {
    const link = this.link;
    if (link === undefined || !link.open) return Promise.reject(new GatewayError('GW_ERR_BACNET_SOCKET', `${what}: the driver of ${this.device.id} is not connected (call connect() first)`));
    const receiver = { address: this.address };
    return link.request(`${what} (device ${this.conn.deviceInstance} at ${this.address})`, this.conn.timeoutMs, (client, invokeId) => op(client, invokeId, receiver)).catch((err: unknown) => {
      // A silent device: the poller reconnects (re-confirming the device) before the next read.
      if (isGatewayError(err) && (err.kind === 'timeout' || err.code === 'GW_ERR_BACNET_SOCKET')) this.connected = false;
      throw err;
    });
  }

  /** Opens the shared socket and confirms the device answers: ReadProperty of its object-name (§12.11.2). */
  async connect(): Promise<void> {
    const started = performance.now();
    await this.openLink();
    const name = await this.request('ReadProperty device object-name', (c, invokeId, r) => c.readProperty(r, { type: DEVICE, instance: this.conn.deviceInstance }, OBJECT_NAME, { invokeId }));
    this.connected = true;
    this.log.info({ link: this.linkKey, local: this.link?.local, name: name.values[0]?.value, ms: Math.round(performance.now() - started) }, 'bacnet device answers');
  }

  isConnected(): boolean {
    return this.connected && this.link?.open === true;
  }

  locate(point: PointSpec): Location {
    this.ref(point);
    const i = this.index.get(point.name);
    if (i === undefined) throw new GatewayError('GW_ERR_DEVICE_NOT_FOUND', `point ${point.name} is not in the profile of ${this.device.id}`);
    return { space: String(this.conn.deviceInstance), start: i, count: 1 };
  }

  limits(_space: string): { readonly maxCount: number; readonly maxGap: number } {
    const max = this.rpm ? this.options.maxPropertiesPerRequest : 1;
    // Any point of the device can join a request: a gap costs nothing in BACnet.
    return { maxCount: max, maxGap: max };
  }

  async read(block: ReadBlock): Promise<PointResult[]> {
    const refs = block.points.map((p) => this.ref(p.spec));
    if (!this.rpm || refs.length === 1) return this.readEach(refs);
    try {
      return await this.readMultiple(refs);
    } catch (err) {
      if (!isGatewayError(err)) throw err;
      if (rpmUnsupported(err)) {
        this.rpm = false;
        this.log.warn({ device: this.device.id, err: err.message }, 'device refuses ReadPropertyMultiple: reading one property per request from now on');
        return this.readEach(refs);
      }
      // §15.7.1.3.2: a device may answer a whole RPM with one Error (e.g. an unknown object): ask point by point to tell which.
      if (err.code === 'GW_ERR_BACNET_ERROR') return this.readEach(refs);
      throw err;
    }
  }

  private async readMultiple(refs: readonly Ref[]): Promise<PointResult[]> {
    // One read-access specification per object, properties in point order (§15.7.1.1.1).
    const specs: { objectId: { type: number; instance: number }; properties: { id: number; index: number }[] }[] = [];
    for (const r of refs) {
      let spec = specs.find((s) => s.objectId.type === r.type && s.objectId.instance === r.instance);
      if (spec === undefined) specs.push((spec = { objectId: { type: r.type, instance: r.instance }, properties: [] }));
      if (!spec.properties.some((p) => p.id === r.property && p.index === r.index)) spec.properties.push({ id: r.property, index: r.index });
    }
    const answer = await this.request(`ReadPropertyMultiple (${refs.length} properties)`, (c, invokeId, r) => c.readPropertyMultiple(r, specs, { invokeId }));
    return refs.map((r): PointResult => {
      const obj = answer.values.find((v) => v.objectId.type === r.type && v.objectId.instance === r.instance);
      const prop = obj?.values.find((v) => v.id === r.property && (v.index === r.index || (r.index === ARRAY_ALL && v.index === undefined)));
      if (prop === undefined) return { ok: false, error: new GatewayError('GW_ERR_DECODE', `${r.label}: missing from the ReadPropertyMultiple answer`) };
      const first = prop.value[0] as AppValue | undefined;
      if (first?.type === TAG_ERROR) {
        const e = first.value as { errorClass: number; errorCode: number };
        return { ok: false, error: bacnetError(r.label, e.errorClass, e.errorCode) };
      }
      return this.result(r, prop.value as AppValue[]);
    });
  }

  private result(r: Ref, values: readonly AppValue[]): PointResult {
    const raw = toRaw(values, r.typeName, r.type, r.instance, r.property);
    return raw instanceof Error ? { ok: false, error: raw } : { ok: true, value: raw };
  }

  /** One ReadProperty per point; a point the device answers with an Error fails alone. */
  private async readEach(refs: readonly Ref[]): Promise<PointResult[]> {
    const out: PointResult[] = [];
    for (const r of refs) {
      try {
        const answer = await this.request(`ReadProperty ${r.label}`, (c, invokeId, rcv) =>
          c.readProperty(rcv, { type: r.type, instance: r.instance }, r.property, r.index === ARRAY_ALL ? { invokeId } : { invokeId, arrayIndex: r.index }),
        );
        out.push(this.result(r, answer.values as AppValue[]));
      } catch (err) {
        if (isGatewayError(err) && (err.code === 'GW_ERR_BACNET_ERROR' || err.code === 'GW_ERR_BACNET_REJECT' || err.code === 'GW_ERR_DECODE')) out.push({ ok: false, error: err });
        else throw err;
      }
    }
    return out;
  }

  /** WriteProperty (§15.9) of the point's property; `null` relinquishes (see relinquish). */
  async write(point: PointSpec, value: RawValue): Promise<void> {
    await this.writeValue(point, (value as RawValue | null) === null ? null : value);
  }

  async relinquish(point: PointSpec): Promise<void> {
    await this.writeValue(point, null);
  }

  private async writeValue(point: PointSpec, value: RawValue | null): Promise<void> {
    const r = this.ref(point);
    if (point.access !== 'rw') throw new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name} is read-only (access: r in the profile)`, { details: { point: point.name } });
    // §19.2: the priority applies to the present-value of commandable objects; elsewhere it is left out.
    const commandable = r.property === 85 && COMMANDABLE.has(r.typeName);
    if (value === null && !commandable) throw new GatewayError('GW_ERR_WRITE_REFUSED', `${point.name}: only the present-value of a commandable object can be relinquished (§19.2)`, { details: { point: point.name } });
    const encoded = fromRaw(point, r.typeName, r.property, value);
    const priority = commandable ? (r.address.priority ?? DEFAULT_WRITE_PRIORITY) : undefined;
    const what = `${value === null ? 'relinquish' : 'WriteProperty'} ${r.label}${priority === undefined ? '' : ` @${priority}`}`;
    await this.request(what, (c, invokeId, rcv) =>
      c.writeProperty(rcv, { type: r.type, instance: r.instance }, r.property, [encoded as BACNetAppData], {
        invokeId,
        ...(priority === undefined ? {} : { priority }),
        ...(r.index === ARRAY_ALL ? {} : { arrayIndex: r.index }),
      }),
    );
    this.log.info({ point: point.name, value, priority }, value === null ? 'relinquished' : 'written');
  }

  /** SubscribeCOV for the `cov: true` points; what the device refuses stays polled. */
  async subscribe(points: readonly PointSpec[], sink: DriverSink): Promise<readonly string[]> {
    const link = await this.openLink();
    this.cov ??= new CovSubscriptions(link, { address: this.address, deviceInstance: this.conn.deviceInstance, timeoutMs: this.conn.timeoutMs, lifetimeS: this.conn.covLifetimeS }, this.log);
    const wanted: CovPoint[] = [];
    for (const p of points) {
      const r = this.ref(p);
      if (r.address.cov === true && r.property === 85) wanted.push({ name: p.name, typeName: r.typeName, type: r.type, instance: r.instance });
    }
    return this.cov.subscribe(wanted, sink);
  }

  /**
   * Who-Is (§16.10) sent to the configured address only — never a broadcast — or, with a
   * `bbmd`, as Distribute-Broadcast-To-Network to the BBMD (limited to the configured
   * instance); then, for the device that answers with I-Am, its object-list (whole,
   * segmented, or element by element) and every object's object-name.
   */
  async discover(): Promise<DiscoveredDevice[]> {
    const link = await this.openLink();
    const iAm = await new Promise<IAm | undefined>((resolve) => {
      const timer = setTimeout(() => {
        off();
        resolve(undefined);
      }, this.conn.timeoutMs);
      const off = link.onIAm((i) => {
        if (i.sender !== this.address) return;
        clearTimeout(timer);
        off();
        resolve(i);
      });
      const registration = this.registration;
      if (registration === undefined) link.whoIs(this.address);
      // Through the BBMD (J.2.11), limited to the configured device so that its subnet is not woken up whole.
      else link.whoIsThroughBbmd(registration.address, this.conn.deviceInstance);
    });
    if (iAm === undefined) return [];
    const instance = iAm.deviceId;
    const deviceObj = { type: DEVICE, instance };
    const read = (what: string, obj: { type: number; instance: number }, prop: number, arrayIndex?: number) =>
      this.request(what, (c, invokeId, rcv) => c.readProperty(rcv, obj, prop, arrayIndex === undefined ? { invokeId } : { invokeId, arrayIndex }));
    const text = async (prop: number): Promise<string | undefined> => {
      try {
        const v = (await read(`ReadProperty device ${propertyName(prop)}`, deviceObj, prop)).values[0]?.value;
        return typeof v === 'string' ? v : undefined;
      } catch {
        return undefined;
      }
    };
    let ids: { type: number; instance: number }[];
    try {
      ids = (await read('ReadProperty device object-list', deviceObj, OBJECT_LIST)).values.map((v) => v.value as { type: number; instance: number });
    } catch (err) {
      // §12.11.13: a list too long for one APDU is read element by element (index 0 is the count).
      if (!isGatewayError(err) || err.code === 'GW_ERR_BACNET_TIMEOUT') throw err;
      const count = Number((await read('ReadProperty device object-list[0]', deviceObj, OBJECT_LIST, 0)).values[0]?.value ?? 0);
      ids = [];
      for (let i = 1; i <= count; i++) ids.push((await read(`ReadProperty device object-list[${i}]`, deviceObj, OBJECT_LIST, i)).values[0]?.value as { type: number; instance: number });
    }
    const objects: { type: string; instance: number; name?: string }[] = [];
    for (const id of ids) {
      let name: string | undefined;
      try {
        const v = (await read(`ReadProperty ${objectLabel(id.type, id.instance)} object-name`, id, OBJECT_NAME)).values[0]?.value;
        if (typeof v === 'string') name = v;
      } catch (err) {
        if (isGatewayError(err) && err.kind === 'timeout') throw err;
      }
      objects.push({ type: objectTypeName(id.type), instance: id.instance, ...(name === undefined ? {} : { name }) });
    }
    const name = await text(OBJECT_NAME);
    const vendor = await text(VENDOR_NAME);
    const model = await text(MODEL_NAME);
    return [
      {
        protocol: 'bacnet-ip',
        connection: { protocol: 'bacnet-ip', host: this.conn.host, port: this.conn.port, deviceInstance: instance },
        ...(name === undefined ? {} : { name }),
        ...(vendor === undefined ? {} : { vendor }),
        ...(model === undefined ? {} : { model }),
        details: { vendorId: iAm.vendorId, maxApdu: iAm.maxApdu, segmentation: iAm.segmentation, objects },
      },
    ];
  }

  async close(): Promise<void> {
    const link = this.link;
    const cov = this.cov;
    const registration = this.registration;
    this.link = undefined;
    this.cov = undefined;
    this.registration = undefined;
    this.connected = false;
    if (cov !== undefined) await cov.close();
    if (registration !== undefined && link !== undefined) link.releaseRegistration(registration);
    if (link !== undefined) releaseLink(link);
  }
}

/** The driver of one configured `bacnet-ip` device. */
export function createBacnetDriver(device: DeviceConfig, log: Logger): BacnetDriver {
  return new BacnetIpDriver(device, log);
}
