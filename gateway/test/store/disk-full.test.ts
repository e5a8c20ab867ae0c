/**
 * A full disk is an alarm, not a crash loop (issue 4): when SQLite cannot write (here its
 * page limit is reached: SQLITE_FULL, as on a full disk), polling goes on, /healthz says
 * failing, nothing stored before is lost, and once writing works again the gateway:store
 * alarm is on record — raised and cleared — with the readings flowing again.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../../scripts/sim/sim.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { until } from '../../../test/support/until.js';

t.test('disk full: polling goes on, healthz fails, the store alarm is recorded after', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-full-'));
  const file = path.join(dir, 'site.yaml');
  const yaml = (port: number) => `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent, mqtt: { enabled: false }, store: { flushIntervalMs: 100 } }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }
`;
  writeFileSync(file, yaml(1));
  const sim = await startSimulator(loadSiteConfig(file), { ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, yaml(sim.devices[0]!.port));
  const gw = await startGateway(loadSiteConfig(file), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());
  const health = async () => {
    const res = await fetch(`${gw.url}/healthz`);
    return { status: res.status, body: (await res.json()) as { status: string } };
  };

  await until('samples stored', () => (gw.store.sampleCount() > 50 ? true : undefined));
  const db = gw.store.db;
  const pages = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pages}`);
  // Fill the last free pages so the next flush cannot grow the file.
  await until('the store fails', async () => ((await health()).status === 503 ? true : undefined), 15_000);
  const before = gw.store.sampleCount();
  const okBefore = gw.poller.status('pump-1')!.lastOkAt!;
  await new Promise((r) => setTimeout(r, 600));
  t.ok(gw.poller.status('pump-1')!.lastOkAt! > okBefore, 'polling goes on while the store fails');
  t.equal(gw.poller.status('pump-1')!.state, 'online');
  t.match((await health()).body, { status: 'failing' });

  db.pragma('max_page_count = 1073741823');
  await until('the store works again', async () => ((await health()).status === 200 ? true : undefined), 15_000);
  t.ok(gw.store.sampleCount() >= before, 'nothing stored before was lost');
  await until('gateway:store alarm raised and cleared on record', () => {
    const types = gw.store.events({ type: 'alarm.*' }).filter((e) => (e.body as { alarm?: { id?: string } }).alarm?.id === 'gateway:store' || JSON.stringify(e.body).includes('gateway:store')).map((e) => e.type);
    return types.includes('alarm.raised') && types.includes('alarm.cleared') ? types : undefined;
  }, 15_000);
});
