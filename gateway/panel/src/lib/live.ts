/**
 * What the panel knows of the gateway, kept current by the live stream (GET /api/v1/live,
 * Server-Sent Events): devices and their states, latest readings, recent events, the sync
 * state and the gateway's health. Components subscribe to one of a few "topics" and are
 * told at most once per animation frame, so a burst of 20,000 readings a second costs a
 * handful of renders, and only of what shows readings.
 */
import { api, withToken, type Device, type GatewayEvent, type Health, type Latest, type Quality, type Sync, type Value } from './api.js';

export type Topic = 'devices' | 'readings' | 'events' | 'meta' | 'alarms';

/** The colour a device shows on the overview. */
export type TileState = 'normal' | 'alarm' | 'offline' | 'stale';

/** The stream's compact reading: `[pointId, value, quality, ts]`. */
type WireReading = [string, Value | null, Quality, number];

const MAX_EVENTS = 300;

class LiveState {
  site: { id: string; name: string; timezone: string } | undefined;
  devices = new Map<string, Device>();
  latest = new Map<string, Latest>();
  events: GatewayEvent[] = [];
  sync: Sync | undefined;
  health: Health | undefined;
  connected = false;
  /** Devices with an active alarm (kept by the alarms module). */
  alarmed = new Set<string>();
  /** Readings received over the stream since the page loaded (scripts/bench/panel.ts reads it). */
  readingsReceived = 0;
  /** Age (ms) of the newest reading of each of the last 1,000 batches when it arrived: read time → in the page. */
  readonly arrivalAgesMs: number[] = [];
  /** Per point id, listeners of each reading (trends). */
  private readonly pointListeners = new Map<string, Set<(ts: number, v: Value | null) => void>>();
  private readonly listeners = new Map<Topic, Set<() => void>>();
  private readonly dirty = new Set<Topic>();
  private scheduled = false;
  private source: EventSource | undefined;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private readonly staleDevices = new Map<string, number>();

  subscribe(topic: Topic, fn: () => void): () => void {
    let set = this.listeners.get(topic);
    if (set === undefined) this.listeners.set(topic, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  onPoint(id: string, fn: (ts: number, v: Value | null) => void): () => void {
    let set = this.pointListeners.get(id);
    if (set === undefined) this.pointListeners.set(id, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Marks a topic changed; listeners run on the next animation frame (or within 250 ms when hidden). */
  touch(topic: Topic): void {
    this.dirty.add(topic);
    if (this.scheduled) return;
    this.scheduled = true;
    let done = false;
    const run = (): void => {
      if (done) return;
      done = true;
      this.scheduled = false;
      const topics = [...this.dirty];
      this.dirty.clear();
      for (const t of topics) for (const fn of this.listeners.get(t) ?? []) fn();
    };
    requestAnimationFrame(run);
    setTimeout(run, 250);
  }

  /** The overview colour of a device: alarm beats offline beats stale. */
  tileState(d: Device): TileState {
    if (this.alarmed.has(d.id)) return 'alarm';
    if (d.state === 'offline') return 'offline';
    if (d.state !== 'online' || (this.staleDevices.get(d.id) ?? 0) > 0) return 'stale';
    return 'normal';
  }

  start(): void {
    if (this.source !== undefined) return;
    this.connect();
    const health = (): void => {
      api<Health>('/healthz')
        .catch((e: unknown) => ((e as { status?: number }).status === 503 ? ({ status: 'failing', store: { ok: false } } as unknown as Health) : undefined))
        .then((h) => {
          this.health = h;
          this.touch('meta');
        })
        .catch(() => undefined);
    };
    health();
    this.healthTimer = setInterval(health, 10_000);
  }

  stop(): void {
    this.source?.close();
    this.source = undefined;
    clearTimeout(this.retryTimer);
    clearInterval(this.healthTimer);
    this.connected = false;
  }

  private connect(): void {
    const source = new EventSource(withToken('./api/v1/live'));
    this.source = source;
    source.addEventListener('hello', (e) => {
      const hello = JSON.parse((e as MessageEvent<string>).data) as { site: LiveState['site']; devices: Partial<Device>[]; sync: Sync };
      this.site = hello.site;
      this.connected = true;
      this.sync = hello.sync;
      void this.reload(hello.devices);
      this.touch('meta');
    });
    source.addEventListener('readings', (e) => this.onReadings(JSON.parse((e as MessageEvent<string>).data) as WireReading[]));
    source.addEventListener('event', (e) => this.onEvent(JSON.parse((e as MessageEvent<string>).data) as GatewayEvent));
    source.addEventListener('devices', (e) => this.onDevices(JSON.parse((e as MessageEvent<string>).data) as Partial<Device>[]));
    source.addEventListener('sync', (e) => {
      this.sync = JSON.parse((e as MessageEvent<string>).data) as Sync;
      this.touch('meta');
    });
    source.onerror = () => {
      this.connected = false;
      this.touch('meta');
      // EventSource retries by itself unless the answer was not an event stream; then we do.
      if (source.readyState === EventSource.CLOSED) {
        this.source = undefined;
        this.retryTimer = setTimeout(() => this.connect(), 3000);
      }
    };
  }

  /** After (re)connecting: the whole picture over REST, then the stream keeps it. */
  private async reload(states: Partial<Device>[]): Promise<void> {
    const [devices, latest, events] = await Promise.all([
      api<Device[]>('./api/v1/devices'),
      api<Latest[]>('./api/v1/points'),
      api<GatewayEvent[]>(`./api/v1/events?limit=${MAX_EVENTS}`),
    ]);
    this.devices = new Map(devices.map((d) => [d.id, d]));
    this.onDevices(states);
    this.latest = new Map(latest.map((l) => [l.id, l]));
    this.staleDevices.clear();
    for (const l of latest) if (l.quality === 'stale') this.staleDevices.set(l.device, (this.staleDevices.get(l.device) ?? 0) + 1);
    this.events = events;
    this.touch('devices');
    this.touch('readings');
    this.touch('events');
  }

  private onReadings(readings: WireReading[]): void {
    this.readingsReceived += readings.length;
    const newest = readings.reduce((m, r) => Math.max(m, r[3]), 0);
    if (this.arrivalAgesMs.push(Date.now() - newest) > 1000) this.arrivalAgesMs.shift();
    let staleChanged = false;
    for (const [id, value, quality, ts] of readings) {
      const old = this.latest.get(id);
      const dot = id.indexOf('.');
      const device = id.slice(0, dot);
      if ((old?.quality === 'stale') !== (quality === 'stale')) {
        this.staleDevices.set(device, Math.max(0, (this.staleDevices.get(device) ?? 0) + (quality === 'stale' ? 1 : -1)));
        staleChanged = true;
      }
      this.latest.set(id, { id, device, point: id.slice(dot + 1), value, unit: old?.unit ?? null, quality, ts });
      const fns = this.pointListeners.get(id);
      if (fns !== undefined) for (const fn of fns) fn(ts, value);
    }
    this.touch('readings');
    if (staleChanged) this.touch('devices');
  }

  private onEvent(e: GatewayEvent): void {
    if (this.events.some((x) => x.id === e.id)) return;
    this.events.unshift(e);
    if (this.events.length > MAX_EVENTS) this.events.length = MAX_EVENTS;
    this.touch('events');
    if (e.type.startsWith('alarm.')) this.touch('alarms');
  }

  private onDevices(states: Partial<Device>[]): void {
    for (const s of states) {
      const d = s.id === undefined ? undefined : this.devices.get(s.id);
      if (d !== undefined) this.devices.set(d.id, { ...d, ...s });
    }
    this.touch('devices');
  }
}

/** The one live state of the page. */
export const live = new LiveState();
// A read-only handle for the benchmark and tests (window.stewardLive): counters, nothing secret.
(globalThis as { stewardLive?: LiveState }).stewardLive = live;
