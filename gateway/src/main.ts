/**
 * The wiring (top floor): builds every part of the gateway from the frozen site config
 * and starts them — store, drivers and poller, uplink, HTTP API — and stops them in the
 * reverse order. The only module that knows every part (DESIGN.md "Layout").
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uuidv7 } from '../../protocol/uuid.js';
import type { FastifyInstance } from 'fastify';
import type { SiteConfig } from './core/config/load.js';
import { GatewayError } from './core/errors.js';
import { createLogger, type Logger } from './core/logger.js';
import type { Reading, Value } from './core/model.js';
import { createDriver, loadDrivers } from './drivers/registry.js';
import { loadSessionKey, Sessions } from './api/auth.js';
import { buildApi } from './api/server.js';
import { Broker } from './broker/broker.js';
import { verifyPassword } from './api/auth.js';
import { LiveFeed } from './api/panel.js';
import { Poller } from './poller/poller.js';
import type { BackoffOptions } from './poller/device-poller.js';
import { StoreMaintenance } from './store/maintenance.js';
import { SnapshotFolder } from './store/snapshots.js';
import { installSiteParts } from './site-install.js';
import { GatewayStore } from './store/store.js';
import { WorkOrderStore } from './store/work-orders.js';
import { WorkOrderService } from './workorders/service.js';
import { WorkOrderRules } from './workorders/rules.js';
import { DEFAULT_WORK_ORDER_RULES } from './core/config/work-orders.js';
import { Uplink } from './sync/uplink.js';
import { Downlink } from './sync/downlink.js';
import { NODE_RED_USER, NodeRedRuntime, type NodeRedOptions } from './flows/node-red.js';
import { flowRoutes } from './flows/routes.js';
import { AlarmEngine } from './alarms/engine.js';
import { alarmRoutes } from './api/alarms.js';
import { AlarmStore } from './store/alarms.js';
import { PointDetectors, pointsWithoutModel, type PointDetectorsSettings } from './ml/point-detectors.js';
import { readManifest } from './ml/registry.js';
import { MlRuntime, type MlEvent, type MlRuntimeOptions } from './ml/runtime.js';

/** Readings pending past this are written at once (see the sink), not at the next flush interval. */
const FLUSH_EARLY_READINGS = 10_000;

export const VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface GatewayOptions {
  readonly log?: Logger;
  /** Overrides gateway.http.port (0 = any free port; tests use it). */
  readonly httpPort?: number;
  readonly backoff?: BackoffOptions;
  /** Uplink tuning for tests (idle poll, backoff ceiling). */
  readonly uplink?: { readonly idleMs?: number; readonly maxBackoffMs?: number; readonly pingIntervalMs?: number };
  /**
   * Overrides gateway.mqtt.port (0 = any free port). Unset while the HTTP port is 0
   * (httpPort or gateway.http.port: tests, benches), the broker takes any free port too,
   * so gateways of parallel tests never collide on 1884; `gateway.broker.url` says which.
   */
  readonly mqttPort?: number;
  /** Overrides gateway.mqtt.tls.port (0 = any free port), with the same rule. */
  readonly mqttTlsPort?: number;
  /** Overrides cloud.downlinkWaitMs (tests use a short long-poll). */
  readonly downlinkWaitMs?: number;
  /** Node-RED tuning for tests: its port, restart backoff, watchdog. */
  readonly nodeRed?: Pick<NodeRedOptions, 'port' | 'supervisor'>;
  /** ML runtime (docs/ml.md): off with `enabled: false`; models from `modelsDir` (default models/ of this checkout); candidate versions in shadow mode. */
  readonly ml?: {
    readonly enabled?: boolean;
    readonly modelsDir?: string;
    readonly shadow?: Readonly<Record<string, string>>;
    /** The streaming detector on numeric points without a model: false = off; or its settings. */
    readonly univariate?: false | Partial<PointDetectorsSettings>;
    /** Step interval and clock of the model runtime (an end-to-end test with an accelerated simulator). */
    readonly runtime?: Pick<MlRuntimeOptions, 'stepMs' | 'clock'>;
  };
  /**
   * The site.yaml this gateway runs from, and how to restart it on that file (the
   * `steward gateway` command gives both): with them, the `site` and `profiles/<id>` parts
   * of a desired configuration from the cloud are checked, installed and take effect by a
   * restart (site-install.ts); without, they stay staged.
   */
  readonly siteFile?: string;
  readonly restart?: (reason: string) => void;
  /** Environment for the secrets of a new site config (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface Gateway {
  readonly config: SiteConfig;
  /** Base URL of the HTTP API, e.g. http://127.0.0.1:8080. */
  readonly url: string;
  readonly api: FastifyInstance;
  readonly store: GatewayStore;
  readonly poller: Poller;
  readonly uplink: Uplink | undefined;
  /** The embedded MQTT broker (docs/mqtt.md); undefined when gateway.mqtt.enabled is false. */
  readonly broker: Broker | undefined;
  readonly downlink: Downlink | undefined;
  readonly maintenance: StoreMaintenance;
  /** Node-RED and its flow versions; undefined unless gateway.nodeRed.enabled. */
  readonly nodeRed: NodeRedRuntime | undefined;
  readonly workOrders: WorkOrderService;
  /** The alarm engine: `onTransition(listener)` for every alarm.* transition (docs/alarms.md). */
  readonly alarms: AlarmEngine;
  /** Writes the readings buffered since the last flush (tests and benchmarks use it). */
  flush(): void;
  /** Stops polling, flushes, closes the API and the database. Idempotent. */
  close(): Promise<void>;
}

export async function startGateway(config: SiteConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const log = options.log ?? createLogger({ level: config.gateway.logLevel, name: 'gateway' });
  await loadDrivers(config.devices); // only the protocols this site uses (issue 3), before anything opens
  const startedAt = Date.now();
  const counters = { readings_stored_total: 0, events_recorded_total: 0, store_errors_total: 0 };
  /** What is failing to be written right now (by kind of work), with its last error. */
  const storeFailures = new Map<string, { message: string; at: number }>();
  const storeError = (): { message: string; at: number } | undefined => [...storeFailures.values()].sort((a, b) => b.at - a.at)[0];

  const store = new GatewayStore({ dataDir: config.gateway.dataDir, site: config.site.id });
  log.info({ file: store.file }, 'store open');

  // ── MQTT bus (gateway/src/broker/, docs/mqtt.md), part 1: every event recorded — by the
  // poller, the alarm engine, flows, work orders — is published once stored.
  let broker: Broker | undefined;
  store.onEvent((e) => broker?.publishEvent(e));
  // ── end MQTT bus, part 1

  /** Told when the store starts failing and when it works again (raises the gateway:store alarm). */
  const storeHealth: { listener?: (ok: boolean, message: string) => void } = {};
  /** A failing disk must not stop polling: note it, report it, try again next cycle. */
  const guarded = (what: string, fn: () => void): void => {
    try {
      fn();
      // Healthy again only when the kind of work that failed succeeds (a read-only
      // maintenance pass succeeding says nothing about a full disk).
      if (storeFailures.delete(what) && storeFailures.size === 0) {
        log.info(`${what} works again`);
        storeHealth.listener?.(true, `${what} works again`);
      }
    } catch (err) {
      counters.store_errors_total++;
      const message = err instanceof Error ? err.message : String(err);
      if (!storeFailures.has(what)) log.error({ err }, `${what}: ${message}`);
      if (storeFailures.size === 0) storeHealth.listener?.(false, `${what}: ${message}`);
      storeFailures.set(what, { message, at: Date.now() });
      if (!(err instanceof GatewayError)) throw err;
    }
  };

  // Readings of every device go to SQLite together, one transaction per flush (DESIGN.md "Storage").
  const storeCfg = config.gateway.store;
  const live = new LiveFeed(); // the panel's live stream (api/panel.ts)
  let pending: { device: string; readings: Reading[]; slots: readonly number[] }[] = [];
  let pendingCount = 0;
  let flushSoon = false;
  const flush = (): void => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    pendingCount = 0;
    guarded('storing readings', () => {
      store.writeBatch(batch);
      for (const b of batch) counters.readings_stored_total += b.readings.length;
      live.readings(batch); // panel live stream (issue 8): what was just stored goes to GET /api/v1/live
    });
  };
  const flushTimer = storeCfg.flushIntervalMs > 0 ? setInterval(flush, storeCfg.flushIntervalMs) : undefined;

  const maintenance = new StoreMaintenance(store, {
    rawRetentionDays: storeCfg.rawRetentionDays,
    rollupRetentionDays: storeCfg.rollupRetentionDays,
    eventRetentionDays: storeCfg.eventRetentionDays,
    maxBytes: storeCfg.maxSizeMb * 1024 * 1024,
  });
  let maintenanceTimer: NodeJS.Timeout | undefined;
  const maintain = (): void => {
    let more = false;
    guarded('store maintenance', () => {
      more = maintenance.run(50);
    });
    maintenanceTimer = setTimeout(maintain, more ? 20 : storeCfg.maintenanceIntervalMs);
  };
  maintenanceTimer = setTimeout(maintain, storeCfg.maintenanceIntervalMs);

  // ── Work orders at the edge (issue 6): operations pending until the cloud confirms them.
  const workOrderStore = new WorkOrderStore(store, config.cloud !== undefined);
  const systems = new Map(config.devices.map((d) => [d.id, d.system as string]));
  const workOrders = new WorkOrderService({ site: config.site.id, store: workOrderStore, systemOf: (id) => systems.get(id) });
  // ── end work orders

  // ── Alarms (gateway/src/alarms/, docs/alarms.md): rules evaluated on readings and device
  // events; every transition is written with its alarm.* event in lane 0. A rule that cannot
  // be evaluated (GW_ERR_ALARM_RULE_INVALID) stops the start here.
  let alarms: AlarmEngine;
  try {
    alarms = new AlarmEngine({ store: new AlarmStore(store), devices: config.devices, settings: config.gateway.alarms, log: log.child({ part: 'alarms' }) });
  } catch (err) {
    clearInterval(flushTimer);
    clearTimeout(maintenanceTimer);
    store.close();
    throw err;
  }
  // A full disk or an I/O error is an alarm, not a crash loop (issue 4): the engine keeps
  // it while the store cannot record it and records it (raised, then cleared) once it can.
  storeHealth.listener = (ok, message) => {
    try {
      alarms.external({ source: 'gateway', name: 'store', active: !ok, severity: 'critical', message: ok ? message : `the gateway database cannot be written — ${message}`, actor: 'system' });
    } catch (err) {
      log.debug({ err }, 'gateway:store alarm not recorded yet');
    }
  };
  // ── end alarms

  // ── Work-order rules (gateway/src/workorders/rules.ts): P1 alarms and predicted failures
  // open work orders here, offline or not (site.yaml gateway.workOrders.rules).
  const deviceInfo = new Map(config.devices.map((d) => [d.id, { name: d.name ?? d.id, system: d.system as string }]));
  const workOrderRules = new WorkOrderRules({
    rules: config.gateway.workOrders?.rules ?? DEFAULT_WORK_ORDER_RULES,
    service: workOrders,
    deviceInfo: (id) => deviceInfo.get(id),
    mergeWindowMs: config.gateway.workOrders?.mergeWindowMs ?? 3_600_000,
    log: log.child({ part: 'work-order-rules' }),
  });
  alarms.onTransition((tr) => {
    if (tr.type === 'alarm.raised' || tr.type === 'alarm.unsuppressed') workOrderRules.alarmRaised(tr.alarm);
    else if (tr.type === 'alarm.cleared' || tr.type === 'alarm.shelved' || tr.type === 'alarm.out_of_service') workOrderRules.alarmGone(tr.alarm);
  });
  store.onEvent((e) => workOrderRules.event(e));
  workOrderRules.start();
  // ── end work-order rules

  const snapshots = new SnapshotFolder(path.join(config.gateway.dataDir, 'snapshots'));

  // ── ML (gateway/src/ml/, docs/ml.md), part 1: the readings of devices whose profile lists
  // `models:` go to the ML runtime, which only keeps their latest values here; scoring runs in
  // its worker thread every few seconds, off the polling path.
  let ml: MlRuntime | undefined;
  let pointDetectors: PointDetectors | undefined;
  // ── end ML, part 1

  const poller = new Poller({
    devices: config.devices,
    createDriver: (device) => createDriver(device, log.child({ device: device.id, part: 'driver' })),
    log: log.child({ part: 'poller' }),
    ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
    sink: {
      readings(device: string, readings: Reading[], slots: readonly number[]) {
        guarded('evaluating alarms', () => alarms.readings(device, readings)); // alarms: on the values as stored
        ml?.readings(device, readings); // ML: latest values only (see part 1)
        pointDetectors?.readings(device, readings, slots); // ML: queued for the streaming detector (part 2)
        pending.push({ device, readings, slots });
        pendingCount += readings.length;
        if (broker !== undefined) {
          // MQTT bus: changed values, retained; the device's $state (its first connection has no
          // event). Readings of a cycle come before the poller settles the device online, so a
          // device still `connecting` has just answered: it is online.
          broker.publishReadings(device, readings, slots);
          const state = poller.state(device);
          broker.setDeviceState(device, state === undefined || state === 'connecting' ? 'online' : state);
        }
        if (flushTimer === undefined) flush();
        else if (pendingCount >= FLUSH_EARLY_READINGS && !flushSoon) {
          // A busy gateway writes in chunks of ~FLUSH_EARLY_READINGS readings rather than one
          // big one per interval (~50,000 readings held the thread ~90 ms, longer than a 50 ms
          // poll cycle): right after this turn's I/O, not inside this device's cycle.
          flushSoon = true;
          setImmediate(() => {
            flushSoon = false;
            flush();
          });
        }
      },
      event({ attachment, ...e }) {
        guarded('recording an event', () => {
          const id = uuidv7(e.ts);
          let body = e.body;
          if (attachment !== undefined) {
            try {
              body = { ...body, snapshot: { ...(body.snapshot as object), ...snapshots.save(e.device, id, attachment) } };
            } catch (err) {
              body = { ...body, snapshotError: err instanceof Error ? err.message : String(err) };
            }
          }
          store.recordEvent({ ...e, id, body });
          counters.events_recorded_total++;
          alarms.event(e); // alarms: event rules (camera.tamper, device.offline, …)
        });
      },
    },
  });

  // ── ML, part 2: started in the background (TF.js loads in the worker), only for models that
  // exist under models/; its events take the poller's path: stored, then alarms and work-order rules.
  const mlDevices = config.devices.filter((d) => d.enabled !== false && d.profile.models.length > 0).map((d) => ({ id: d.id, profile: d.profile.id, points: d.profile.points.map((p) => p.name), models: d.profile.models }));
  const modelsDir = options.ml?.modelsDir ?? fileURLToPath(new URL('../../models', import.meta.url));
  const mlWanted = options.ml?.enabled !== false && mlDevices.some((d) => d.models.some((m) => existsSync(path.join(modelsDir, m, 'manifest.json'))));
  const mlSink = (e: MlEvent): void =>
    guarded('recording an ML event', () => {
      store.recordEvent({ ...e, id: uuidv7(e.ts) });
      counters.events_recorded_total++;
      alarms.event(e);
    });
  const mlStarting = !mlWanted
    ? Promise.resolve()
    : MlRuntime.start({ modelsDir, devices: mlDevices, sink: mlSink, log: log.child({ part: 'ml' }), ...(options.ml?.shadow === undefined ? {} : { shadow: options.ml.shadow }), ...options.ml?.runtime }).then(
        (rt) => void (ml = rt),
        (err: unknown) => log.warn({ err }, 'ML runtime did not start: polling and alarms go on without it'),
      );
  // The streaming detector on every numeric point no model covers (a listed model that is
  // not installed, or does not fit the device, covers nothing); profile/point `anomalyDetection: false` opts out.
  if (options.ml?.enabled !== false && options.ml?.univariate !== false) {
    const modelled = (id: string): Set<string> => {
      const d = mlDevices.find((x) => x.id === id);
      const inputs = new Set<string>();
      for (const m of mlWanted ? (d?.models ?? []) : []) {
        try {
          const manifest = readManifest(modelsDir, m);
          if (manifest.inputs.every((p) => d!.points.includes(p))) manifest.inputs.forEach((p) => inputs.add(p));
        } catch {
          // refused by the runtime (logged there): its points have no model
        }
      }
      return inputs;
    };
    pointDetectors = new PointDetectors(pointsWithoutModel(config.devices, modelled), mlSink, options.ml?.univariate === undefined ? {} : options.ml.univariate);
  }
  // ── end ML, part 2

  const uplink =
    config.cloud === undefined
      ? undefined
      : new Uplink({
          store,
          cloud: config.cloud,
          site: config.site.id,
          dataDir: config.gateway.dataDir,
          log: log.child({ part: 'uplink' }),
          ...options.uplink,
        });

  // ── Node-RED (gateway/src/flows/, docs/node-red.md): a supervised child process; every
  // new flow version is a config.applied event (lane 1, to the cloud) and an audit entry. Its
  // number is `flowVersion`, not `version`: the cloud reads `version` as a desired-config version.
  const nodeRed = config.gateway.nodeRed.enabled
    ? new NodeRedRuntime({
        config,
        log: log.child({ part: 'node-red' }),
        ...options.nodeRed,
        onVersion: (v) =>
          guarded('recording a flow version', () => {
            const diff = { added: v.diff.added.length, removed: v.diff.removed.length, changed: v.diff.changed.length, nodes: [...v.diff.added, ...v.diff.removed, ...v.diff.changed].slice(0, 50).map((n) => n.name ?? `${n.type} ${n.id}`) };
            store.recordEvent({ ts: v.ts, type: 'config.applied', severity: 'info', body: { kind: 'flows', flowVersion: v.n, actor: v.actor, action: v.action, sha256: v.sha256, nodes: v.nodes, diff, ...(v.restored === undefined ? {} : { restored: v.restored }) } });
            if (v.action !== 'rollback') store.audit({ ts: v.ts, actor: v.actor, action: `flows.${v.action}`, target: `flows@${v.n}`, detail: { sha256: v.sha256, ...diff }, result: 'ok' });
          }),
      })
    : undefined;
  const routes = [flowRoutes({ nodeRed, audit: (e) => guarded('recording a flow rollback', () => store.audit({ ts: Date.now(), ...e })) })];
  // ── end Node-RED
  routes.push(alarmRoutes(alarms)); // alarm routes (api/alarms.ts)

  const downlink =
    uplink === undefined || config.cloud === undefined
      ? undefined
      : new Downlink({
          store,
          workOrders: workOrderStore,
          url: config.cloud.url,
          gatewayId: config.cloud.gatewayId,
          bearer: () => uplink.bearer(),
          dataDir: config.gateway.dataDir,
          log: log.child({ part: 'downlink' }),
          waitMs: options.downlinkWaitMs ?? config.cloud.downlinkWaitMs,
          requestTimeoutMs: config.cloud.requestTimeoutMs,
          ...(options.uplink?.maxBackoffMs === undefined ? {} : { maxBackoffMs: options.uplink.maxBackoffMs }),
          onWorkOrder: (view, op) => workOrders.notify(view, op),
          // Of a desired configuration, Node-RED flows take effect live (a checked new flow
          // version, Node-RED restarted on it); site config and profiles, on a gateway run
          // from its file, are checked and installed, and the gateway restarts on them;
          // models (and the rest, without a file) stay staged.
          applyDesired: async (desired): Promise<Record<string, 'applied' | 'staged' | { error: string }>> => {
            const outcome: Record<string, 'applied' | 'staged' | { error: string }> = {};
            const flows = desired.parts.flows;
            if (flows !== undefined) {
              if (nodeRed === undefined) outcome.flows = { error: 'Node-RED is not enabled on this gateway (gateway.nodeRed.enabled)' };
              else {
                try {
                  await nodeRed.apply(JSON.parse(flows) as unknown, `cloud:config-v${desired.version}`);
                  outcome.flows = 'applied';
                } catch (err) {
                  outcome.flows = { error: err instanceof Error ? err.message : String(err) };
                }
              }
            }
            if (options.siteFile !== undefined && options.restart !== undefined) {
              const installed = installSiteParts({ siteFile: options.siteFile, current: config, version: desired.version, parts: desired.parts, ...(options.env === undefined ? {} : { env: options.env }) });
              Object.assign(outcome, installed.outcome);
              if (installed.changed) {
                log.info({ version: desired.version, parts: Object.keys(installed.outcome) }, 'desired site config installed: restarting on it');
                // After this page and its config.applied are committed: not awaited here.
                const restart = options.restart;
                setTimeout(() => restart(`desired config v${desired.version}`), 0);
              }
            }
            return outcome;
          },
        });

  /** A guarded, audited write: the API's and the MQTT bus's (actor `mqtt:<user>`). */
  const writePoint = async (device: string, point: string, value: Value, actor: string): Promise<{ previous: Value | null }> => {
    const target = `${device}.${point}`;
    try {
      const { previous } = await poller.write(device, point, value);
      guarded('recording a write', () => store.audit({ ts: Date.now(), actor, action: 'point.write', target, detail: { old: previous, new: value }, result: 'ok' }));
      log.info({ actor, target, old: previous, new: value }, 'point written');
      return { previous };
    } catch (err) {
      const refused = err instanceof GatewayError && (err.kind === 'contract' || err.kind === 'not_found');
      const message = err instanceof Error ? err.message : String(err);
      guarded('recording a write', () =>
        store.audit({ ts: Date.now(), actor, action: 'point.write', target, detail: { new: value, error: message, code: err instanceof GatewayError ? err.code : null }, result: refused ? 'refused' : 'failed' }),
      );
      throw err;
    }
  };

  // ── MQTT bus, part 2: the broker listens before the poller starts, with the store's
  // latest values retained, so a subscriber gets every point at once.
  if (config.gateway.mqtt.enabled) {
    // An ephemeral HTTP port (tests, benches, `steward gateway` with http.port 0) means an ephemeral broker port too.
    const testPorts = (options.httpPort ?? config.gateway.http.port) === 0;
    try {
      broker = await Broker.start({
        site: config.site.id,
        config: config.gateway.mqtt,
        gatewayUsers: config.users,
        verifyPassword: (secret, password) => verifyPassword({ name: '', role: 'viewer', ...secret }, password),
        writePoint,
        log: log.child({ part: 'mqtt' }),
        ...(options.mqttPort !== undefined ? { port: options.mqttPort } : testPorts ? { port: 0 } : {}),
        ...(options.mqttTlsPort !== undefined ? { tlsPort: options.mqttTlsPort } : testPorts ? { tlsPort: 0 } : {}),
      });
    } catch (err) {
      clearInterval(flushTimer);
      clearTimeout(maintenanceTimer);
      store.close();
      throw err;
    }
    for (const row of store.latest()) broker.publishReadings(row.device, [{ point: row.point, ts: row.ts, value: row.value, quality: row.quality }]);
    for (const d of config.devices) broker.setDeviceState(d.id, poller.status(d.id)?.state ?? 'disabled');
  }
  // ── end MQTT bus, part 2

  const api = await buildApi(
    {
      site: config.site,
      devices: config.devices,
      store,
      deviceStatus: (id) => poller.status(id),
      syncStatus: () => (uplink === undefined ? undefined : { ...uplink.status(), ...(downlink === undefined ? {} : { downlink: downlink.status() }) }),
      counters: () => ({ ...(nodeRed === undefined ? counters : { ...counters, ...nodeRed.counters() }), ...broker?.metrics(), ...alarms.metrics(), ...ml?.metrics(), ...pointDetectors?.metrics() }),
      storeError,
      startedAt,
      version: VERSION,
      readAccess: config.gateway.http.readAccess,
      users: nodeRed === undefined ? config.users : [...config.users, nodeRed.apiUser],
      routes,
      sessions: new Sessions(loadSessionKey(config.gateway.dataDir)),
      snapshotFile: (device: string, file: string) => snapshots.path(device, file),
      workOrders: { service: workOrders, store: workOrderStore },
      live,
      writePoint,
    },
    log.child({ part: 'api' }),
  );
  const port = options.httpPort ?? config.gateway.http.port;
  await api.listen({ host: config.gateway.http.host, port });
  const address = api.server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const url = `http://${config.gateway.http.host.includes(':') ? `[${config.gateway.http.host}]` : config.gateway.http.host}:${actualPort}`;

  poller.start();
  alarms.start(); // delays, shelving expiry, stale rules
  uplink?.start();
  downlink?.start();
  // Node-RED after the API listens: its nodes log in to it.
  await nodeRed?.start({ gatewayUrl: url, ...(broker === undefined ? {} : { mqtt: broker.issueCredential(NODE_RED_USER, 'operator') }) });
  log.info({ url, devices: config.devices.length, cloud: config.cloud?.url ?? null }, 'gateway started');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      log.info('gateway stopping');
      await nodeRed?.stop();
      await poller.stop();
      await mlStarting; // ML: its worker thread ends
      await ml?.close();
      pointDetectors?.close();
      alarms.stop();
      clearInterval(flushTimer);
      clearTimeout(maintenanceTimer);
      flush();
      workOrderRules.stop();
      await downlink?.stop();
      await uplink?.stop();
      // What changed since the last snapshot is queued, so the cloud gets it after a restart.
      if (uplink !== undefined) guarded('final telemetry snapshot', () => uplink.snapshot());
      await broker?.close(); // MQTT bus: clients disconnected, bridge says offline
      await api.close();
      store.close();
      log.info('gateway stopped');
    })());

  return { config, url, api, store, poller, uplink, broker, downlink, maintenance, nodeRed, workOrders, alarms, flush, close };
}
