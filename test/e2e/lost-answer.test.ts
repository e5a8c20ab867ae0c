/**
 * Lost answer: the cloud stores a batch and answers, but the answer never reaches the
 * gateway (a TCP proxy closes the gateway's connection as the answer starts). The
 * gateway cannot tell this from a batch that never arrived, so it sends the batch again;
 * the cloud recognises the replay, counts its items as duplicates and changes nothing.
 * In the end every item is stored once and both sides agree on every lane's mark.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { addGateway, startCloud } from '../../cloud/src/index.js';
import type { SiteConfig } from '../../gateway/src/core/config/load.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import { Uplink } from '../../gateway/src/sync/uplink.js';
import { LANES } from '../../protocol/v1.js';
import { cloudHolds, counter, until } from './failure-helpers.js';
import { TcpProxy } from './tcp-proxy.js';

const DROPS = 3;
const BATCH = 20;

t.test(`${DROPS} lost answers: the gateway resends, the cloud counts duplicates, every item is stored once`, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-lost-answer-'));
  const dbFile = path.join(dir, 'cloud.db');
  const cloud = await startCloud({ port: 0, database: dbFile });
  t.teardown(() => cloud.close());
  const token = await addGateway(cloud.app, { site: 'site-1', gateway: 'gw-1' });
  const proxy = await TcpProxy.start(Number(new URL(cloud.url).port));
  t.teardown(() => proxy.close());

  // A backlog across the three lanes: alarms, other events, telemetry snapshots.
  const store = new GatewayStore({ dataDir: path.join(dir, 'gw'), site: 'site-1' });
  t.teardown(() => store.close());
  const recorded: string[] = [];
  for (let i = 0; i < 120; i++) {
    recorded.push(store.recordEvent({ ts: 1_700_000_000_000 + i, device: 'pump-1', type: i % 4 === 0 ? 'alarm.raised' : 'device.online', severity: 'major', body: { n: i } }).id);
    if (i % 10 === 0) {
      store.writeReadings('pump-1', [{ point: 'pump-1.outlet_pressure', ts: 1_700_000_000_000 + i, value: i / 10, quality: 'good' }]);
      store.queueTelemetrySnapshot(1_700_000_000_000 + i);
    }
  }
  const total = LANES.map((l) => store.lane(l).lastSeq);
  t.same(total, [30, 90, 12], 'the backlog: 30 alarms, 90 events, 12 telemetry items');

  // The first DROPS batches' answers are lost (the enrolment's is not: it is not a batch).
  proxy.dropAnswers(DROPS);
  const cloudCfg: NonNullable<SiteConfig['cloud']> = { url: proxy.url, gatewayId: 'gw-1', enrolmentTokenValue: token, snapshotIntervalMs: 60_000, batchMaxItems: BATCH, requestTimeoutMs: 2000, downlinkWaitMs: 1000, maxClockSkewMs: 10_000 };
  const uplink = new Uplink({ store, cloud: cloudCfg, site: 'site-1', dataDir: path.join(dir, 'gw'), log: createLogger({ level: 'silent' }), idleMs: 20, maxBackoffMs: 100 });
  uplink.start();
  t.teardown(() => uplink.stop());

  await until('everything acknowledged', () => LANES.every((l, i) => store.lane(l).ackedSeq === total[i]));
  t.equal(proxy.counters.answersDropped, DROPS, `${DROPS} answers lost on the way`);
  t.equal(uplink.status().counters.failures, DROPS, 'each lost answer was one failed attempt for the gateway');

  // The cloud saw every lost batch twice: the second time as duplicates only.
  const metrics = await (await fetch(`${cloud.url}/metrics`)).text();
  t.equal(counter(metrics, 'steward_cloud_items_duplicate_total'), DROPS * BATCH, `the ${DROPS} resent batches (${BATCH} items each) counted as duplicates`);
  t.equal(counter(metrics, 'steward_cloud_items_accepted_total'), total[0]! + total[1]! + total[2]!, 'each item accepted once');

  // What the cloud's database holds: each lane 1..N, once each; the marks are the gateway's.
  const held = cloudHolds(dbFile, 'gw-1');
  for (const l of LANES) {
    t.same(held.lanes[l], { rows: total[l], distinctIds: total[l], minSeq: 1, maxSeq: total[l] }, `lane ${l}: items 1..${total[l]!}, each once`);
    t.equal(held.marks[l], store.lane(l).ackedSeq, `lane ${l}: the cloud's mark is the gateway's`);
  }
  t.same(held.eventIds, [...recorded].sort(), 'the cloud has exactly the recorded events, once each');
  t.same(store.peek(0, 10).length + store.peek(1, 10).length + store.peek(2, 10).length, 0, 'the outbox is empty');
});
