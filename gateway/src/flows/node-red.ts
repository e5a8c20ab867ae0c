/**
 * Node-RED on the gateway, put together: the settings Node-RED is started with, the
 * identities its nodes use (a gateway API login and an MQTT login, both made at each
 * start with a random password), the default flows loaded on first start, the flow
 * versions, and the supervisor of the child process. main.ts wires it; the rest of the
 * gateway sees it through `status()`, `counters()` and the routes of routes.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SiteConfig, UserConfig } from '../core/config/load.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { bindingsEnv, flowBindings, unknownDevices } from './bindings.js';
import { editorUsers, fileSecret, writeNodeRedConfig } from './settings.js';
import { NodeRedSupervisor, type NodeRedStatus } from './supervisor.js';
import { asFlows, flowsSha, FlowVersions, type FlowNode, type FlowVersion } from './versions.js';

/** flows/ of this build: default flows (*.json), nodes/ and runtime/settings.cjs. */
export const FLOWS_DIR = fileURLToPath(new URL('../../../flows/', import.meta.url));

/** The name of the gateway login (and MQTT login) Node-RED's nodes use. */
export const NODE_RED_USER = 'node-red';

/** The default flows of `dir` (every *.json) as one flows array; shared config nodes once. */
export function defaultFlows(dir: string = FLOWS_DIR): FlowNode[] {
  const out: FlowNode[] = [];
  const seen = new Set<string>();
  // The three of issue 6 first, in the order a site walk-through meets them; any other after, by name.
  const rank = (f: string) => ['lighting.json', 'pump.json', 'elevator.json'].indexOf(f) + 1 || 99;
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.json')).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    const file = path.join(dir, name);
    const nodes = asFlows(JSON.parse(readFileSync(file, 'utf8')) as unknown, file);
    for (const n of nodes) {
      if (seen.has(n.id)) continue;
      seen.add(n.id);
      out.push(n);
    }
  }
  return out;
}

export interface NodeRedOptions {
  readonly config: SiteConfig;
  readonly log: Logger;
  /** Tests: the child's watchdog and restart tuning. */
  readonly supervisor?: { readonly restartMinMs?: number; readonly restartMaxMs?: number; readonly watchdogMs?: number; readonly heartbeatMs?: number; readonly stableMs?: number };
  /** Overrides gateway.nodeRed.port (0 is not allowed: the gateway must know the port). */
  readonly port?: number;
  /** Called for every new flow version (main.ts records config.applied and the audit entry). */
  readonly onVersion?: (version: FlowVersion) => void;
}

export interface StartOptions {
  /** The gateway's API, for the nodes (alarms, work orders, writes). */
  readonly gatewayUrl: string;
  /** The gateway's broker and a login on it for the nodes (point values, `…/set`); undefined without a broker. */
  readonly mqtt?: { readonly url: string; readonly username: string; readonly password: string };
}

export class NodeRedRuntime {
  readonly url: string;
  readonly userDir: string;
  readonly versions: FlowVersions;
  /** The gateway login of Node-RED's nodes: add it to the API's users. */
  readonly apiUser: UserConfig;
  private supervisor: NodeRedSupervisor | undefined;
  private readonly log: Logger;

  constructor(private readonly o: NodeRedOptions) {
    const nr = o.config.gateway.nodeRed;
    this.log = o.log;
    const port = o.port ?? nr.port;
    this.url = `http://${nr.host.includes(':') ? `[${nr.host}]` : nr.host}:${port}`;
    this.userDir = path.join(o.config.gateway.dataDir, 'node-red');
    this.versions = new FlowVersions(o.config.gateway.dataDir, nr.keepVersions);
    // A site user may already be called node-red: Node-RED's own login then takes another name.
    let name = NODE_RED_USER;
    for (let i = 2; o.config.users.some((u) => u.name === name); i++) name = `${NODE_RED_USER}-${i}`;
    if (name !== NODE_RED_USER) this.log.warn(`site.yaml has a user named ${NODE_RED_USER}: Node-RED's nodes log in to the API as ${name}`);
    this.apiUser = { name, role: 'operator', password: randomBytes(18).toString('base64url') };
  }

  /** The flows file Node-RED loads and saves. */
  get flowsFile(): string {
    return path.join(this.userDir, 'flows.json');
  }

  /** Writes the settings, loads the default flows on first start, and starts Node-RED. */
  async start(s: StartOptions): Promise<void> {
    const { config } = this.o;
    const nr = config.gateway.nodeRed;
    const port = this.o.port ?? nr.port;
    const heartbeatMs = this.o.supervisor?.heartbeatMs ?? 2000;
    const settingsConfig = writeNodeRedConfig(this.userDir, {
      host: nr.host,
      port,
      siteId: config.site.id,
      siteName: config.site.name,
      credentialSecret: fileSecret(path.join(config.gateway.dataDir, 'node-red-credential-secret')),
      nodesDir: path.join(FLOWS_DIR, 'nodes'),
      heartbeatMs,
      users: await editorUsers(config.users),
    });
    this.seed();
    // Editor sessions end with the gateway: a user removed or demoted in site.yaml since
    // keeps no token of the old rights.
    rmSync(path.join(this.userDir, '.sessions.json'), { force: true });

    const bindings = flowBindings(config);
    const unknown = unknownDevices(config, bindings);
    if (unknown.length > 0) this.log.warn({ devices: unknown }, `gateway.nodeRed names devices the site does not have: ${unknown.join(', ')}`);
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.userDir,
      NODE_ENV: 'production',
      // Timetables in the flows run on the site's clock.
      TZ: config.site.timezone,
      STEWARD_NODE_RED_CONFIG: settingsConfig,
      STEWARD_SITE: config.site.id,
      STEWARD_GATEWAY_URL: s.gatewayUrl,
      STEWARD_GATEWAY_USER: this.apiUser.name,
      STEWARD_GATEWAY_PASSWORD: this.apiUser.password ?? '',
      STEWARD_MQTT_URL: s.mqtt?.url ?? '',
      STEWARD_MQTT_USER: s.mqtt?.username ?? '',
      STEWARD_MQTT_PASSWORD: s.mqtt?.password ?? '',
      ...bindingsEnv(bindings),
    };
    const require = createRequire(import.meta.url);
    this.supervisor = new NodeRedSupervisor({
      redJs: require.resolve('node-red/red.js'),
      settingsFile: path.join(FLOWS_DIR, 'runtime', 'settings.cjs'),
      userDir: this.userDir,
      env,
      url: this.url,
      log: this.log,
      maxHeapMb: nr.maxHeapMb,
      restartMinMs: this.o.supervisor?.restartMinMs ?? nr.restartMinMs,
      restartMaxMs: this.o.supervisor?.restartMaxMs ?? nr.restartMaxMs,
      ...(this.o.supervisor?.watchdogMs === undefined ? {} : { watchdogMs: this.o.supervisor.watchdogMs }),
      ...(this.o.supervisor?.stableMs === undefined ? {} : { stableMs: this.o.supervisor.stableMs }),
    });
    this.supervisor.on('flows-saved', (m: { ts: number; user: string | null; flows: unknown }) => {
      try {
        const v = this.versions.record(asFlows(m.flows, 'the flows Node-RED saved'), m.user ?? 'unknown', 'deploy', m.ts);
        if (v !== undefined) this.announce(v);
      } catch (err) {
        this.log.error({ err }, 'recording a flow version failed');
      }
    });
    this.supervisor.start();
  }

  /** First start: the default flows; later starts: a version for flows changed while the gateway was away. */
  private seed(): void {
    const nr = this.o.config.gateway.nodeRed;
    if (!existsSync(this.flowsFile)) {
      if (!nr.defaultFlows) return;
      const flows = defaultFlows();
      this.writeFlows(flows);
      const v = this.versions.record(flows, 'steward', 'default');
      if (v !== undefined) this.announce(v);
      this.log.info({ nodes: flows.length, file: this.flowsFile }, 'default flows loaded');
      return;
    }
    try {
      const flows = asFlows(JSON.parse(readFileSync(this.flowsFile, 'utf8')) as unknown, this.flowsFile);
      const v = this.versions.record(flows, 'unknown', 'found');
      if (v !== undefined) this.announce(v);
    } catch (err) {
      this.log.warn({ err }, `the flows file ${this.flowsFile} is not readable as flows; Node-RED will say more`);
    }
  }

  private writeFlows(flows: readonly FlowNode[]): void {
    mkdirSync(this.userDir, { recursive: true });
    const tmp = `${this.flowsFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(flows, null, 4)}\n`);
    renameSync(tmp, this.flowsFile);
  }

  private announce(v: FlowVersion): void {
    this.log.info({ version: v.n, actor: v.actor, action: v.action, added: v.diff.added.length, removed: v.diff.removed.length, changed: v.diff.changed.length }, 'flow version recorded');
    this.o.onVersion?.(v);
  }

  /**
   * Puts version `n`'s flows back: writes the flows file, records a new version (action
   * rollback, by `actor`) and restarts Node-RED on it.
   */
  async rollback(n: number, actor: string): Promise<FlowVersion> {
    const target = this.versions.get(n);
    return this.put(asFlows(target.flows, `flow version ${n}`), actor, 'rollback', n);
  }

  /**
   * Runs `flows` from elsewhere — e.g. the `flows` part of a `config.desired` from the
   * cloud (actor `cloud`) — as a new version (action `deploy`), restarting Node-RED on them.
   * Throws GW_ERR_FLOWS_INVALID, leaving everything as it was, unless they are flows.
   */
  async apply(flows: unknown, actor: string): Promise<FlowVersion | undefined> {
    const checked = asFlows(flows, `the flows from ${actor}`);
    const head = this.versions.latest();
    if (head !== undefined && head.sha256 === flowsSha(checked)) return undefined;
    return this.put(checked, actor, 'deploy');
  }

  private async put(flows: FlowNode[], actor: string, action: 'rollback' | 'deploy', restored?: number): Promise<FlowVersion> {
    this.writeFlows(flows);
    const v = this.versions.record(flows, actor, action, Date.now(), restored)!;
    this.announce(v);
    if (this.supervisor === undefined) throw new GatewayError('GW_ERR_FLOWS_START', 'Node-RED has not been started: the flows file is written and will be used at the next start');
    await this.supervisor.restart();
    return v;
  }

  status(): NodeRedStatus | { enabled: true; state: 'stopped'; url: string } {
    return this.supervisor?.status() ?? { enabled: true, state: 'stopped', url: this.url };
  }

  /** Figures for /metrics (steward_node_red_*). */
  counters(): Record<string, number> {
    const s = this.supervisor?.status();
    return {
      node_red_up: s?.state === 'running' ? 1 : 0,
      node_red_starts_total: s?.starts ?? 0,
      node_red_restarts_total: s?.restarts ?? 0,
      node_red_watchdog_kills_total: s?.watchdogKills ?? 0,
      node_red_flow_version: this.versions.head(),
    };
  }

  /** The supervisor (tests kill its child). */
  get process(): NodeRedSupervisor | undefined {
    return this.supervisor;
  }

  async stop(): Promise<void> {
    await this.supervisor?.stop();
  }
}
