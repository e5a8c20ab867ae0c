/**
 * ONVIF notification messages and the profile's event rules: parsing a PullMessages
 * answer into messages (ONVIF Core §9.1 Event Service, message format §9.2: a
 * `wsnt:NotificationMessage` with a `wsnt:Topic` and a `tt:Message` carrying `UtcTime`,
 * `PropertyOperation` and Source / Key / Data SimpleItems), matching them against the
 * profile's `events` rules, and picking out point values. Pure: no I/O.
 */
import type { DeviceEventRuleSpec, PointSpec } from '../../core/config/profile.js';
import type { RawValue } from '../driver.js';
import type { OnvifAddress } from './schema.js';
import { at, attr, child, children, text, type XmlValue } from './xml.js';

/** One notification as the device sent it. */
export interface NotificationMessage {
  /** The topic as written by the device, e.g. `tns1:RuleEngine/CellMotionDetector/Motion`. */
  readonly topic: string;
  /** `UtcTime` of the message (ms epoch), when it parses. */
  readonly utcTime?: number;
  /** Core §9.2.3 properties: `Initialized` (state at subscription), `Changed`, `Deleted`; absent for plain events. */
  readonly operation?: string;
  readonly source: Readonly<Record<string, string>>;
  readonly key: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
}

function items(node: XmlValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of children(node, 'SimpleItem')) {
    const name = attr(item, 'Name');
    if (name !== undefined) out[name] = attr(item, 'Value') ?? '';
  }
  return out;
}

/** The messages of a PullMessagesResponse (or of any element holding NotificationMessages). */
export function parseNotifications(response: XmlValue | undefined): NotificationMessage[] {
  return children(response, 'NotificationMessage').map((nm) => {
    const msg = at(nm, 'Message', 'Message');
    const utc = attr(msg, 'UtcTime');
    const ms = utc === undefined ? NaN : Date.parse(utc);
    const operation = attr(msg, 'PropertyOperation');
    return {
      topic: (text(child(nm, 'Topic')) ?? '').trim(),
      ...(Number.isFinite(ms) ? { utcTime: ms } : {}),
      ...(operation === undefined ? {} : { operation }),
      source: items(child(msg, 'Source')),
      key: items(child(msg, 'Key')),
      data: items(child(msg, 'Data')),
    };
  });
}

/**
 * A topic without namespace prefixes: `tns1:VideoSource/tnsaxis:MotionAlarm` →
 * `VideoSource/MotionAlarm`. Devices choose their own prefixes, so rules compare local names.
 */
export function normaliseTopic(topic: string): string {
  return topic
    .trim()
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.slice(s.indexOf(':') + 1))
    .join('/');
}

/**
 * Does the profile's `rule` topic cover the device's `topic`? Equal local names, or a
 * rule ending in `//.` (the ConcreteSet dialect's "this topic and every topic below it",
 * Core §9.6.3) covering the subtree.
 */
export function topicMatches(rule: string, topic: string): boolean {
  const t = normaliseTopic(topic);
  if (rule.trim().endsWith('//.')) {
    const root = normaliseTopic(rule.trim().slice(0, -3));
    return t === root || t.startsWith(`${root}/`);
  }
  return normaliseTopic(rule) === t;
}

/** xs:boolean lexical forms (XML Schema Part 2 §3.2.2). */
function asBoolean(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  return undefined;
}

/** The item `name` of a message: Data first, then Source, then Key. */
export function itemOf(msg: NotificationMessage, name: string): string | undefined {
  return msg.data[name] ?? msg.source[name] ?? msg.key[name];
}

/**
 * Does `msg` satisfy a rule's `when`? Each named item must equal the value: booleans
 * compare as xs:boolean, numbers numerically, strings exactly or as one token of an
 * xs:StringList (`ClassTypes="Human Vehicle"` satisfies `ClassTypes: Human`).
 */
export function whenMatches(when: Readonly<Record<string, string | number | boolean>> | undefined, msg: NotificationMessage): boolean {
  if (when === undefined) return true;
  return Object.entries(when).every(([name, want]) => {
    const got = itemOf(msg, name);
    if (got === undefined) return false;
    if (typeof want === 'boolean') return asBoolean(got) === want;
    if (typeof want === 'number') return Number(got.trim()) === want;
    return got === want || got.trim().split(/\s+/).includes(want);
  });
}

/** An event a message raised under a rule, before the driver adds its snapshot hint. */
export interface MatchedEvent {
  readonly rule: DeviceEventRuleSpec;
  readonly ts: number;
  readonly body: Record<string, unknown>;
}

/**
 * Turns messages into events by the profile's rules. `Initialized` messages (the state
 * a device reports when a subscription starts, Core §9.2.3) and `Deleted` ones raise no
 * event: a re-subscription after a reboot would otherwise repeat every active state.
 * Events of one type raised by rules of different topics within `mergeMs` are merged
 * (cameras that report one motion under two topics).
 */
export class EventMapper {
  private readonly last = new Map<string, { topic: string; ts: number }>();

  constructor(
    private readonly rules: readonly DeviceEventRuleSpec[],
    private readonly mergeMs: number,
  ) {}

  map(msg: NotificationMessage, nowMs: number): MatchedEvent[] {
    if (msg.operation === 'Initialized' || msg.operation === 'Deleted') return [];
    const out: MatchedEvent[] = [];
    const ts = msg.utcTime ?? nowMs;
    const seenTypes = new Set<string>();
    for (const rule of this.rules) {
      if (seenTypes.has(rule.type) || !topicMatches(rule.topic, msg.topic) || !whenMatches(rule.when, msg)) continue;
      seenTypes.add(rule.type);
      const prev = this.last.get(rule.type);
      const topic = normaliseTopic(msg.topic);
      this.last.set(rule.type, { topic, ts });
      if (this.mergeMs > 0 && prev !== undefined && prev.topic !== topic && Math.abs(ts - prev.ts) <= this.mergeMs) continue;
      out.push({
        rule,
        ts,
        body: {
          topic: msg.topic,
          ...(msg.operation === undefined ? {} : { operation: msg.operation }),
          ...(msg.utcTime === undefined ? {} : { utcTime: new Date(msg.utcTime).toISOString() }),
          source: { ...msg.source },
          data: { ...msg.data },
          ...(Object.keys(msg.key).length === 0 ? {} : { key: { ...msg.key } }),
        },
      });
    }
    return out;
  }
}

/** A data item's text as the raw value of a point of `type`; undefined when it does not convert. */
export function pointValue(point: Pick<PointSpec, 'type'>, value: string): RawValue | undefined {
  switch (point.type) {
    case 'bool':
      return asBoolean(value);
    case 'string':
      return value;
    default: {
      const n = Number(value.trim());
      if (value.trim() !== '' && Number.isFinite(n)) return n;
      // A state word on a numeric point (e.g. "true" on a bits point): booleans as 0/1.
      const b = asBoolean(value);
      return b === undefined ? undefined : b ? 1 : 0;
    }
  }
}

/** The point values a message carries, for the points whose topic it has. */
export function pointValues(points: readonly PointSpec[], msg: NotificationMessage): { point: PointSpec; value: RawValue }[] {
  const out: { point: PointSpec; value: RawValue }[] = [];
  for (const point of points) {
    const address = point.address as OnvifAddress | undefined;
    if (address === undefined || !topicMatches(address.topic, msg.topic)) continue;
    const raw = msg.data[address.item] ?? msg.source[address.item];
    if (raw === undefined) continue;
    const value = pointValue(point, raw);
    if (value !== undefined) out.push({ point, value });
  }
  return out;
}
