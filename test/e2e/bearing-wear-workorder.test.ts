/**
 * Issue 7 end to end: bearing wear injected into a simulated VFD pump (through the
 * simulator's fault API) → the gateway polls it over Modbus TCP → its ML runtime (the
 * committed pump-rul model, in its worker thread) raises `failure.predicted` → the
 * work-order rule `predicted-failure` opens a preventive work order — before the simulated
 * failure, with a positive lead time.
 *
 * Bearing wear takes hours on a real clock, so the simulator runs 60× faster than real time
 * (`timeScale`), the runtime samples every 10 simulated seconds (`stepMs` = 10 s / 60) and
 * stamps its events with the simulator's clock. Wear 3 /h of running: the bearing fails
 * (wear 1) 20 simulated minutes — 20 real seconds — after the fault is switched on.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import { startSimControl } from '../../scripts/sim/control.js';
import { startSimulator } from '../../scripts/sim/sim.js';
import { until } from '../support/until.js';

const SCALE = 60;
const WEAR_PER_HOUR = 3;

function siteYaml(port: number): string {
  return `site: { id: e2e-wear, name: E2E bearing wear, timezone: Asia/Shanghai }
gateway: { dataDir: ./gw-data, logLevel: silent }
devices:
  - id: pump-1
    profile: water/vfd-pump
    system: water
    pollIntervalMs: 100
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 500 }
`;
}

interface WorkOrder {
  id: string;
  device: string;
  title: string;
  priority: string;
  source?: string;
  createdAt: number;
  description?: string;
}

t.test('injected bearing wear → failure.predicted → a preventive work order before the failure', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-e2e-wear-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, siteYaml(15998));
  // No random drive trips: the pump runs the whole time, so wear grows at the injected rate.
  const sim = await startSimulator(loadSiteConfig(file), { ports: { 'pump-1': 0 }, timeScale: SCALE, tickMs: 50, faults: { 'pump-1': { tripsPerDay: 0 } } });
  t.teardown(() => sim.close());
  const simStart = Date.now();
  const simNow = (): number => simStart + (Date.now() - simStart) * SCALE;
  const control = await startSimControl(sim);
  t.teardown(() => control.close());
  writeFileSync(file, siteYaml(sim.devices[0]!.port));
  const gw = await startGateway(loadSiteConfig(file), {
    httpPort: 0,
    log: createLogger({ level: 'silent' }),
    ml: { runtime: { stepMs: 10_000 / SCALE, clock: simNow } },
  });
  t.teardown(() => gw.close());

  // The runtime has loaded its models and scored full windows of the healthy pump.
  await until(
    'the ML runtime to score pump-1',
    async () => {
      const m = /ml_windows_scored_total\S* (\d+)/.exec(await (await fetch(`${gw.url}/metrics`)).text());
      return m !== null && Number(m[1]) >= 4;
    },
    40_000,
    100,
  );
  const before = (await (await fetch(`${gw.url}/api/v1/events?type=failure.predicted`)).json()) as { items?: unknown[] } | unknown[];
  t.equal((Array.isArray(before) ? before : (before.items ?? [])).length, 0, 'no failure predicted for the healthy pump');

  // Bearing wear on, through the simulator's fault API.
  const res = await fetch(`${control.url}/devices/pump-1/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ fault: 'bearing-wear', on: true, value: WEAR_PER_HOUR }) });
  t.equal(res.status, 200, 'the fault API took bearing-wear 3 /h');
  const injectedAt = simNow();
  const failsAt = injectedAt + (3_600_000 / WEAR_PER_HOUR); // wear 1: the bearing has failed

  const wo = await until(
    'a preventive work order for pump-1',
    async () => {
      const list = (await (await fetch(`${gw.url}/api/v1/work-orders?device=pump-1`)).json()) as { items: WorkOrder[] };
      return list.items.find((w) => w.title.startsWith('Preventive'));
    },
    (failsAt - injectedAt) / SCALE + 10_000,
    100,
  );
  const seenAt = simNow();
  const events = (await (await fetch(`${gw.url}/api/v1/events?device=pump-1`)).json()) as { items?: Ev[] } | Ev[];
  type Ev = { type: string; ts: number; body: { model?: string; horizonHours?: number; confidence?: number } };
  const predicted = (Array.isArray(events) ? events : (events.items ?? [])).filter((e) => e.type === 'failure.predicted');
  t.equal(predicted.length, 1, 'one failure.predicted');
  const p = predicted[0]!;
  t.match(p.body, { model: 'pump-rul' });
  t.ok(p.ts > injectedAt, 'predicted after the fault was switched on');
  const leadMin = (failsAt - p.ts) / 60_000;
  t.ok(leadMin > 0, `failure.predicted ${leadMin.toFixed(1)} simulated minutes before the bearing fails (horizon ${String(p.body.horizonHours)} h)`);
  t.ok(seenAt < failsAt, `the work order was there ${((failsAt - seenAt) / 60_000).toFixed(1)} simulated minutes before the failure`);
  t.match(wo, { device: 'pump-1', priority: 'P3' }, 'opened by the predicted-failure rule');
  t.match(wo.description ?? '', /predicted-failure/);
  t.comment(`lead time: ${leadMin.toFixed(1)} simulated minutes (${((failsAt - p.ts) / 1000 / SCALE).toFixed(1)} s of real time at ${SCALE}×)`);
});
