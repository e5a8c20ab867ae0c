/**
 * The driver contract (gateway/src/drivers/driver.ts), one suite for every driver against
 * its simulator (CONVENTIONS §9): connect; locate and limits that the coalescer can use;
 * one result per point for a planned read; a write that reads back; subscriptions that
 * answer; an unreachable device as a retryable GatewayError; close that is idempotent.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startCommunity } from '../../../scripts/sim/community.js';
import { loadSiteConfig } from '../../src/config.js';
import type { DeviceConfig } from '../../src/core/config/load.js';
import { GatewayError, isRetryable } from '../../src/core/errors.js';
import { createLogger } from '../../src/core/logger.js';
import type { Driver, DriverSink } from '../../src/drivers/driver.js';
import { createDriver, loadDrivers } from '../../src/drivers/registry.js';
import { planReads } from '../../src/poller/coalesce.js';

await loadDrivers(['modbus', 'bacnet', 'onvif']); // drivers are loaded on demand (drivers/registry.ts)

interface Case {
  readonly name: string;
  /** A site.yaml device line, `PORT` replaced by the simulator's. */
  readonly device: (port: number) => string;
  /** A writable point and a value to write (raw), read back the same. */
  readonly write?: { readonly point: string; readonly value: number | boolean };
}

const cases: Case[] = [
  {
    name: 'modbus-tcp',
    device: (port) => `{ id: dev-1, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port}, timeoutMs: 500 } }`,
    write: { point: 'pressure_setpoint', value: 520 }, // raw: 5.2 bar at scale 0.01
  },
  {
    name: 'bacnet-ip',
    device: (port) => `{ id: dev-1, profile: hvac/ahu, system: hvac, connection: { protocol: bacnet-ip, host: 127.0.0.1, port: ${port}, deviceInstance: 4001, timeoutMs: 500 } }`,
    write: { point: 'supply_air_setpoint', value: 17.5 },
  },
  {
    name: 'onvif',
    device: (port) =>
      `{ id: dev-1, profile: access/onvif-door, system: access, connection: { protocol: onvif, url: "http://127.0.0.1:${port}", username: admin, passwordEnv: DEV_PASSWORD, timeoutMs: 1000, pullTimeoutS: 1 } }`,
  },
];

const log = createLogger({ level: 'silent' });
const env = { DEV_PASSWORD: 'contract-pass-1' };

function siteFile(c: Case, port: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-contract-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, `site: { id: s, name: S }\ndevices:\n  - ${c.device(port)}\n`);
  return file;
}

const sink = (): DriverSink & { values: string[]; events: string[] } => {
  const values: string[] = [];
  const events: string[] = [];
  return { values, events, value: (name) => values.push(name), event: (e) => events.push(e.type), lost: () => undefined };
};

for (const c of cases) {
  t.test(`${c.name}: the driver contract against its simulator`, async (t) => {
    const first = siteFile(c, 1);
    const sim = await startCommunity(loadSiteConfig(first, env), { ports: { 'dev-1': 0 } });
    t.teardown(() => sim.close());
    const device: DeviceConfig = loadSiteConfig(siteFile(c, sim.devices[0]!.port), env).devices[0]!;
    const driver: Driver = createDriver(device, log);
    t.teardown(() => driver.close());

    t.equal(driver.isConnected(), false, 'not connected before connect()');
    await driver.connect();
    t.equal(driver.isConnected(), true, 'connected');
    t.type(driver.linkKey, 'string');

    // locate/limits are pure and consistent; the coalescer covers every point once.
    const points = device.profile.points;
    for (const p of points) t.same(driver.locate(p), driver.locate(p), `locate(${p.name}) is stable`);
    const blocks = planReads(points, driver);
    t.equal(blocks.flatMap((b) => b.points).length, points.length, 'every point in exactly one planned read');
    for (const b of blocks) t.ok(b.count <= driver.limits(b.space).maxCount, `a read of ${b.count} within the limit of ${b.space}`);

    // One result per point, in order; values of the point's kind.
    for (const b of blocks) {
      const results = await driver.read(b);
      t.equal(results.length, b.points.length, `${b.space}: one result per point`);
      b.points.forEach((p, i) => {
        const r = results[i]!;
        if (r.ok) t.ok(['number', 'boolean', 'string'].includes(typeof r.value), `${p.spec.name}: a raw value`);
        else t.ok(r.error instanceof Error, `${p.spec.name}: a reason`);
      });
    }

    if (c.write !== undefined) {
      const spec = points.find((p) => p.name === c.write!.point)!;
      await driver.write(spec, c.write.value);
      const block = planReads([spec], driver)[0]!;
      const [back] = await driver.read(block);
      t.ok(back?.ok, 'read back after the write');
      if (back?.ok === true) t.ok(Math.abs(Number(back.value) - Number(c.write.value)) < 1e-3, `${spec.name} reads back ${String(back.value)}`);
    }

    if (driver.subscribe !== undefined) {
      const pushed = await driver.subscribe(points, sink());
      t.ok(Array.isArray(pushed), 'subscribe answers the points it pushes');
      t.ok(pushed.every((n) => points.some((p) => p.name === n)), 'only points of the profile');
    }

    await driver.close();
    t.equal(driver.isConnected(), false, 'closed');
    await driver.close();
    t.pass('close() twice is fine');
  });

  t.test(`${c.name}: an unreachable device is a retryable GatewayError`, async (t) => {
    // A port nobody listens on (the simulator's, after it stopped).
    const sim = await startCommunity(loadSiteConfig(siteFile(c, 1), env), { ports: { 'dev-1': 0 } });
    const port = sim.devices[0]!.port;
    await sim.close();
    const driver = createDriver(loadSiteConfig(siteFile(c, port), env).devices[0]!, log);
    t.teardown(() => driver.close());
    const started = Date.now();
    const err = await driver.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof GatewayError, `a GatewayError: ${String((err as Error | undefined)?.message)}`);
    if (err instanceof GatewayError) t.ok(isRetryable(err.kind), `kind ${err.kind} is retried with backoff`);
    t.ok(Date.now() - started < 5000, 'within the timeout');
  });
}
