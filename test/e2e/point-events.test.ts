/**
 * Events from a device's own points: an elevator whose car traps passengers (the
 * simulator's `entrapment` fault) raises one `elevator.entrapment` event — on the change,
 * not on every poll — and a breaker trip one `power.breaker_tripped`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import { startCommunity } from '../../scripts/sim/community.js';
import { until } from '../support/until.js';


t.test('entrapment and a breaker trip become events, once each', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-pointev-'));
  const file = path.join(dir, 'site.yaml');
  const yaml = (lift: number, brk: number) => `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent }
devices:
  - { id: lift-a, profile: elevator/traction-elevator, system: elevator, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${lift} } }
  - { id: brk-1, profile: power/breaker, system: power, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${brk} } }
`;
  writeFileSync(file, yaml(1, 2));
  const sim = await startCommunity(loadSiteConfig(file), { ports: { 'lift-a': 0, 'brk-1': 0 } });
  t.teardown(() => sim.close());
  const dev = (id: string) => sim.devices.find((d) => d.id === id)!;
  writeFileSync(file, yaml(dev('lift-a').port, dev('brk-1').port));
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  const events = async (type: string) => (await (await fetch(`${gw.url}/api/v1/events?type=${type}`)).json()) as { type: string; device: string; severity: string; body: Record<string, unknown> }[];

  await until('both online', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { state: string }[];
    return list.every((d) => d.state === 'online') ? true : undefined;
  });
  t.same(await events('elevator.*'), [], 'no entrapment while all is well');

  dev('lift-a').faults.setFault('entrapment', true);
  dev('brk-1').faults.setFault('breaker-trip', true);
  const trapped = await until('the entrapment event', async () => {
    const list = await events('elevator.entrapment');
    return list.length > 0 ? list : undefined;
  });
  t.match(trapped[0], { device: 'lift-a', severity: 'critical', body: { point: 'entrapment', value: true, previous: false } });
  await until('the trip event', async () => ((await events('power.breaker_tripped')).length > 0 ? true : undefined));
  await new Promise((r) => setTimeout(r, 800)); // several more polls of the same state
  t.equal((await events('elevator.entrapment')).length, 1, 'once per change, not per poll');
  t.equal((await events('power.breaker_tripped')).length, 1);
});
