/**
 * The control-room panel's side of the gateway (issue 8): the built panel
 * (gateway/panel/dist, Vite + Preact) served at `/` with @fastify/static, and the live
 * stream `GET /api/v1/live` as Server-Sent Events (WHATWG HTML §9.2): readings as they
 * are stored, events as they are recorded, device states and the sync state as they
 * change. The API stays under /api/v1; the panel is just its first client.
 *
 * Why SSE and not WebSocket: the stream is one-way (commands go through the ordinary,
 * guarded POST routes), EventSource reconnects by itself with `Last-Event-ID`, and it is
 * plain HTTP that any proxy passes.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayEvent, Quality, Reading, Value } from '../core/model.js';
import type { ApiContext } from './server.js';

/** A reading on the wire, compact: `[pointId, value, quality, ts]`. */
export type LiveReading = readonly [string, Value | null, Quality, number];

/** What the stream carries; the SSE `event:` field is the `type`. */
export type LiveMessage =
  | { readonly type: 'readings'; readonly readings: readonly LiveReading[] }
  | { readonly type: 'event'; readonly event: GatewayEvent }
  | { readonly type: 'devices'; readonly devices: readonly LiveDeviceState[] }
  | { readonly type: 'sync'; readonly sync: LiveSync };

export interface LiveDeviceState {
  readonly id: string;
  readonly state: string;
  readonly since: number | null;
  readonly lastOkAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
}

export interface LiveSync {
  readonly enabled: boolean;
  readonly online: boolean;
  /** Items waiting for the cloud, all lanes. */
  readonly backlog: number;
  readonly lastSuccessAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
}

/**
 * The fan-out point between the gateway's wiring and the stream's clients. main.ts calls
 * `readings()` after each stored batch; anything else may `publish()`.
 */
export class LiveFeed {
  private readonly listeners = new Set<(m: LiveMessage) => void>();

  /** Readings just stored (one message per flush, so 20k readings/s cost a few messages). */
  readings(batch: readonly { readonly readings: readonly Reading[] }[]): void {
    if (this.listeners.size === 0) return;
    const out: LiveReading[] = [];
    for (const b of batch) for (const r of b.readings) out.push([r.point, r.value, r.quality, r.ts]);
    if (out.length > 0) this.publish({ type: 'readings', readings: out });
  }

  publish(message: LiveMessage): void {
    for (const fn of this.listeners) fn(message);
  }

  subscribe(fn: (m: LiveMessage) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get clients(): number {
    return this.listeners.size;
  }
}

export interface PanelOptions {
  readonly ctx: ApiContext;
  readonly live?: LiveFeed | undefined;
  /** Folder of the built panel; default gateway/panel/dist. */
  readonly root?: string;
  /** How often device states, the sync state and new events are looked at, ms. */
  readonly watchMs?: number;
}

/** Where `npm run build:panel` (and `npm ci`'s prepare) puts the panel. */
export const PANEL_DIST = fileURLToPath(new URL('../../panel/dist/', import.meta.url));

/** A client that cannot keep up (this much unsent) is dropped; its EventSource reconnects and reloads. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

function syncOf(ctx: ApiContext): LiveSync {
  const s = ctx.syncStatus();
  const lanes = s?.lanes ?? Object.fromEntries(([0, 1, 2] as const).map((l) => [String(l), ctx.store.laneStatus(l)]));
  const backlog = Object.values(lanes).reduce((n, l) => n + l.backlog, 0);
  return { enabled: s !== undefined, online: s?.online ?? false, backlog, lastSuccessAt: s?.lastSuccessAt ?? null, lastError: s?.lastError ?? null };
}

function devicesOf(ctx: ApiContext): LiveDeviceState[] {
  return ctx.devices.map((d) => {
    const s = ctx.deviceStatus(d.id);
    return { id: d.id, state: s?.state ?? 'disabled', since: s?.since ?? null, lastOkAt: s?.lastOkAt ?? null, lastError: s?.lastError ?? null };
  });
}

/** Registers the panel's static files and the live stream on the API. */
export async function panelPlugin(app: FastifyInstance, options: PanelOptions): Promise<void> {
  const { ctx } = options;
  const live = options.live ?? new LiveFeed();
  const root = options.root ?? PANEL_DIST;
  const watchMs = options.watchMs ?? 500;

  if (existsSync(`${root}/index.html`)) {
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      // Vite names assets by content hash: cache them for good, never index.html.
      setHeaders: (res, file) => res.header('cache-control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
    });
  } else {
    app.get('/', async (_req, reply) =>
      reply.type('text/plain; charset=utf-8').send('The control-room panel is not built: run `npm run build:panel` (npm ci does it), then reload.\nThe API is under /api/v1.\n'),
    );
  }

  // Device states, the sync state and new events are watched here, once for every client:
  // events from any writer (poller, alarms, work orders) show up without each wiring a hook.
  let lastDevices = new Map<string, string>();
  let lastSync = '';
  let eventsSince = Date.now();
  let seenAtEdge = new Set<string>();
  const watch = (): void => {
    if (live.clients === 0) {
      eventsSince = Date.now();
      return;
    }
    const changed = devicesOf(ctx).filter((d) => {
      const key = `${d.state}|${d.lastError?.code ?? ''}`;
      if (lastDevices.get(d.id) === key) return false;
      lastDevices.set(d.id, key);
      return true;
    });
    if (changed.length > 0) live.publish({ type: 'devices', devices: changed });
    const sync = syncOf(ctx);
    const syncKey = JSON.stringify(sync);
    if (syncKey !== lastSync) {
      lastSync = syncKey;
      live.publish({ type: 'sync', sync });
    }
    const events = ctx.store.events({ since: eventsSince, limit: 500 }).reverse();
    const edge = new Set<string>();
    for (const e of events) {
      if (e.ts === eventsSince && seenAtEdge.has(e.id)) continue;
      live.publish({ type: 'event', event: e });
    }
    if (events.length > 0) {
      eventsSince = events[events.length - 1]!.ts;
      for (const e of events) if (e.ts === eventsSince) edge.add(e.id);
      for (const id of seenAtEdge) if (events.some((e) => e.id === id)) edge.add(id);
      seenAtEdge = edge;
    }
  };
  const timer = setInterval(() => {
    try {
      watch();
    } catch (err) {
      app.log.warn({ err }, 'live stream: watching the gateway failed');
    }
  }, watchMs);
  timer.unref();

  // One JSON text per message, whatever the number of screens watching.
  const texts = new WeakMap<LiveMessage, string>();
  const serialized = (m: LiveMessage): string => {
    let text = texts.get(m);
    if (text === undefined) {
      text = JSON.stringify(m.type === 'readings' ? m.readings : m.type === 'event' ? m.event : m.type === 'devices' ? m.devices : m.sync);
      texts.set(m, text);
    }
    return text;
  };
  const clients = new Set<FastifyReply>();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    for (const reply of clients) reply.raw.end();
  });
  // SSE connections never end by themselves: end them before the server waits for them.
  app.addHook('preClose', async () => {
    for (const reply of clients) reply.raw.end();
  });

  app.get('/api/v1/live', async (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    let id = 0;
    const send = (type: string, data: unknown, json = JSON.stringify(data)): void => {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.end();
        return;
      }
      res.write(`id: ${++id}\nevent: ${type}\ndata: ${json}\n\n`);
    };
    // The first message is the whole picture of what the stream keeps up to date; a
    // client that reconnects reloads the rest (latest values, alarms) over REST.
    res.write('retry: 2000\n\n');
    send('hello', { site: ctx.site, devices: devicesOf(ctx), sync: syncOf(ctx), now: Date.now() });
    if (lastDevices.size === 0) lastDevices = new Map(devicesOf(ctx).map((d) => [d.id, `${d.state}|${d.lastError?.code ?? ''}`]));
    const unsubscribe = live.subscribe((m) => send(m.type, undefined, serialized(m)));
    clients.add(reply);
    const heartbeat = setInterval(() => res.write(': ping\n\n'), 15_000);
    heartbeat.unref();
    const done = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      clients.delete(reply);
    };
    req.raw.on('close', done);
    res.on('close', done);
  });
}
