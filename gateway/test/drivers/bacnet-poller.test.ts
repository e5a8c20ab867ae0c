/**
 * The BACnet driver under the real poller (registry → Poller): an AHU and a chiller on
 * the simulator are polled in coalesced ReadPropertyMultiple requests, their COV points
 * are pushed, and a device that stalls goes offline and comes back.
 */
import t from 'tap';
import { createLogger } from '../../src/core/logger.js';
import type { Reading } from '../../src/core/model.js';
import { createDriver, loadDrivers } from '../../src/drivers/registry.js';
import { Poller } from '../../src/poller/poller.js';
import { startBacnetSimulator } from '../../../scripts/sim/bacnet/sim.js';
import { bacnetSite, until } from './bacnet-fixture.js';

await loadDrivers(['bacnet']); // drivers are loaded on demand (drivers/registry.ts)

t.test('AHU and chiller polled and pushed through the poller; a stalled device goes offline and back', async (t) => {
  const specs = [
    { id: 'ahu-1', profile: 'hvac/ahu', deviceInstance: 260001 },
    { id: 'chiller-1', profile: 'hvac/chiller', deviceInstance: 270001 },
  ];
  const sim = await startBacnetSimulator(bacnetSite(specs), { host: '127.0.0.1', ports: { 'ahu-1': 0, 'chiller-1': 0 }, tickMs: 50 });
  t.teardown(() => sim.close());
  const site = bacnetSite(specs.map((s) => ({ ...s, connection: { port: sim.devices.find((d) => d.id === s.id)!.port, timeoutMs: 300 } })));
  const latest = new Map<string, Reading>();
  const events: string[] = [];
  const log = createLogger({ level: 'silent' });
  const poller = new Poller({
    devices: site.devices.map((d) => ({ ...d, pollIntervalMs: 200 })),
    createDriver: (d) => createDriver(d, log),
    log,
    backoff: { initialMs: 200, maxMs: 500 },
    sink: {
      readings: (_device, readings) => {
        for (const r of readings) latest.set(r.point, r);
      },
      event: (e) => void events.push(`${e.device} ${e.type}`),
    },
  });
  t.teardown(() => poller.stop());
  poller.start();

  const points = site.devices.flatMap((d) => d.profile.points.map((p) => `${d.id}.${p.name}`));
  await until(() => points.every((p) => latest.get(p)?.quality === 'good'), 5000, 'every point good');
  t.pass(`all ${points.length} points read good`);
  t.equal(latest.get('ahu-1.supply_fan_status')?.value, sim.devices[0]!.device.get('supply_fan_status'));
  await until(() => (poller.status('ahu-1')?.stats.pointsPushed ?? 0) > 0, 3000, 'pushed values');
  const ahu = poller.status('ahu-1')!;
  t.ok(ahu.stats.requests < ahu.stats.cycles * 3, `coalesced: ${ahu.stats.requests} requests in ${ahu.stats.cycles} cycles`);

  sim.devices[1]!.device.stall(true);
  await until(() => poller.status('chiller-1')?.state === 'offline', 5000, 'chiller offline');
  t.equal(poller.status('ahu-1')?.state, 'online', 'the other device is unaffected');
  sim.devices[1]!.device.stall(false);
  await until(() => poller.status('chiller-1')?.state === 'online', 5000, 'chiller back online');
  t.ok(events.includes('chiller-1 device.online'));
});
