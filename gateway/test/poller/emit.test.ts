/**
 * What a poll cycle hands the sink (device-poller.ts `emit`): the readings that passed report
 * by exception and their points' slots, in arrays of their own. They are filled in scratch
 * arrays the poller keeps and copied out (so that V8 has no allocation site to move them to
 * the old generation, points.ts `PolledReading`); a sink that keeps a cycle's arrays must
 * find them as they were after the next cycles, and never see another cycle's readings.
 */
import t from 'tap';
import { loadProfileFile } from '../../src/config.js';
import { pointSlot, type Reading } from '../../src/core/model.js';
import type { Driver, PointResult, ReadBlock } from '../../src/drivers/driver.js';
import { DevicePoller } from '../../src/poller/device-poller.js';
import { LinkQueue } from '../../src/poller/link-queue.js';
import { deviceConfig, PUMP_PROFILE, silentLog } from '../drivers/modbus-fixture.js';

/** Every point on a register of its own; each read gives every numeric point a new value, so that every point passes its deadband. */
function countingDriver(): Driver & { reads: number } {
  let index = new Map<string, number>();
  const driver = {
    protocol: 'fake',
    linkKey: `fake-${Math.random()}`,
    reads: 0,
    connect: async () => undefined,
    isConnected: () => true,
    locate(point: { name: string }) {
      if (!index.has(point.name)) index = new Map([...index, [point.name, index.size]]);
      return { space: 'hr', start: index.get(point.name)!, count: 1 };
    },
    limits: () => ({ maxCount: 10_000, maxGap: 0 }),
    async read(block: ReadBlock): Promise<PointResult[]> {
      driver.reads++;
      return block.points.map((p) => ({ ok: true, value: p.spec.type === 'bool' || p.spec.type === 'bits' ? driver.reads % 2 === 0 : (driver.reads * 1000 + p.at.start) * 7 }));
    },
    write: async () => undefined,
    close: async () => undefined,
  };
  return driver;
}

t.test('each cycle hands over arrays of its own, unchanged by the cycles after it', async (t) => {
  const profile = loadProfileFile(PUMP_PROFILE);
  const device = { ...deviceConfig(profile, { protocol: 'fake' }, 'emit-dev'), pollIntervalMs: 100 };
  const driver = countingDriver();
  const got: { readings: Reading[]; slots: readonly number[]; copy: string }[] = [];
  const poller = new DevicePoller(
    device,
    driver,
    new LinkQueue(driver.linkKey),
    {
      readings(_device, readings, slots) {
        got.push({ readings, slots, copy: JSON.stringify({ readings, slots }) });
      },
      event: () => undefined,
    },
    silentLog,
  );
  poller.start();
  const end = Date.now() + 5000;
  while (got.length < 4 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  await poller.stop();
  t.ok(got.length >= 4, `${got.length} cycles handed over`);
  for (const [c, g] of got.entries()) {
    t.ok(g.readings.length > 0, `cycle ${c}: readings`);
    t.equal(g.slots.length, g.readings.length, `cycle ${c}: one slot per reading`);
    t.ok(
      g.readings.every((r, k) => r !== undefined && r.point.startsWith('emit-dev.') && pointSlot(r.point) === g.slots[k]),
      `cycle ${c}: every reading there, with its own point's slot`,
    );
    t.equal(JSON.stringify({ readings: g.readings, slots: g.slots }), g.copy, `cycle ${c}: as handed over, after the cycles that followed`);
    t.same(Object.keys(g.readings[0]!).sort(), ['point', 'quality', 'ts', 'value'], `cycle ${c}: a reading's fields`);
  }
  const first = new Set(got[0]!.readings);
  t.ok(
    got.slice(1).every((g) => g.readings.every((r) => !first.has(r))),
    'no reading object is handed over twice',
  );
  t.ok(got[1]!.readings[0]!.ts > got[0]!.readings[0]!.ts, 'a later cycle, later readings');
});
