/**
 * The demo community (examples/demo/site.yaml) on free ports, for the panel's browser
 * tests, its screenshots and demos: every simulated device, the gateway (HTTP on port 0)
 * with an operator login, and optionally a local cloud the gateway is enrolled with,
 * which can be stopped and started again on the same port and database.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { addGateway, addUser, startCloud } from '../../../cloud/src/index.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway, type Gateway } from '../../src/main.js';
import { startCommunity, type Community } from '../../../scripts/sim/community.js';
import { freePort } from '../../../test/support/ports.js';

const DEMO = fileURLToPath(new URL('../../../examples/demo/site.yaml', import.meta.url));

export interface DemoRig {
  readonly gateway: Gateway;
  readonly community: Community;
  readonly login: { readonly name: string; readonly password: string };
  readonly dir: string;
  /** Undefined without `cloud: true`. */
  readonly cloud: { readonly url: string; readonly login: { readonly name: string; readonly password: string }; stop(): Promise<void>; start(): Promise<void> } | undefined;
  close(): Promise<void>;
}

export async function startDemoRig(options: { cloud?: boolean; dir?: string; readAccess?: 'open' | 'login' } = {}): Promise<DemoRig> {
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'steward-panel-'));
  const doc = YAML.parse(readFileSync(DEMO, 'utf8')) as {
    gateway: Record<string, unknown>;
    cloud?: Record<string, unknown>;
    users?: unknown[];
    devices: { id: string; profile: string; connection: Record<string, unknown> }[];
  };
  // Profiles by id resolve from device-profiles/ wherever the file lives.
  const password = randomBytes(9).toString('base64url');
  const env: Record<string, string> = { PANEL_OPERATOR_PASSWORD: password, PANEL_CAMERA_PASSWORD: 'cam-' + password, PANEL_CLOUD_TOKEN: 'placeholder-token' };
  doc.gateway = { ...doc.gateway, dataDir: './data/gateway', logLevel: 'silent', http: { host: '127.0.0.1', port: 0, ...(options.readAccess === undefined ? {} : { readAccess: options.readAccess }) } };
  doc.users = [{ name: 'operator', role: 'operator', passwordEnv: 'PANEL_OPERATOR_PASSWORD' }];
  for (const d of doc.devices) if (d.connection.passwordEnv !== undefined) d.connection.passwordEnv = 'PANEL_CAMERA_PASSWORD';
  delete doc.cloud;
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, YAML.stringify(doc));

  const community = await startCommunity(loadSiteConfig(file, env), { seed: 1, ports: Object.fromEntries(doc.devices.map((d) => [d.id, 0])) });
  for (const d of doc.devices) {
    const sim = community.devices.find((x) => x.id === d.id);
    if (sim === undefined) continue;
    if (d.connection.protocol === 'onvif') d.connection.url = `http://${sim.host}:${sim.port}`;
    else {
      d.connection.host = sim.host;
      d.connection.port = sim.port;
    }
  }

  let cloud: DemoRig['cloud'];
  if (options.cloud === true) {
    const port = await freePort();
    const database = path.join(dir, 'cloud.db');
    let running: Awaited<ReturnType<typeof startCloud>> | undefined = await startCloud({ host: '127.0.0.1', port, database });
    env.PANEL_CLOUD_TOKEN = await addGateway(running.app, { site: 'demo-garden', gateway: 'panel-gw', siteName: '演示花园 Demo Garden' });
    const cloudLogin = { name: 'admin', password: randomBytes(9).toString('base64url') };
    await addUser(running.app, { ...cloudLogin, role: 'admin' });
    doc.cloud = { url: `http://127.0.0.1:${port}`, gatewayId: 'panel-gw', enrolmentTokenEnv: 'PANEL_CLOUD_TOKEN', snapshotIntervalMs: 2000, requestTimeoutMs: 1000 };
    cloud = {
      url: `http://127.0.0.1:${port}`,
      login: cloudLogin,
      async stop() {
        await running?.close();
        running = undefined;
      },
      async start() {
        running ??= await startCloud({ host: '127.0.0.1', port, database });
      },
    };
  }
  writeFileSync(file, YAML.stringify(doc));
  let gateway: Gateway;
  try {
    gateway = await startGateway(loadSiteConfig(file, env), {
      httpPort: 0,
      log: createLogger({ level: 'silent' }),
      ...(cloud === undefined ? {} : { uplink: { idleMs: 100, maxBackoffMs: 500 } }),
    });
  } catch (err) {
    await cloud?.stop();
    await community.close();
    throw err;
  }
  return {
    gateway,
    community,
    login: { name: 'operator', password },
    dir,
    cloud,
    async close() {
      await gateway.close();
      await cloud?.stop();
      await community.close();
    },
  };
}
