/**
 * Read coalescing: adjacent points become one request within the device's limits.
 */
import t from 'tap';
import type { PointSpec } from '../../src/core/config/profile.js';
import { planReads } from '../../src/poller/coalesce.js';

const point = (name: string, register: number, type: PointSpec['type'] = 'uint16', table = 'holding'): PointSpec =>
  ({ name, type, address: { table, register }, scale: 1, offset: 0, access: 'r' }) as PointSpec;
const size = (p: PointSpec) => (p.type === 'float32' ? 2 : p.type === 'float64' ? 4 : 1);
const driver = (maxCount: number, maxGap: number) => ({
  locate: (p: PointSpec) => {
    const a = p.address as { table: string; register: number };
    return { space: `1/${a.table}`, start: a.register, count: size(p) };
  },
  limits: () => ({ maxCount, maxGap }),
});
const shape = (blocks: ReturnType<typeof planReads>) => blocks.map((b) => [b.space, b.start, b.count, b.points.map((p) => p.spec.name)]);

t.test('neighbours and small gaps are read together', async (t) => {
  const points = [point('c', 4, 'float32'), point('a', 0, 'float32'), point('b', 2)];
  t.same(shape(planReads(points, driver(120, 8))), [['1/holding', 0, 6, ['a', 'b', 'c']]]);
});

t.test('a gap wider than maxGap splits the read', async (t) => {
  const points = [point('a', 0), point('b', 9), point('c', 30)];
  t.same(shape(planReads(points, driver(120, 8))), [['1/holding', 0, 10, ['a', 'b']], ['1/holding', 30, 1, ['c']]]);
  t.same(shape(planReads(points, driver(120, 0))).length, 3, 'maxGap 0 reads only touching registers together');
});

t.test('no request exceeds the device limit', async (t) => {
  const points = Array.from({ length: 300 }, (_, i) => point(`p${i}`, i));
  const blocks = planReads(points, driver(125, 8));
  t.same(blocks.map((b) => b.count), [125, 125, 50]);
  t.equal(blocks.flatMap((b) => b.points).length, 300, 'every point is read once');
});

t.test('different tables are never mixed', async (t) => {
  const blocks = planReads([point('a', 0), point('b', 1, 'uint16', 'input')], driver(120, 8));
  t.same(shape(blocks), [['1/holding', 0, 1, ['a']], ['1/input', 1, 1, ['b']]]);
});

t.test('points sharing a register (bits) share the read', async (t) => {
  const bits = [0, 1, 2].map((b) => ({ ...point(`bit${b}`, 12, 'bits'), address: { table: 'holding', register: 12, bit: b } }) as PointSpec);
  t.same(shape(planReads(bits, driver(120, 8))), [['1/holding', 12, 1, ['bit0', 'bit1', 'bit2']]]);
});
