/**
 * The fast path for the gateway's own QoS 0 publications — latest values (`…/<device>/<point>`)
 * and device batches (`…/<device>/$values`) — which are most of the bus's traffic.
 *
 * Through `aedes.publish`, each message costs per subscriber: a `setImmediate`, a packet
 * object, mqtt-packet's serialisation of the same bytes again and several small socket
 * writes, plus mqemitter's bookkeeping; with 50 subscribers that is 50 serialisations of
 * one value. Here a message is serialised once into one Buffer (the PUBLISH frame), which
 * goes to every subscriber whose granted subscription matches. The frames queued for a
 * subscriber during one turn of the event loop (the device batches of the polls answered
 * in it) are written as one buffer by a `setImmediate` — one write per turn, not one per
 * value — and subscribers that get the same frames share that buffer.
 *
 * Nobody subscribed, nothing built: which subscribers match a slot's topic is cached on
 * the slot until subscriptions change (`wanted`), and the broker builds a value's JSON and
 * frame only when someone matches. The retained values of these topics are not stored per
 * message either: a `RetainedSlot` keeps the last value it was given (what the broker keeps
 * anyway for publication by exception), and a SUBSCRIBE is answered from those slots here,
 * at the `subscribe` event — the RETAIN 1 frames queued for the new subscriber before any
 * live value that follows, so it never sees an older value after a newer one.
 *
 * What stays aedes': CONNECT, SUBSCRIBE (with the ACL hook `authorizeSubscribe`: only
 * granted filters are learned here, from the `subscribe` event, and a persistent session's
 * restored ones at `client` — which get no retained values, as MQTT-3.1.2.4 and aedes have
 * it), the retained messages of every other topic (device `$state`s, which the broker
 * publishes through `aedes.publish`, and what clients publish retained), events (QoS 1),
 * and everything clients publish.
 *
 * MQTT semantics kept: QoS 0 (a subscription's QoS only caps, so a QoS 1 or 2 subscriber
 * gets these at 0, as from aedes); RETAIN 0 on live delivery (MQTT-3.3.1-9) and RETAIN 1
 * on the answer to a SUBSCRIBE (MQTT-3.3.1-8), once per topic even when several filters of
 * the SUBSCRIBE match it; one live delivery per client even when several of its filters
 * match (as aedes dedupes); topics starting with `$` never match a filter starting with a
 * wildcard (MQTT-4.7.2-1); order per topic.
 * A subscriber that reads slower than values come (a subscriber of every point while the
 * device layer runs flat out, a stalled one): its QoS 0 messages are dropped while more
 * than `maxBufferedBytes` wait in its socket (at most once delivery allows it; counted),
 * and the topics whose values it missed are remembered — one entry per topic — and sent
 * with their latest value when its socket drains (conflation): it skips values but never
 * ends up holding an older value than the gateway's, and the memory it can hold up is the
 * bound plus one message per topic. `$values` batches are deltas: missed ones are only
 * counted. A subscriber whose socket stays past the bound for `drainTimeoutMs` is
 * disconnected — as aedes disconnects a client whose socket does not drain.
 */
import type { Aedes, Client } from 'aedes';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { sharedString } from '../core/model.js';

/** The shortest time between two writes of queued frames (see `schedule`), ms. */
const FLUSH_INTERVAL_MS = 10;
/**
 * How long the frames of missed values stay on their slots for catching up (`RetainedSlot.frame`),
 * ms, at least: the memory they hold is the frames of the values missed in that time.
 */
const FRAME_CACHE_MS = 2000;

interface Subscriber {
  readonly client: Client;
  readonly conn: Duplex;
  /** Granted filters, split into levels. */
  readonly filters: Map<string, readonly string[]>;
  /** Frames of the current batch, written at `flush` as one buffer. */
  readonly pending: Buffer[];
  /**
   * Their bytes, counted with the socket's against the bound: a turn that queues many
   * values (the worker mode's, whose turn may carry the changes of several of the poller's)
   * cannot take a subscriber far past it before its socket sees any of them.
   */
  pendingBytes: number;
  /** It is in the turn's list of subscribers to write to (`touched`). */
  listed: boolean;
  /** A 'drain' listener is set on its socket. */
  drainArmed: boolean;
  /** When its socket went past the bound (0: it is not). */
  congestedSince: number;
  /**
   * The slots whose value it missed while its socket was past the bound, in the order
   * they were missed: their latest values are sent when the socket drains (conflation).
   * `missedFlags[slot.index]` is 1 while a slot's value is owed (0: sent, or superseded by
   * a later live value); `missed` may hold a slot again after that, skipped unless owed.
   */
  missed: RetainedSlot[];
  missedFlags: Uint8Array;
  /** Where catching up goes on in `missed`. */
  missedAt: number;
  /** It is owed the latest values of topics it missed (sent when its socket drains, or at once if it took all). */
  waiting: boolean;
}

/** A topic the gateway publishes on, with its frame prefix and its matching subscribers. */
export class Slot {
  /** `0x30, remaining length…, topic length, topic` minus the remaining length: topic length + topic bytes. */
  readonly head: Buffer;
  readonly levels: readonly string[];
  /** The subscribers matching it, as of `generation`. */
  targets: Subscriber[] = [];
  /** A retained slot's number in the fan-out (`Fanout.retain`), the index of the subscribers' flags of missed values; -1 for the others (`$values`). */
  index = -1;
  generation = -1;

  constructor(readonly topic: string) {
    const bytes = Buffer.from(topic, 'utf8');
    this.head = Buffer.allocUnsafe(2 + bytes.length);
    this.head.writeUInt16BE(bytes.length, 0);
    bytes.copy(this.head, 2);
    this.levels = sharedLevels(topic);
  }
}

/** A topic's levels, all but the last (prefix, site, device) shared by every slot (core/model.ts `sharedString`). */
function sharedLevels(topic: string): string[] {
  const levels = topic.split('/');
  for (let i = 0; i < levels.length - 1; i++) levels[i] = sharedString(levels[i]!);
  return levels;
}

/**
 * A slot whose topic has a retained value (a point's latest value): `retainedPayload`
 * gives it as a JSON text, built when a SUBSCRIBE asks for it; undefined while it has none.
 */
export abstract class RetainedSlot extends Slot {
  /** Bumped by the owner whenever the value changes (what a cached frame of it is checked against). */
  changes = 0;
  /**
   * Its latest live (RETAIN 0) frame, kept while a subscriber may be owed it (it missed the
   * value): what catching up sends, the very frame that was built for the live delivery —
   * no JSON or frame built again per subscriber. Valid while `frameChanges === changes`;
   * dropped by `Fanout`'s sweep (`FRAME_CACHE_MS`).
   */
  frame: Buffer | undefined = undefined;
  frameChanges = -1;
  abstract retainedPayload(): string | undefined;
}

/** MQTT-4.7 on pre-split levels (topics.ts `topicMatches` on strings). */
function matches(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]!.startsWith('$') && (filter[0] === '+' || filter[0] === '#')) return false;
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i];
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Bytes of the MQTT "remaining length" varint of `n`. */
export function varintLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Writes `n` as MQTT's "remaining length" varint (7 bits a byte, least significant first) at `at`; returns the offset after it. */
export function writeVarint(buf: Buffer, at: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[at++] = byte;
  } while (n > 0);
  return at;
}

export interface FanoutStats {
  /** Messages written to subscribers' sockets. */
  delivered: number;
  /** Messages not written: the subscriber's socket held more than the bound. */
  dropped: number;
  /** Latest values sent to a subscriber once its socket drained, for the values of those topics it missed. */
  caughtUp: number;
  /** Subscribers disconnected for not reading. */
  disconnected: number;
  /** Retained values sent in answer to a SUBSCRIBE (RETAIN 1). */
  retainedSent: number;
}

export class Fanout {
  private readonly subscribers = new Map<Client, Subscriber>();
  /** Subscribers with frames pending, in the order they got their first. */
  private readonly touched: Subscriber[] = [];
  private scheduled = false;
  /** When the last flush ran (performance.now()). */
  private flushedAt = -Infinity;
  /** Bumped on every change of subscriptions: slots re-match lazily. */
  private generation = 0;
  readonly stats: FanoutStats;
  /** RETAIN 1 frames built in this turn, shared by the subscribers that SUBSCRIBE in it (and then their writes). */
  private readonly retainedFrames = new Map<RetainedSlot, { frame: Buffer; changes: number }>();
  /** The slots holding a frame for catching up (`RetainedSlot.frame`), cleared every FRAME_CACHE_MS. */
  private framed: RetainedSlot[] = [];
  private framedSince = 0;
  /** The slots with a retained value, by topic: what a SUBSCRIBE is answered from. */
  private readonly retained = new Map<string, RetainedSlot>();

  constructor(
    aedes: Aedes,
    private readonly maxBufferedBytes: number,
    private readonly drainTimeoutMs: number,
    /** Where to count (the worker's shared counters); a plain object by default. */
    stats?: FanoutStats,
    /**
     * Count the frames queued in this turn against the bound (the worker mode's: a turn of
     * the worker carries several of the poller's). Off in the poller's thread, where a turn
     * queues little: measured there it cost ~25 % of the saturation with 50 subscribers
     * (more values missed and caught up), for no bound it needed.
     */
    private readonly countPending = false,
  ) {
    this.stats = stats ?? { delivered: 0, dropped: 0, caughtUp: 0, disconnected: 0, retainedSent: 0 };
    // 128: refused by authorizeSubscribe (SUBACK 0x80) — never delivered to.
    // aedes has written the SUBACK (synchronously) when it emits this; the retained values follow it.
    aedes.on('subscribe', (subs, client) => {
      const granted = subs.filter((sub) => (sub.qos as number) <= 2).map((sub) => sub.topic);
      this.learn(client, granted);
      this.sendRetained(client, granted);
    });
    // A persistent session (clean session 0) that reconnects gets its stored subscriptions
    // back without a SUBSCRIBE and without a `subscribe` event: aedes has put them in
    // `client.subscriptions` (granted ones only) by the time it registers the client
    // (`client` event), before its CONNACK goes out.
    aedes.on('client', (client) => {
      const restored = (client as unknown as { subscriptions?: Record<string, unknown> }).subscriptions;
      if (restored !== undefined && typeof restored === 'object') this.learn(client, Object.keys(restored));
    });
    aedes.on('unsubscribe', (topics, client) => {
      const s = this.subscribers.get(client);
      if (s === undefined) return;
      for (const topic of topics) s.filters.delete(topic);
      if (s.filters.size === 0) this.subscribers.delete(client);
      this.generation++;
    });
    aedes.on('clientDisconnect', (client) => {
      if (this.subscribers.delete(client)) this.generation++;
    });
  }

  private learn(client: Client, filters: readonly string[]): void {
    if (filters.length === 0) return;
    const s = this.subscriberOf(client);
    for (const f of filters) s.filters.set(f, f.split('/'));
    this.generation++;
  }

  private subscriberOf(client: Client): Subscriber {
    let s = this.subscribers.get(client);
    if (s === undefined) {
      s = { client, conn: client.conn as Duplex, filters: new Map(), pending: [], pendingBytes: 0, listed: false, drainArmed: false, congestedSince: 0, missed: [], missedFlags: new Uint8Array(0), missedAt: 0, waiting: false };
      this.subscribers.set(client, s);
    }
    return s;
  }

  /**
   * Writes at the next turn of the event loop, or — when the last flush was less than
   * FLUSH_INTERVAL_MS ago — once that interval has passed: a socket write costs far more
   * than the bytes it carries (on loopback the kernel's receive path runs in the writer's
   * system call), so at a high rate of small turns the frames of several turns go in one
   * write per subscriber. At low rates a value still goes out at the next turn.
   */
  private schedule(): void {
    this.scheduled = true;
    const wait = this.flushedAt + FLUSH_INTERVAL_MS - performance.now();
    if (wait <= 0) setImmediate(this.flush);
    else setTimeout(this.flush, Math.ceil(wait));
  }

  /** Queues a frame for the subscriber, written at `flush`. */
  private queue(s: Subscriber, frame: Buffer): void {
    if (!s.listed) {
      s.listed = true;
      this.touched.push(s);
      if (!this.scheduled) this.schedule();
    }
    s.pending.push(frame);
    s.pendingBytes += frame.length;
  }

  /** Registers a slot whose retained value answers the SUBSCRIBEs that match its topic. */
  retain(slot: RetainedSlot): void {
    if (slot.index < 0) slot.index = this.retained.size;
    this.retained.set(slot.topic, slot);
  }

  /** Keeps the slot's current live frame for the subscribers that will catch up with it. */
  private keepFrame(slot: RetainedSlot, frame: Buffer): void {
    if (slot.frame === undefined) {
      if (this.framed.length === 0) this.framedSince = performance.now();
      this.framed.push(slot);
    }
    slot.frame = frame;
    slot.frameChanges = slot.changes;
  }

  /** Drops the kept frames once FRAME_CACHE_MS has passed (the pooled memory of old frames goes with them). */
  private sweepFrames(now: number): void {
    if (this.framed.length === 0 || now - this.framedSince < FRAME_CACHE_MS) return;
    for (const slot of this.framed) slot.frame = undefined;
    this.framed = [];
  }

  /** Notes that the subscriber missed the slot's value; its latest goes when the socket drains. */
  private miss(s: Subscriber, slot: RetainedSlot, frame: Buffer): void {
    if (slot.frameChanges !== slot.changes) this.keepFrame(slot, frame);
    const i = slot.index;
    if (i >= s.missedFlags.length) {
      const grown = new Uint8Array(Math.max(i + 1, this.retained.size, 2 * s.missedFlags.length));
      grown.set(s.missedFlags);
      s.missedFlags = grown;
    }
    if (s.missedFlags[i] === 1) return;
    s.missedFlags[i] = 1;
    s.missed.push(slot);
    // A slot missed, superseded and missed again is listed twice: keep the list within bounds.
    if (s.missed.length > 2 * s.missedFlags.length + 1024) this.compactMissed(s);
    if (!s.waiting) {
      s.waiting = true;
      this.armDrain(s);
    }
  }

  /** Catches up when the socket drains (once a listener, however many times it is asked). */
  private armDrain(s: Subscriber): void {
    if (s.drainArmed) return;
    s.drainArmed = true;
    s.conn.once('drain', () => {
      s.drainArmed = false;
      if (s.waiting) this.catchUp(s);
    });
  }

  private compactMissed(s: Subscriber): void {
    const flags = s.missedFlags;
    const kept: RetainedSlot[] = [];
    for (let k = s.missedAt; k < s.missed.length; k++) {
      const slot = s.missed[k]!;
      if (flags[slot.index] !== 1) continue;
      flags[slot.index] = 2; // listed once
      kept.push(slot);
    }
    for (const slot of kept) flags[slot.index] = 1;
    s.missed = kept;
    s.missedAt = 0;
  }

  /**
   * The retained values of the topics the granted filters match, as RETAIN 1 frames queued
   * for the client (once per topic), written with whatever else it gets in this turn.
   */
  private sendRetained(client: Client, filters: readonly string[]): void {
    if (filters.length === 0 || this.retained.size === 0) return;
    const conn = client.conn as Duplex;
    if (client.closed || conn.destroyed) return;
    const split = filters.map((f) => f.split('/'));
    let s = this.subscribers.get(client);
    for (const slot of this.retained.values()) {
      let hit = false;
      for (let i = 0; i < split.length && !hit; i++) hit = matches(split[i]!, slot.levels);
      if (!hit) continue;
      let cached = this.retainedFrames.get(slot);
      if (cached === undefined || cached.changes !== slot.changes) {
        const payload = slot.retainedPayload();
        if (payload === undefined) continue;
        cached = { frame: this.frame(slot, payload, true).frame, changes: slot.changes };
        this.retainedFrames.set(slot, cached);
        // Kept for this turn only (cleared at the flush): memory for the SUBSCRIBEs of one turn.
        if (!this.scheduled) this.schedule();
      }
      s ??= this.subscriberOf(client);
      this.queue(s, cached.frame);
      this.stats.retainedSent++;
    }
  }

  /** Is anybody subscribed to the slot's topic? (cached until subscriptions change) */
  wanted(slot: Slot): boolean {
    return this.targets(slot).length > 0;
  }

  /** The subscribers matching the slot's topic (cached until subscriptions change). */
  private targets(slot: Slot): Subscriber[] {
    if (slot.generation === this.generation) return slot.targets;
    const out: Subscriber[] = [];
    for (const s of this.subscribers.values()) {
      for (const f of s.filters.values()) {
        if (matches(f, slot.levels)) {
          out.push(s);
          break;
        }
      }
    }
    slot.targets = out;
    slot.generation = this.generation;
    return out;
  }

  /**
   * The PUBLISH frame (QoS 0; RETAIN 0, or 1 for the answer to a SUBSCRIBE) of `payload`
   * (a JSON text) on the slot's topic, and the payload as a view into it (for the bridge:
   * no second copy).
   */
  frame(slot: Slot, payload: string, retain = false): { frame: Buffer; payload: Buffer } {
    const bytes = Buffer.byteLength(payload, 'utf8');
    const remaining = slot.head.length + bytes;
    const start = 1 + varintLength(remaining);
    const frame = Buffer.allocUnsafe(start + remaining);
    frame[0] = retain ? 0x31 : 0x30;
    writeVarint(frame, 1, remaining);
    slot.head.copy(frame, start);
    frame.write(payload, start + slot.head.length, 'utf8');
    return { frame, payload: frame.subarray(start + slot.head.length) };
  }

  /** Queues the frame for every matching subscriber (written at `flush`). Returns how many get it. */
  deliver(slot: Slot, frame: Buffer, now: number): number {
    const targets = this.targets(slot);
    let n = 0;
    for (let i = 0; i < targets.length; i++) {
      const s = targets[i]!;
      const conn = s.conn;
      if (s.client.closed || conn.destroyed || !conn.writable) {
        // Gone without a clientDisconnect (a connection that died mid-handshake): forget it.
        if (this.subscribers.delete(s.client)) this.generation++;
        continue;
      }
      // Worker mode: the turn's frames alone past the bound while the socket has room (a reader
      // that keeps up, a worker's turn carrying several of the poller's): written now, so the
      // socket's own bound decides, as in the poller's thread, instead of values missed and
      // caught up a turn later.
      if (this.countPending && s.pendingBytes > 0 && conn.writableLength + s.pendingBytes > this.maxBufferedBytes && conn.writableLength < this.maxBufferedBytes / 2) this.writeNow(s);
      if (conn.writableLength + (this.countPending ? s.pendingBytes : 0) > this.maxBufferedBytes) {
        this.stats.dropped++;
        // Its latest value goes once the socket drains: a slow reader skips values, never ends up with an old one.
        if (slot.index >= 0) this.miss(s, slot as RetainedSlot, frame);
        if (s.congestedSince === 0) s.congestedSince = now;
        else if (now - s.congestedSince > this.drainTimeoutMs) {
          this.stats.disconnected++;
          conn.destroy(new Error('drain timeout'));
        }
        continue;
      }
      s.congestedSince = 0;
      // This value supersedes a missed one of the same topic.
      if (s.missed.length > 0 && slot.index >= 0 && slot.index < s.missedFlags.length) s.missedFlags[slot.index] = 0;
      this.queue(s, frame);
      n++;
    }
    this.stats.delivered += n;
    return n;
  }

  /**
   * The socket of a subscriber that missed values has drained: the latest value of each
   * topic it missed (RETAIN 0: live delivery of the current value), in the order missed,
   * at most one per topic — bounded by the number of topics, not by how much it missed.
   */
  private catchUp(s: Subscriber): void {
    s.waiting = false;
    if (s.client.closed || s.conn.destroyed || this.subscribers.get(s.client) !== s) {
      s.missed = [];
      s.missedAt = 0;
      s.missedFlags.fill(0);
      return;
    }
    // It drained: it reads, so it is not the subscriber that stopped reading.
    s.congestedSince = 0;
    // A quarter of the bound per drain: what it costs follows what the subscriber reads.
    const budget = this.maxBufferedBytes / 4;
    const flags = s.missedFlags;
    let bytes = 0;
    let k = s.missedAt;
    for (; k < s.missed.length && bytes < budget; k++) {
      const slot = s.missed[k]!;
      if (flags[slot.index] !== 1) continue;
      flags[slot.index] = 0;
      // Not if it has unsubscribed from the topic since (an UNSUBSCRIBE of some of its filters).
      if (!this.targets(slot).includes(s)) continue;
      // The live frame of the current value, kept when it was missed (or built once and kept): one per topic for every subscriber.
      let frame = slot.frame;
      if (frame === undefined || slot.frameChanges !== slot.changes) {
        const payload = slot.retainedPayload();
        if (payload === undefined) continue;
        frame = this.frame(slot, payload).frame;
        this.keepFrame(slot, frame);
      }
      this.queue(s, frame);
      this.stats.caughtUp++;
      bytes += frame.length;
    }
    if (k >= s.missed.length) {
      s.missed = [];
      s.missedAt = 0;
    } else {
      // The rest at the next drain (the write of ≥ a quarter of the bound fills the socket's buffer).
      s.missedAt = k;
      s.waiting = true;
      this.armDrain(s);
    }
  }

  /** Writes the subscriber's queued frames now, before the turn's flush (worker mode, `deliver`). */
  private writeNow(s: Subscriber): void {
    const frames = s.pending;
    s.conn.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, s.pendingBytes));
    frames.length = 0;
    s.pendingBytes = 0;
  }

  /** Writes what `deliver` queued: one buffer per subscriber, shared by those that get the same frames. */
  readonly flush = (): void => {
    this.scheduled = false;
    this.flushedAt = performance.now();
    this.sweepFrames(this.flushedAt);
    const list = this.touched;
    let prev: Buffer[] | undefined;
    let joined: Buffer | undefined;
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      const frames = s.pending;
      if (s.conn.destroyed || frames.length === 0) continue;
      if (frames.length === 1) s.conn.write(frames[0]!);
      else {
        if (prev === undefined || !sameFrames(prev, frames)) joined = Buffer.concat(frames);
        s.conn.write(joined!);
      }
      prev = frames;
    }
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      s.pending.length = 0;
      s.pendingBytes = 0;
      s.listed = false;
      // Values missed for what was pending, not for a full socket: a socket that took it all
      // will not emit 'drain' — catch up at the next turn instead.
      if (this.countPending && s.waiting && !s.conn.writableNeedDrain && !s.conn.destroyed) setImmediate(() => (s.waiting && !s.conn.writableNeedDrain ? this.catchUp(s) : undefined));
    }
    list.length = 0;
    this.retainedFrames.clear();
  };
}
