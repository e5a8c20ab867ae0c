/**
 * GET /api/v1/live (issue 8): a client of the stream gets the whole picture first
 * (devices, sync), then the readings the gateway stores, device state changes and
 * events — and a reading it gets is the one the API then shows as latest.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { startCommunity } from '../../../scripts/sim/community.js';
import { until } from '../../../test/support/until.js';

interface SseMessage {
  type: string;
  data: unknown;
}

/** Reads an SSE stream into `messages` until aborted. */
async function listen(url: string, messages: SseMessage[], signal: AbortSignal): Promise<{ contentType: string | null }> {
  const res = await fetch(url, { signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type !== undefined && data !== undefined) messages.push({ type, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return { contentType: res.headers.get('content-type') };
}

t.test('the live stream carries the picture, then readings, states and events', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-live-'));
  const file = path.join(dir, 'site.yaml');
  const yaml = (lift: number) => `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent }
devices:
  - { id: lift-a, profile: elevator/traction-elevator, system: elevator, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${lift} } }
`;
  writeFileSync(file, yaml(1));
  const sim = await startCommunity(loadSiteConfig(file), { ports: { 'lift-a': 0 } });
  t.teardown(() => sim.close());
  const lift = sim.devices.find((d) => d.id === 'lift-a')!;
  writeFileSync(file, yaml(lift.port));
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());

  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const messages: SseMessage[] = [];
  const { contentType } = await listen(`${gw.url}/api/v1/live`, messages, abort.signal);
  t.match(contentType, /^text\/event-stream/);

  const hello = await until('the hello message', () => messages.find((m) => m.type === 'hello'));
  t.match(hello.data, { site: { id: 's1' }, devices: [{ id: 'lift-a' }], sync: { enabled: false, online: false } });

  // The device's state as the stream tells it: the hello's, then each change.
  const stateOf = (id: string) => {
    let state: string | undefined;
    for (const m of messages) {
      const list = m.type === 'hello' ? (m.data as { devices: { id: string; state: string }[] }).devices : m.type === 'devices' ? (m.data as { id: string; state: string }[]) : [];
      state = list.find((d) => d.id === id)?.state ?? state;
    }
    return state;
  };
  await until('lift-a online on the stream', () => stateOf('lift-a') === 'online');
  const readings = await until('readings on the stream', () => {
    const all = messages.filter((m) => m.type === 'readings').flatMap((m) => m.data as [string, unknown, string, number][]);
    return all.length > 0 ? all : undefined;
  });
  const [id, , quality, ts] = readings[0]!;
  t.match(id, /^lift-a\./, 'a point of the device');
  t.equal(quality, 'good');
  t.ok(ts > Date.now() - 60_000, 'a fresh reading, not a replay');

  // What the stream said last about a point is what the API holds as latest.
  gw.flush();
  await new Promise((r) => setTimeout(r, 300));
  const last = new Map<string, unknown>();
  for (const m of messages.filter((m) => m.type === 'readings')) for (const [p, v] of m.data as [string, unknown][]) last.set(p, v);
  const latest = (await (await fetch(`${gw.url}/api/v1/points?device=lift-a`)).json()) as { id: string; value: unknown }[];
  const floor = latest.find((p) => last.has(p.id))!;
  t.ok(floor, 'a point seen on the stream is in the API');

  // A second screen gets the same stream (one JSON text per message, shared).
  const second: SseMessage[] = [];
  await listen(`${gw.url}/api/v1/live`, second, abort.signal);
  await until('readings on the second stream', () => second.some((m) => m.type === 'readings'));

  lift.faults.setFault('entrapment', true);
  const ev = await until('the entrapment event on the stream', () => messages.find((m) => m.type === 'event' && (m.data as { type: string }).type === 'elevator.entrapment'));
  t.match(ev.data, { device: 'lift-a', severity: 'critical' });
  const ev2 = await until('and on the second', () => second.find((m) => m.type === 'event' && (m.data as { type: string }).type === 'elevator.entrapment'));
  t.same(ev2.data, ev.data, 'the same event on both screens');
});

t.test('without a built panel, / says how to build it; the API is unchanged', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-live2-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, 'site: { id: s2, name: S }\ngateway: { dataDir: ./data, logLevel: silent }\ndevices: []\n');
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  const root = await fetch(`${gw.url}/`);
  t.equal(root.status, 200);
  const body = await root.text();
  t.ok(body.includes('<div id="app">') || body.includes('npm run build:panel'), 'the panel, or how to build it');
  const missing = await fetch(`${gw.url}/api/v1/nothing-here`);
  t.equal(missing.status, 404);
  t.match(await missing.json(), { code: 'GW_ERR_HTTP_NOT_FOUND' });
});
