/**
 * `npm run bench -- panel [--quick] [--devices N] [--rate R] [--minutes M]`
 *
 * Is the control-room panel still responsive with 2,000 devices updating 10 times a
 * second each (issue 8)? The real gateway API and live stream (buildApi + panel.ts) over
 * a synthetic site of N devices (2,000), fed R readings/s per device (10) through the
 * LiveFeed the way main.ts feeds it — one message per 250 ms store flush — plus a few
 * device state changes a second. Headless Chromium (Debian's) signs in and shows the
 * overview (all N tiles); the page's frame times (requestAnimationFrame deltas) are
 * recorded for the whole run and its JS heap is measured after a forced GC at the start
 * and the end (a leak shows as growth).
 *
 * Figures: frame_ms_p50/p99/max, long frames (> 50 ms) per minute, heap_mb_start /
 * heap_mb_after, readings received per second, age of readings on arrival p99.
 * The quick run is 30 s; the full run 10 minutes (`--minutes 60` for the hour of the issue).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { LiveFeed, PANEL_DIST } from '../../gateway/src/api/panel.js';
import { buildApi } from '../../gateway/src/api/server.js';
import { Sessions } from '../../gateway/src/api/auth.js';
import type { DeviceConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import type { Reading } from '../../gateway/src/core/model.js';
import type { DeviceStatus } from '../../gateway/src/poller/device-poller.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import type { BenchOptions, BenchResult } from './run.js';
import { createRng } from '../sim/models/prng.js';

const SYSTEMS = ['elevator', 'water', 'power', 'hvac', 'lighting', 'fire', 'access', 'camera'] as const;
const FLUSH_MS = 250;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = Number(options.args.devices ?? 2000);
  const rate = Number(options.args.rate ?? 10);
  const minutes = Number(options.args.minutes ?? (options.quick ? 0.5 : 10));
  const rng = createRng(42);
  const rand = (): number => rng.next();
  if (!existsSync(`${PANEL_DIST}/index.html`)) await build({ root: new URL('../../gateway/panel/', import.meta.url).pathname, logLevel: 'warn' });

  // A synthetic site: N devices of every system over 20 buildings, 3 points each.
  const devices = Array.from({ length: n }, (_, i) => ({
    id: `dev-${i}`,
    name: `${SYSTEMS[i % SYSTEMS.length]} ${i}`,
    system: SYSTEMS[i % SYSTEMS.length]!,
    profile: { id: 'bench/generic', points: ['a', 'b', 'c'].map((name) => ({ name, unit: 'bar', type: 'float32', access: 'r' })) },
    connection: { protocol: 'modbus-tcp' },
    location: { building: `T${(i % 20) + 1}`, floor: String((i % 30) + 1) },
    pollIntervalMs: 100,
  })) as unknown as DeviceConfig[];
  const status = new Map<string, DeviceStatus>(devices.map((d) => [d.id, { state: 'online', since: Date.now(), lastOkAt: Date.now(), lastError: null, nextAttemptAt: null } as unknown as DeviceStatus]));
  const store = new GatewayStore({ dataDir: ':memory:', site: 'bench' });
  const live = new LiveFeed();
  const password = randomBytes(9).toString('base64url');
  const api = await buildApi(
    {
      site: { id: 'bench', name: 'Bench', timezone: 'Asia/Shanghai' },
      devices,
      store,
      deviceStatus: (id) => status.get(id),
      syncStatus: () => undefined,
      counters: () => ({}),
      storeError: () => undefined,
      startedAt: Date.now(),
      version: 'bench',
      users: [{ name: 'bench', role: 'operator', password }],
      sessions: new Sessions(randomBytes(32)),
      snapshotFile: () => undefined,
      writePoint: async () => ({ previous: null }),
      live,
    },
    createLogger({ level: 'silent' }),
  );
  await api.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;

  // The feed: rate readings/s per device, spread over the devices' 3 points, one message per flush.
  const perFlush = Math.round((n * rate * FLUSH_MS) / 1000);
  let cursor = 0;
  let sent = 0;
  const feed = setInterval(() => {
    const now = Date.now();
    const readings: Reading[] = [];
    for (let k = 0; k < perFlush; k++) {
      const i = cursor++ % n;
      readings.push({ point: `dev-${i}.${'abc'[k % 3]}`, ts: now - Math.floor(rand() * FLUSH_MS), value: Math.round(rand() * 10_000) / 100, quality: 'good' });
    }
    sent += readings.length;
    live.readings([{ readings }]);
  }, FLUSH_MS);
  // A few devices change state every second (offline, back online): the overview re-renders.
  const flips = setInterval(() => {
    for (let k = 0; k < 5; k++) {
      const id = `dev-${Math.floor(rand() * n)}`;
      const s = status.get(id)!;
      status.set(id, { ...s, state: s.state === 'online' ? 'offline' : 'online', since: Date.now() } as DeviceStatus);
    }
  }, 1000);

  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  try {
    const context = await browser.newContext({ locale: 'en', viewport: { width: 1920, height: 1080 } });
    const page = await context.newPage();
    page.setDefaultTimeout(60_000);
    await page.goto(url);
    await page.getByLabel('User name').fill('bench');
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator(`[data-device="dev-${n - 1}"]`).waitFor();
    await page.waitForTimeout(3000); // warm-up
    const cdp = await context.newCDPSession(page);
    await cdp.send('Performance.enable');
    const heapMb = async (): Promise<number> => {
      await cdp.send('HeapProfiler.collectGarbage');
      const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] };
      return (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0) / 1024 / 1024;
    };
    const heapStart = await heapMb();
    const received0 = await page.evaluate(() => (globalThis as unknown as { stewardLive: { readingsReceived: number } }).stewardLive.readingsReceived);
    // Runs in the page (a string, so this file needs no DOM types).
    await page.evaluate(`(() => {
      const g = globalThis;
      g.frames = [];
      let last = performance.now();
      const loop = (t) => {
        g.frames.push(t - last);
        last = t;
        requestAnimationFrame(loop);
      };
      requestAnimationFrame(loop);
    })()`);
    const t0 = Date.now();
    const sent0 = sent;
    const cpu0 = process.cpuUsage();
    await page.waitForTimeout(minutes * 60_000);
    const elapsedS = (Date.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const { frames, received, ages } = await page.evaluate(() => {
      const g = globalThis as unknown as { frames: number[]; stewardLive: { readingsReceived: number; arrivalAgesMs: number[] } };
      return { frames: g.frames.slice(1), received: g.stewardLive.readingsReceived, ages: [...g.stewardLive.arrivalAgesMs] };
    });
    const heapAfter = await heapMb();
    const sorted = [...frames].sort((a, b) => a - b);
    const agesSorted = ages.sort((a, b) => a - b);
    const long = frames.filter((f) => f > 50).length;
    const figures = {
      devices: n,
      updates_per_s_per_device: rate,
      minutes,
      frames: frames.length,
      frame_ms_p50: Math.round(percentile(sorted, 50) * 10) / 10,
      frame_ms_p99: Math.round(percentile(sorted, 99) * 10) / 10,
      frame_ms_max: Math.round((sorted[sorted.length - 1] ?? 0) * 10) / 10,
      long_frames_per_min: Math.round((long / elapsedS) * 60 * 10) / 10,
      heap_mb_start: Math.round(heapStart * 10) / 10,
      heap_mb_after: Math.round(heapAfter * 10) / 10,
      readings_per_s_sent: Math.round((sent - sent0) / elapsedS),
      readings_per_s_received: Math.round((received - received0) / elapsedS),
      reading_age_ms_p99: Math.round(percentile(agesSorted, 99)),
      server_cpu_pct: Math.round(((cpu.user + cpu.system) / 1e6 / elapsedS) * 1000) / 10,
    };
    return {
      table: [
        ['figure', 'value'],
        ...Object.entries(figures).map(([k, v]) => [k, v] as [string, number]),
      ],
      figures,
    };
  } finally {
    clearInterval(feed);
    clearInterval(flips);
    await browser.close();
    await api.close();
    store.close();
  }
}
