/**
 * The gateway starts the ML runtime for devices whose profile lists models that exist under
 * models/ (water/vfd-pump: pump-anomaly, pump-rul), reports it in /metrics, names the
 * listed models that do not exist, and stops it on close; `ml: { enabled: false }` keeps it off.
 * The streaming detector runs on the numeric points no model covers.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { until } from '../../../test/support/until.js';

const dir = mkdtempSync(path.join(tmpdir(), 'steward-ml-gw-'));
writeFileSync(
  path.join(dir, 'site.yaml'),
  `site: { id: ml-site, name: ML }
gateway: { dataDir: ./data }
devices:
  - id: pump-1
    profile: water/vfd-pump
    system: water
    pollIntervalMs: 60000
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1, timeoutMs: 200 }
`,
);

t.test('a pump site starts the ML runtime and shows it in /metrics', async (t) => {
  const gw = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  let text = '';
  await until(
    'the ML runtime in /metrics',
    async () => {
      text = await (await fetch(`${gw.url}/metrics`)).text();
      return text.includes('ml_batches_total');
    },
    60_000,
    200,
  );
  t.match(text, /ml_refused_total\S* 0/, 'pump-anomaly and pump-rul both load for pump-1');
  // The streaming detector takes the numeric read-only points the models do not: run_hours, energy.
  t.match(text, /ml_univariate_points\S* 2\b/, 'run_hours and energy have the streaming detector');
  await gw.close();
});

t.test('ml.univariate false: no streaming detector; without the models every numeric point has one', async (t) => {
  const off = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }), ml: { univariate: false, modelsDir: path.join(dir, 'no-models') } });
  t.notMatch(await (await fetch(`${off.url}/metrics`)).text(), /ml_univariate_points/);
  await off.close();
  const gw = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }), ml: { modelsDir: path.join(dir, 'no-models') } });
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(text, /ml_univariate_points\S* 8\b/, 'the 6 model inputs + run_hours + energy, the models being absent');
  t.notMatch(text, /ml_batches_total/, 'and no TF.js runtime');
  await gw.close();
});

t.test('ml.enabled false keeps TF.js out of the gateway', async (t) => {
  const gw = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }), ml: { enabled: false } });
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.notMatch(text, /ml_batches_total/);
  await gw.close();
});
