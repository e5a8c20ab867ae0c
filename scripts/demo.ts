/**
 * `npm start` / `steward demo`: the demo community on localhost — simulated devices, a
 * cloud, and the gateway of examples/demo/site.yaml enrolled with it (with its Node-RED
 * and the default flows) — printing the URLs.
 * Starts fresh each time (its data lives in data/demo/) and stops cleanly on Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { addGateway, addUser, startCloud } from '../cloud/src/index.js';
import { loadSiteConfig } from '../gateway/src/config.js';
import { createLogger } from '../gateway/src/core/logger.js';
import { startGateway } from '../gateway/src/main.js';
import { startSimControl } from './sim/control.js';
import { startCommunity } from './sim/community.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', default: path.join(root, 'examples/demo/site.yaml') },
      data: { type: 'string', default: path.join(root, 'data/demo') },
      'cloud-port': { type: 'string', default: '8090' },
      'log-level': { type: 'string', default: 'warn' },
      'control-port': { type: 'string', default: '8099' },
    },
  });
  const dataDir = path.resolve(values.data);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => process.stderr.write(`demo: ${String(err)}\n`));
  };
  try {
    // The cloud first, so the gateway's enrolment token can be made.
    const siteForToken = loadSiteConfig(values.config, { STEWARD_DEMO_TOKEN: 'placeholder-token' }, false);
    const cloudPort = Number(values['cloud-port']);
    const cloud = await startCloud({ host: '127.0.0.1', port: cloudPort, database: path.join(dataDir, 'cloud.db') });
    closers.push(() => cloud.close());
    const gatewayId = siteForToken.cloud?.gatewayId ?? 'demo-gw-01';
    const token = await addGateway(cloud.app, { site: siteForToken.site.id, gateway: gatewayId, siteName: siteForToken.site.name });
    const password = randomBytes(9).toString('base64url');
    await addUser(cloud.app, { name: 'admin', password, role: 'admin' });

    const operatorPassword = randomBytes(9).toString('base64url');
    const technicianPassword = randomBytes(9).toString('base64url');
    const env = {
      ...process.env,
      STEWARD_DEMO_TOKEN: token,
      STEWARD_DEMO_CAMERA_PASSWORD: randomBytes(9).toString('base64url'),
      STEWARD_DEMO_OPERATOR_PASSWORD: operatorPassword,
      STEWARD_DEMO_TECHNICIAN_PASSWORD: technicianPassword,
    };
    const site = loadSiteConfig(values.config, env);
    const sim = await startCommunity(site, { seed: 1 });
    closers.push(() => sim.close());
    const control = await startSimControl(sim, { port: Number(values['control-port']) });
    closers.push(() => control.close());

    const log = createLogger({ level: values['log-level'] as 'warn', name: 'demo' });
    const gateway = await startGateway(site, { log });
    closers.push(() => gateway.close());

    const lines = [
      '',
      `Steward demo — ${site.site.name} (${site.site.id})`,
      '',
      ...sim.devices.map((d) => `  simulator   ${d.id.padEnd(13)} ${d.protocol.padEnd(10)} ${d.host}:${d.port}  ${d.profile}`),
      `  faults      ${control.url}/devices   (e.g. curl -X POST ${control.url}/devices/pump-1/faults -d '{"fault":"bearing-wear","on":true}')`,
      `  gateway     ${gateway.url}   (login for writes: operator / ${operatorPassword})`,
      `                ${gateway.url}/api/v1/devices`,
      `                ${gateway.url}/api/v1/points?device=${site.devices[0]?.id ?? ''}`,
      `                ${gateway.url}/api/v1/sync     ${gateway.url}/metrics`,
      ...(gateway.nodeRed === undefined
        ? []
        : [
            `  node-red    ${gateway.nodeRed.url}   (editor login: technician / ${technicianPassword}; starting in the background)`,
            `                default flows: lighting, pump, elevator — try curl -X POST ${control.url}/devices/pump-1/faults -d '{"fault":"pressure-loss","on":true}'`,
          ]),
      `  cloud       ${cloud.url}   (API docs: ${cloud.url}/docs)`,
      `                login: admin / ${password}`,
      `                TOKEN=$(curl -s -X POST ${cloud.url}/v1/auth/login -H 'content-type: application/json' \\`,
      `                  -d '{"name":"admin","password":"${password}"}' | sed 's/.*"token":"\\([^"]*\\)".*/\\1/')`,
      `                curl -s -H "authorization: Bearer $TOKEN" ${cloud.url}/v1/sites/${site.site.id}/points`,
      '',
      'Ctrl-C stops everything.',
      '',
    ];
    process.stdout.write(lines.join('\n'));
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    await closeAll();
    return 1;
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  process.stdout.write('\nstopping…\n');
  await closeAll();
  return 0;
}
