/**
 * Read coalescing: points of one address space that lie close together are read in
 * one request, as long as the request stays within the device's limit and skips no
 * more than `maxGap` unused units. Protocol-neutral: the driver says where each point
 * lives (Location) and what its limits are; this decides the requests.
 */
import type { PointSpec } from '../core/config/profile.js';
import type { Driver, Location, ReadBlock } from '../drivers/driver.js';

/** Plans the fewest reads that cover `points`, in address order per space. */
export function planReads(points: readonly PointSpec[], driver: Pick<Driver, 'locate' | 'limits'>): ReadBlock[] {
  const bySpace = new Map<string, { spec: PointSpec; at: Location }[]>();
  for (const spec of points) {
    const at = driver.locate(spec);
    let list = bySpace.get(at.space);
    if (list === undefined) bySpace.set(at.space, (list = []));
    list.push({ spec, at });
  }
  const blocks: ReadBlock[] = [];
  for (const [space, list] of bySpace) {
    list.sort((a, b) => a.at.start - b.at.start || b.at.count - a.at.count);
    const { maxCount, maxGap } = driver.limits(space);
    let current: { start: number; end: number; points: { spec: PointSpec; at: Location }[] } | undefined;
    for (const p of list) {
      const end = p.at.start + p.at.count; // exclusive
      if (current !== undefined) {
        const gap = p.at.start - current.end;
        const newEnd = Math.max(current.end, end);
        if (gap <= maxGap && newEnd - current.start <= maxCount) {
          current.end = newEnd;
          current.points.push(p);
          continue;
        }
        blocks.push({ space, start: current.start, count: current.end - current.start, points: current.points });
      }
      current = { start: p.at.start, end, points: [p] };
    }
    if (current !== undefined) blocks.push({ space, start: current.start, count: current.end - current.start, points: current.points });
  }
  return blocks;
}
