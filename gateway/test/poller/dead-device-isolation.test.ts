/**
 * A dead device never delays the others: with some simulated pumps black-holed (they
 * accept TCP and never answer), the rest keep their schedule; the dead ones go offline
 * and back off instead of being asked every cycle.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../../scripts/sim/sim.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import type { Reading } from '../../src/core/model.js';
import { createDriver, loadDrivers } from '../../src/drivers/registry.js';
import { Poller } from '../../src/poller/poller.js';

await loadDrivers(['modbus']); // drivers are loaded on demand (drivers/registry.ts)

const DEVICES = 50;
const DEAD = 10;
const INTERVAL = 200;

function yaml(ports: number[]): string {
  const devices = ports
    .map((port, i) => `  - { id: pump-${i}, profile: water/vfd-pump, system: water, pollIntervalMs: ${INTERVAL}, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 300 } }`)
    .join('\n');
  return `site: { id: s, name: S }\ndevices:\n${devices}\n`;
}

t.test(`${DEAD} of ${DEVICES} devices black-holed: the others keep their schedule`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-isolation-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, yaml(Array.from({ length: DEVICES }, () => 1)));
  const sim = await startSimulator(loadSiteConfig(file), { ports: Object.fromEntries(Array.from({ length: DEVICES }, (_, i) => [`pump-${i}`, 0])) });
  t.teardown(() => sim.close());
  writeFileSync(file, yaml(sim.devices.map((d) => d.port)));
  const site = loadSiteConfig(file);
  for (const d of sim.devices.slice(0, DEAD)) d.server.setFaults({ stall: true });

  const counts = new Map<string, number>();
  const events: string[] = [];
  const log = createLogger({ level: 'silent' });
  const poller = new Poller({
    devices: site.devices,
    createDriver: (d) => createDriver(d, log),
    log,
    backoff: { initialMs: 500, maxMs: 2000 },
    sink: {
      readings(device: string, readings: Reading[]) {
        if (readings.every((r) => r.quality === 'good')) counts.set(device, (counts.get(device) ?? 0) + 1);
      },
      event(e) {
        events.push(`${e.device} ${e.type}`);
      },
    },
  });
  poller.start();
  const seconds = 3;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const statuses = poller.statuses();
  await poller.stop();

  const expected = (seconds * 1000) / INTERVAL;
  for (const s of statuses.slice(DEAD)) {
    const good = counts.get(s.id) ?? 0;
    // Generous bounds: a loaded CI machine may skip a cycle or two, never most of them.
    t.ok(good >= expected * 0.6, `${s.id}: ${good} good cycles of ~${expected}`);
    t.equal(s.state, 'online', `${s.id} online`);
  }
  for (const s of statuses.slice(0, DEAD)) {
    t.equal(s.state, 'offline', `${s.id} offline`);
    t.equal(s.lastError?.code, 'GW_ERR_MODBUS_TIMEOUT');
    t.ok(s.stats.requests <= 6, `${s.id} was asked ${s.stats.requests} times in ${seconds} s, backing off, not every cycle`);
    t.ok(events.includes(`${s.id} device.offline`), `${s.id} device.offline event`);
  }
});
