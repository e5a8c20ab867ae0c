/**
 * The driver contract (CONVENTIONS §6): connect, read a planned block of points and
 * return raw values, write one point, close. Scaling, deadbands, scheduling, coalescing
 * and one-request-at-a-time per link live in the poller, once, for every driver.
 * Modelled on EdgeX's `ProtocolDriver` interface.
 */
import type { PointSpec } from '../core/config/profile.js';

/** A value as the device holds it, before scale and offset. */
export type RawValue = number | boolean | string;

/** Where a point lives, in terms the poller can coalesce without knowing the protocol. */
export interface Location {
  /** Points in different spaces are never read together (e.g. "1/holding": unit 1, holding registers). */
  readonly space: string;
  /** First address unit (register, coil, object index) the point occupies. */
  readonly start: number;
  /** Address units the point spans. */
  readonly count: number;
}

/** A read the poller planned: points of one space that a single request can fetch. */
export interface ReadBlock {
  readonly space: string;
  readonly start: number;
  readonly count: number;
  /** Points inside [start, start + count), each with its location. */
  readonly points: readonly { readonly spec: PointSpec; readonly at: Location }[];
}

/**
 * A planned block compiled once for the poller's fast path (`Driver.compileNumeric`):
 * every read of it decodes the answer in one pass into numbers, with no object per point.
 */
export interface NumericBlockReader {
  /**
   * Reads the block in one request and writes the raw value of `block.points[i]` into
   * `out[i]`: numbers as they are, booleans as 1 or 0, NaN for a point without a valid
   * value (NaN/∞ from the device, undecodable). Rejects as `Driver.read` does when the
   * request as a whole failed.
   */
  read(out: Float64Array): Promise<void>;
}

/** A point's raw value or the reason it could not be had. */
export type PointResult = { readonly ok: true; readonly value: RawValue } | { readonly ok: false; readonly error: Error };

/** A device event as a driver reports it (ONVIF motion, a fire panel alarm, access forced…). */
export interface DeviceEvent {
  /** Dotted event type of DESIGN.md's data model, e.g. `camera.motion`, `access.forced`. */
  readonly type: string;
  readonly severity: 'critical' | 'major' | 'minor' | 'warning' | 'info';
  /** ms epoch; the device's time when it gives one, else the gateway's. */
  readonly ts: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/** Where a driver pushes what the device sends unasked. */
export interface DriverSink {
  /** A value pushed by the device (a BACnet COV notification), raw like `read` returns. */
  value(point: string, value: RawValue, ts: number): void;
  /** An event the device raised. */
  event(event: DeviceEvent): void;
  /**
   * The subscription was lost (device rebooted, lifetime ended, link dropped) and could
   * not be renewed: the poller falls back to polling these points until `subscribe` again.
   */
  lost(points: readonly string[], reason: Error): void;
}

/** A device found by discovery (BACnet Who-Is/I-Am, ONVIF probe on a known address). */
export interface DiscoveredDevice {
  readonly protocol: string;
  /** How to reach it, in the shape of a site.yaml `connection`. */
  readonly connection: Readonly<Record<string, unknown>>;
  readonly name?: string;
  readonly vendor?: string;
  readonly model?: string;
  /** Protocol-specific inventory (BACnet object list, ONVIF profiles…). */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Driver {
  /** The connection protocol, e.g. `modbus-tcp`. */
  readonly protocol: string;
  /** Identifies the physical link (socket, serial port): the poller sends one request at a time per link. */
  readonly linkKey: string;
  /** Opens the link. Throws a GatewayError (communication/timeout/auth) when it cannot. */
  connect(): Promise<void>;
  /** True while the link is believed usable. */
  isConnected(): boolean;
  /** Where `point` lives. Pure: no I/O. */
  locate(point: PointSpec): Location;
  /** The largest request (`maxCount` units) and the largest gap worth reading through, for a space. */
  limits(space: string): { readonly maxCount: number; readonly maxGap: number };
  /**
   * Reads one planned block in one request. Resolves with one result per point, in
   * `block.points` order; rejects when the request as a whole failed (timeout, link down,
   * exception response) with a GatewayError naming why.
   */
  read(block: ReadBlock): Promise<PointResult[]>;
  /**
   * Optional fast path: a reader for `block` whose values are all numbers or booleans,
   * or undefined when the block holds other points (strings); the poller then calls
   * `read`. Pure: no I/O until the reader reads.
   */
  compileNumeric?(block: ReadBlock): NumericBlockReader | undefined;
  /** Writes a raw value to a point. Rejects with a GatewayError. */
  write(point: PointSpec, value: RawValue): Promise<void>;
  /**
   * Optional: asks the device to push values (BACnet COV) and events (ONVIF PullPoint)
   * after connect. Resolves with the names of the points it now pushes — the poller
   * stops polling those (or polls them slowly as a check) — and keeps the subscriptions
   * alive itself (renewal before the lifetime ends, re-subscription after a reboot).
   * Points it could not subscribe (refused) are simply not in the answer: they are polled.
   */
  subscribe?(points: readonly PointSpec[], sink: DriverSink): Promise<readonly string[]>;
  /** Optional: the device's current picture (cameras), e.g. `{ contentType: 'image/jpeg', data }`. */
  snapshot?(): Promise<{ readonly contentType: string; readonly data: Buffer }>;
  /** Optional: finds devices reachable from this driver's link (never broadcasts beyond what the config allows). */
  discover?(): Promise<DiscoveredDevice[]>;
  /** Closes the link; pending requests reject. Idempotent. */
  close(): Promise<void>;
}
