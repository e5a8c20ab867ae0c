/**
 * Shared by the Modbus driver tests: the all-types test profile, a device config around
 * it, and a minimal block planner (the poller's job in production).
 */
import { fileURLToPath } from 'node:url';
import { loadProfileFile } from '../../src/config.js';
import type { DeviceConfig } from '../../src/core/config/load.js';
import type { DeviceProfile, PointSpec } from '../../src/core/config/profile.js';
import { createLogger } from '../../src/core/logger.js';
import type { Driver, ReadBlock } from '../../src/drivers/driver.js';

export const ALL_TYPES_PROFILE = fileURLToPath(new URL('../fixtures/modbus-all-types.yaml', import.meta.url));
export const PUMP_PROFILE = fileURLToPath(new URL('../../../device-profiles/water/vfd-pump.yaml', import.meta.url));

export const silentLog = createLogger({ level: 'silent' });

export function loadAllTypes(): DeviceProfile {
  return loadProfileFile(ALL_TYPES_PROFILE);
}

export function deviceConfig(profile: DeviceProfile, connection: Record<string, unknown> & { protocol: string }, id = 'dut'): DeviceConfig {
  return { id, profileRef: profile.file, profile, system: 'other', pollIntervalMs: 1000, enabled: true, connection: { unitId: 1, timeoutMs: 500, ...connection } };
}

/** Coalesces points into blocks per space, each within the driver's limits (gaps up to maxGap are read through). */
export function planBlocks(driver: Driver, points: readonly PointSpec[]): ReadBlock[] {
  const located = points.map((spec) => ({ spec, at: driver.locate(spec) })).sort((a, b) => (a.at.space < b.at.space ? -1 : a.at.space > b.at.space ? 1 : a.at.start - b.at.start));
  const blocks: ReadBlock[] = [];
  let cur: { space: string; start: number; end: number; points: typeof located } | undefined;
  const flush = () => {
    if (cur !== undefined) blocks.push({ space: cur.space, start: cur.start, count: cur.end - cur.start, points: cur.points });
  };
  for (const p of located) {
    const { maxCount, maxGap } = driver.limits(p.at.space);
    const end = p.at.start + p.at.count;
    if (cur !== undefined && cur.space === p.at.space && p.at.start - cur.end <= maxGap && Math.max(end, cur.end) - cur.start <= maxCount) {
      cur.end = Math.max(cur.end, end);
      cur.points.push(p);
    } else {
      flush();
      cur = { space: p.at.space, start: p.at.start, end, points: [p] };
    }
  }
  flush();
  return blocks;
}

/** Reads every point in planned blocks; returns name → value (throws on a failed point). */
export async function readAll(driver: Driver, points: readonly PointSpec[]): Promise<Map<string, number | boolean | string>> {
  const out = new Map<string, number | boolean | string>();
  for (const block of planBlocks(driver, points)) {
    const results = await driver.read(block);
    results.forEach((r, i) => {
      const name = block.points[i]!.spec.name;
      if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
      out.set(name, r.value);
    });
  }
  return out;
}
