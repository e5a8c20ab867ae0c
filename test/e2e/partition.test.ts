/**
 * Partition: a gateway polling a simulated pump loses its cloud for a stretch — a TCP
 * proxy between its uplink and the cloud black-holes every connection (accepted, never
 * answered), then refuses them. The gateway goes on polling and recording; `/api/v1/sync`
 * says offline with a growing backlog. When the proxy passes again the backlog drains —
 * the alarms pending at reconnection are all acknowledged before any pending telemetry —
 * and the cloud ends with exactly what the gateway recorded.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, startCloud } from '../../cloud/src/index.js';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { startGateway } from '../../gateway/src/main.js';
import type { SyncStatus } from '../../gateway/src/sync/uplink.js';
import { LANES } from '../../protocol/v1.js';
import { startSimulator } from '../../scripts/sim/sim.js';
import { cloudHolds, until } from './failure-helpers.js';
import { TcpProxy } from './tcp-proxy.js';

function siteYaml(pumpPort: number, cloudUrl: string): string {
  // Small batches, so that the order of delivery after the partition shows in the acknowledgements.
  return `site: { id: part-site, name: Partition }
gateway: { dataDir: ./gw, logLevel: silent, store: { flushIntervalMs: 100 } }
cloud: { url: "${cloudUrl}", gatewayId: part-gw, enrolmentTokenEnv: PART_TOKEN, snapshotIntervalMs: 200, batchMaxItems: 4, requestTimeoutMs: 1000 }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 100, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${pumpPort}, timeoutMs: 300 } }
`;
}

t.test('the cloud black-holed, then refused: the gateway polls on, queues, and drains alarms first when the link is back', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-partition-'));
  const dbFile = path.join(dir, 'cloud.db');
  const cloud = await startCloud({ port: 0, database: dbFile });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'part-site', gateway: 'part-gw' });
  const proxy = await TcpProxy.start(Number(new URL(cloud.url).port));
  t.teardown(() => proxy.close());

  const file = path.join(dir, 'site.yaml');
  const env = { PART_TOKEN: token };
  writeFileSync(file, siteYaml(1, proxy.url));
  const sim = await startSimulator(loadSiteConfig(file, env), { ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, siteYaml(sim.devices[0]!.port, proxy.url));
  const gw = await startGateway(loadSiteConfig(file, env), { httpPort: 0, log: createLogger({ level: 'silent' }), uplink: { idleMs: 20, maxBackoffMs: 400 } });
  t.teardown(() => gw.close());
  const sync = async (): Promise<SyncStatus> => (await (await fetch(`${gw.url}/api/v1/sync`)).json()) as SyncStatus;
  const pumpTs = async (): Promise<number> => Math.max(...((await (await fetch(`${gw.url}/api/v1/points?device=pump-1`)).json()) as { ts: number }[]).map((p) => p.ts));

  await until('online and sending telemetry', async () => {
    const s = await sync();
    return s.online && s.lanes['2'].ackedSeq > 0;
  });

  // The partition: black hole first (the uplink learns only by its request timeout).
  proxy.setMode('blackhole');
  const polledBefore = await pumpTs();
  // An alarm engine is not built yet: the test records the alarms it would (lane 0).
  const alarms: string[] = [];
  const raise = (): void => {
    alarms.push(gw.store.recordEvent({ ts: Date.now(), device: 'pump-1', type: 'alarm.raised', severity: 'critical', body: { rule: 'outlet_pressure.low', n: alarms.length } }).id);
  };
  raise();
  // And the pump drops off its link for a while: device.offline / device.online (lane 1).
  sim.devices[0]!.faults.setFault('comms-loss', true);
  const first = await until('offline with a backlog', async () => {
    const s = await sync();
    return !s.online && s.lastError !== null && s.lanes['0'].backlog >= 1 ? s : undefined;
  });
  t.equal(first.lastError?.code, 'GW_ERR_SYNC_HTTP', 'the uplink timed out against the black hole');
  for (let i = 0; i < 5; i++) {
    raise();
    await new Promise((r) => setTimeout(r, 300));
    if (i === 1) sim.devices[0]!.faults.setFault('comms-loss', false);
  }

  // Then refused outright (the cloud's host reachable, nothing listening).
  proxy.setMode('refuse');
  for (let i = 0; i < 4; i++) {
    raise();
    await new Promise((r) => setTimeout(r, 300));
  }
  await until('the pump back online', async () => (await pumpTs()) > polledBefore + 1000);
  // Wait for what the partition must pile up (a busy machine takes a while): telemetry past
  // one batch, and the pump's return (device.online) in lane 1.
  const second = await until('telemetry and the pump\'s return queued', async () => {
    const s = await sync();
    return s.lanes['2'].backlog > Math.max(first.lanes['2'].backlog, 4) && s.lanes['1'].backlog >= 1 ? s : undefined;
  }, 30_000, 100);
  t.equal(second.online, false, 'still offline');
  t.ok(proxy.counters.blackholed >= 1 && proxy.counters.refused >= 1, `connections black-holed ${proxy.counters.blackholed}, refused ${proxy.counters.refused}`);
  t.equal(second.lanes['0'].backlog, alarms.length, `all ${alarms.length} alarms wait in lane 0`);
  t.ok(second.lanes['2'].backlog > first.lanes['2'].backlog, `the telemetry backlog grew (${first.lanes['2'].backlog} → ${second.lanes['2'].backlog})`);
  // device.offline may have slipped through before the black hole took the connection; device.online cannot have.
  const deviceEvents = (await (await fetch(`${gw.url}/api/v1/events?type=device.*&device=pump-1`)).json()) as { type: string }[];
  t.ok(deviceEvents.some((e) => e.type === 'device.offline') && deviceEvents.some((e) => e.type === 'device.online'), 'the pump went offline and came back');
  t.ok(second.lanes['1'].backlog >= 1, `device events wait in lane 1 (${second.lanes['1'].backlog})`);
  t.ok(second.lanes['0'].oldestMs >= 2500, `the oldest alarm has waited ${second.lanes['0'].oldestMs} ms`);
  t.ok((await pumpTs()) > polledBefore, 'the gateway kept polling during the partition');

  // Reconnect. Every acknowledgement from now on is recorded as the marks of lanes 0 and 2.
  const lane0Pending = gw.store.lane(0).lastSeq;
  // A telemetry batch the cloud committed as the partition began, its answer lost, is
  // already the cloud's: what counts as pending starts after the cloud's own mark.
  const lane2Acked = Math.max(gw.store.lane(2).ackedSeq, cloudHolds(dbFile, 'part-gw').marks[2] ?? 0);
  const lane2Pending = gw.store.lane(2).lastSeq;
  const acks: { lane0: number; lane2: number }[] = [];
  const ack = gw.store.ack.bind(gw.store);
  gw.store.ack = (lane, seq) => {
    ack(lane, seq);
    if (lane === 2) acks.push({ lane0: gw.store.lane(0).ackedSeq, lane2: gw.store.lane(2).ackedSeq });
  };
  proxy.setMode('pass');
  await until(
    'the backlog drained',
    () => gw.store.lane(0).ackedSeq === lane0Pending && gw.store.lane(1).ackedSeq === gw.store.lane(1).lastSeq && gw.store.lane(2).ackedSeq >= lane2Pending,
    20_000,
  );
  const firstTelemetry = acks.find((a) => a.lane2 > lane2Acked);
  t.ok(firstTelemetry !== undefined, 'telemetry was delivered');
  t.equal(firstTelemetry?.lane0, lane0Pending, `every pending alarm (${lane0Pending}) was acknowledged before the first pending telemetry item`);
  t.ok(lane2Pending - lane2Acked > 4, `more telemetry than one batch was pending (${lane2Pending - lane2Acked} items)`);
  const after = await until('online again', async () => {
    const s = await sync();
    return s.online ? s : undefined;
  });
  t.equal(after.lanes['0'].backlog, 0);

  // Nothing is missing: stop the gateway (its last snapshot stays queued), compare with the cloud.
  await gw.close();
  const { default: Database } = await import('better-sqlite3');
  const gdb = new Database(path.join(dir, 'gw', 'gateway.db'), { readonly: true });
  const recorded = (gdb.prepare('SELECT id FROM events ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  const lanes = gdb.prepare('SELECT lane, acked_seq AS acked FROM lanes ORDER BY lane').all() as { lane: number; acked: number }[];
  gdb.close();
  const held = cloudHolds(dbFile, 'part-gw');
  for (const l of LANES) {
    const acked = lanes[l]!.acked;
    t.same(held.lanes[l], { rows: acked, distinctIds: acked, minSeq: 1, maxSeq: acked }, `lane ${l}: the cloud holds items 1..${acked}, each once`);
    t.equal(held.marks[l], acked, `lane ${l}: the cloud's mark is the gateway's`);
  }
  t.ok(alarms.every((id) => held.eventIds.includes(id)), `all ${alarms.length} alarms are in the cloud`);
  t.same(held.eventIds, recorded, `the cloud has exactly the ${recorded.length} events the gateway recorded`);
});
