/**
 * The gateway starts the ML runtime for devices whose profile lists models that exist under
 * models/ (water/vfd-pump: pump-anomaly, pump-rul), reports it in /metrics, names the
 * listed models that do not exist, and stops it on close; `ml: { enabled: false }` keeps it off.
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
  await gw.close();
});

t.test('ml.enabled false keeps TF.js out of the gateway', async (t) => {
  const gw = await startGateway(loadSiteConfig(path.join(dir, 'site.yaml')), { httpPort: 0, log: createLogger({ level: 'silent' }), ml: { enabled: false } });
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  t.notMatch(text, /ml_batches_total/);
  await gw.close();
});
