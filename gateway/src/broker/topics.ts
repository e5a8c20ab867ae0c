/**
 * The topic scheme of the gateway's MQTT bus (DESIGN.md "Node-RED, MQTT", docs/mqtt.md):
 *
 * - `steward/v1/<site>/<device>/<point>` — latest value, retained, `{v, ts, q}`
 * - `steward/v1/<site>/<device>/<point>/set` — a write request from a client
 * - `steward/v1/<site>/<device>/<point>/set/result` — the gateway's answer to it
 * - `steward/v1/<site>/<device>/$state` — online | offline | connecting | disabled, retained
 * - `steward/v1/<site>/<device>/$values` — the changed values of one poll of the device in
 *   one message `{ts, values: {<point>: {v, ts, q}}}`, not retained: for bulk consumers
 * - `steward/v1/<site>/events/<type>` — every recorded event (type dotted: `alarm.raised`)
 *
 * Device ids are `[a-z0-9-]+`, point names `[a-z0-9_]+`, event types dotted, so no topic
 * of one kind can be read as another — except a device named `events`, which the docs
 * tell people not to use.
 */

export const TOPIC_ROOT = 'steward/v1';

export class Topics {
  /** `steward/v1/<site>` */
  readonly prefix: string;
  private readonly prefixSlash: string;

  constructor(readonly site: string) {
    this.prefix = `${TOPIC_ROOT}/${site}`;
    this.prefixSlash = `${this.prefix}/`;
  }

  value(device: string, point: string): string {
    return `${this.prefixSlash}${device}/${point}`;
  }

  set(device: string, point: string): string {
    return `${this.prefixSlash}${device}/${point}/set`;
  }

  setResult(device: string, point: string): string {
    return `${this.prefixSlash}${device}/${point}/set/result`;
  }

  state(device: string): string {
    return `${this.prefixSlash}${device}/$state`;
  }

  values(device: string): string {
    return `${this.prefixSlash}${device}/$values`;
  }

  event(type: string): string {
    return `${this.prefixSlash}events/${type}`;
  }

  /** True for a topic of this site's tree (which only the gateway publishes, `…/set` aside). */
  owns(topic: string): boolean {
    return topic === this.prefix || topic.startsWith(this.prefixSlash);
  }

  /** The device and point of a `…/<device>/<point>/set` topic, or undefined. */
  parseSet(topic: string): { device: string; point: string } | undefined {
    if (!topic.startsWith(this.prefixSlash) || !topic.endsWith('/set')) return undefined;
    const parts = topic.slice(this.prefixSlash.length, -'/set'.length).split('/');
    if (parts.length !== 2) return undefined;
    const [device, point] = parts as [string, string];
    if (!/^[a-z0-9][a-z0-9-]*$/.test(device) || !/^[a-z0-9_]+$/.test(point)) return undefined;
    return { device, point };
  }
}

/**
 * Does topic `name` match `filter`? MQTT-4.7.1: `+` matches one level, `#` (last) the
 * level it stands on and every one below; a topic starting with `$` is not matched by a
 * filter starting with a wildcard (MQTT-4.7.2-1).
 */
export function topicMatches(filter: string, name: string): boolean {
  if (name.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const n = name.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= n.length) return false;
    if (level !== '+' && level !== n[i]) return false;
  }
  return f.length === n.length;
}

/**
 * Is every topic that `sub` (a subscription filter) can match also matched by `allowed`?
 * Used for SUBSCRIBE: a client allowed `steward/v1/s1/pump-1/#` may subscribe to
 * `steward/v1/s1/pump-1/+` but not to `steward/v1/s1/#`.
 */
export function filterCovers(allowed: string, sub: string): boolean {
  const a = allowed.split('/');
  const s = sub.split('/');
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    if (level === '#') return true;
    if (i >= s.length) return false;
    const want = s[i];
    if (want === '#') return false;
    if (level === '+') continue;
    if (want === '+' || want !== level) return false;
  }
  return a.length === s.length;
}
