/**
 * The gateway's data model (DESIGN.md "Data model"): plain types every part may use.
 */

export type Quality = 'good' | 'bad' | 'stale';
export type Value = number | boolean | string;

/** A point reading in engineering units. */
export interface Reading {
  /** `deviceId.pointName`. */
  readonly point: string;
  /** ms epoch, gateway clock, when the value was read. */
  readonly ts: number;
  /** null when the point could not be read (quality bad/stale). */
  readonly value: Value | null;
  readonly quality: Quality;
}

export type Severity = 'critical' | 'major' | 'minor' | 'warning' | 'info';

/** Something that happened (`device.offline`, `alarm.raised`, …). */
export interface GatewayEvent {
  /** UUIDv7. */
  readonly id: string;
  readonly ts: number;
  readonly site: string;
  readonly device?: string;
  /** Dotted: `device.online`, `alarm.raised`, `buffer.evicted`, … */
  readonly type: string;
  readonly severity: Severity;
  readonly body: Readonly<Record<string, unknown>>;
}

/** What the gateway knows of a device's link right now. */
export type DeviceState = 'connecting' | 'online' | 'offline' | 'disabled';

export function pointId(device: string, point: string): string {
  return `${device}.${point}`;
}

/**
 * A dense number for each point id in this process (0, 1, 2, … in order of first sight),
 * given once and never taken back. The poller hands each cycle's readings over with their
 * slots (PollSink.readings), so the parts on the polling path (store, broker, point
 * detectors) find their state for a reading in an array instead of a `Map` keyed by the
 * id string. A slot means nothing outside this process (not stored, not sent).
 */
const slots = new Map<string, number>();

export function pointSlot(id: string): number {
  let s = slots.get(id);
  if (s === undefined) slots.set(id, (s = slots.size));
  return s;
}

/**
 * One string for each distinct text that many points repeat (a Modbus space name, a topic's
 * site and device levels), kept for the life of the process: a 10,000-point gateway had
 * held 10,000 copies of "1/holding" and ~40,000 of its topics' levels. Only for texts of
 * which there are few distinct ones.
 */
const shared = new Map<string, string>();

export function sharedString(text: string): string {
  const known = shared.get(text);
  if (known !== undefined) return known;
  shared.set(text, text);
  return text;
}

/** Grows a table indexed by `pointSlot` to hold slot `s` — with undefined, so that it stays a packed array, never a holey one. */
export function holdSlot<T>(table: (T | undefined)[], s: number): void {
  for (let k = table.length; k <= s; k++) table.push(undefined);
}
