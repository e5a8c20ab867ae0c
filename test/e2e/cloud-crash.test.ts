/**
 * Cloud crash mid-batch: the cloud is a real process (`steward cloud --port P --database
 * FILE`) and is killed with SIGKILL while an uplink batch is in flight — the moment a TCP
 * proxy in front of it sees the batch's request line, or a few milliseconds later (the
 * body arriving, the transaction open) — three times, then restarted on the same port and
 * database. The gateway keeps recording events all along. In the end the cloud's
 * database holds every item once, each lane 1..N without a hole, and every event.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, openCloudDatabase } from '../../cloud/src/index.js';
import type { SiteConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import { Uplink } from '../../gateway/src/sync/uplink.js';
import { LANES } from '../../protocol/v1.js';
import { cloudHolds, freePort, until } from './failure-helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const bin = path.resolve('bin/steward.js');
/** Each life of the cloud ends on its n-th batch request, this long after the request line arrived. */
const KILLS = [
  { batch: 2, delayMs: 0 },
  { batch: 1, delayMs: 5 },
  { batch: 3, delayMs: 20 },
];

/** Starts the cloud process and resolves once it listens. */
function startCloudProcess(port: number, database: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [bin, 'cloud', '--port', String(port), '--database', database, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening on')) resolve(proc);
    });
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    proc.once('exit', (code, signal) => reject(new Error(`cloud exited (${code ?? signal}) before listening: ${out}`)));
  });
}

function exited(proc: ChildProcess): Promise<void> {
  return new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
}

t.test(`the cloud SIGKILLed ${KILLS.length} times mid-batch: every item stored once, lanes unbroken`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-cloud-crash-'));
  const dbFile = path.join(dir, 'cloud.db');
  const cdb = await openCloudDatabase(dbFile);
  const token = await addGateway(cdb, { site: 'site-1', gateway: 'gw-1' });
  await cdb.close();

  const port = await freePort();
  let cloud = await startCloudProcess(port, dbFile);
  t.teardown(() => cloud.kill('SIGKILL'));
  const proxy = await TcpProxy.start(port);
  t.teardown(() => proxy.close());

  // A backlog to start with (lanes 0, 1 and 2), and more events while the cloud crashes.
  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: 'site-1' });
  t.teardown(() => store.close());
  const recorded: string[] = [];
  let n = 0;
  const record = (): void => {
    recorded.push(store.recordEvent({ ts: 1_700_000_000_000 + n, device: 'door-1', type: n % 5 === 0 ? 'alarm.raised' : 'access.granted', severity: 'major', body: { n } }).id);
    if (n % 20 === 0) {
      store.writeReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 1_700_000_000_000 + n, value: n, quality: 'good' }]);
      store.queueTelemetrySnapshot(1_700_000_000_000 + n);
    }
    n++;
  };
  for (let i = 0; i < 1500; i++) record();
  const feed = setInterval(record, 10);
  t.teardown(() => clearInterval(feed));

  // Kill on the chosen batch request of each life (the enrolment and check-ins are not
  // batches). Only a live cloud's requests count: attempts while it is down reach nothing.
  let batches = 0;
  let armed = true;
  const killed: Promise<void>[] = [];
  proxy.onRequest = (method, url) => {
    if (!armed || method !== 'POST' || !url.endsWith('/batches')) return;
    batches++;
    const plan = KILLS[killed.length];
    if (plan === undefined || batches < plan.batch) return;
    armed = false;
    const victim = cloud;
    killed.push(
      new Promise<void>((r) => setTimeout(r, plan.delayMs)).then(async () => {
        victim.kill('SIGKILL');
        await exited(victim);
      }),
    );
  };

  const cloudCfg: NonNullable<SiteConfig['cloud']> = { url: proxy.url, gatewayId: 'gw-1', enrolmentTokenValue: token, snapshotIntervalMs: 60_000, batchMaxItems: 100, requestTimeoutMs: 2000, downlinkWaitMs: 1000, maxClockSkewMs: 10_000 };
  const uplink = new Uplink({ store, cloud: cloudCfg, site: 'site-1', dataDir: path.join(dir, 'gw'), log: createLogger({ level: 'silent' }), idleMs: 20, maxBackoffMs: 300 });
  uplink.start();
  t.teardown(() => uplink.stop());

  for (let k = 0; k < KILLS.length; k++) {
    await until(`kill ${k + 1}`, () => killed.length > k);
    await killed[k];
    await new Promise((r) => setTimeout(r, 200)); // down for a moment: the gateway meets refused connections
    t.equal(uplink.status().online, false, `kill ${k + 1}: the gateway sees the cloud gone`);
    cloud = await startCloudProcess(port, dbFile);
    batches = 0;
    armed = true;
  }

  clearInterval(feed);
  const total = await until('everything acknowledged', () => {
    const marks = LANES.map((l) => store.lane(l));
    return marks.every((m) => m.ackedSeq === m.lastSeq) ? marks.map((m) => m.lastSeq) : undefined;
  });
  t.ok(uplink.status().counters.failures >= KILLS.length, `${uplink.status().counters.failures} failed attempts, at least one per kill`);
  cloud.kill('SIGTERM');
  await exited(cloud);

  const held = cloudHolds(dbFile, 'gw-1');
  for (const l of LANES) {
    t.same(held.lanes[l], { rows: total[l], distinctIds: total[l], minSeq: 1, maxSeq: total[l] }, `lane ${l}: items 1..${total[l]!}, each once`);
    t.equal(held.marks[l], total[l], `lane ${l}: the cloud's mark is the gateway's`);
  }
  t.equal(held.eventIds.length, recorded.length, `${recorded.length} events recorded, as many in the cloud`);
  t.same(held.eventIds, [...recorded].sort(), 'the cloud has exactly the recorded events, once each');
});
