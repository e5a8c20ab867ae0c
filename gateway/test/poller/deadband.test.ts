/**
 * Report by exception: readings inside a point's deadband are not stored, unless the
 * quality changes or the point has been silent too long.
 */
import t from 'tap';
import type { PointSpec } from '../../src/core/config/profile.js';
import type { Reading } from '../../src/core/model.js';
import { DeadbandFilter, deadbandOf } from '../../src/poller/deadband.js';

const spec = (extra: Partial<PointSpec>): PointSpec => ({ name: 'p', type: 'float32', scale: 1, offset: 0, access: 'r', ...extra }) as PointSpec;
const r = (value: Reading['value'], ts: number, quality: Reading['quality'] = 'good'): Reading => ({ point: 'd.p', value, ts, quality });

t.test('no deadband: every reading passes, numbers and others alike', async (t) => {
  const f = new DeadbandFilter();
  const p = spec({});
  t.same([r(1, 0), r(1, 1), r(1, 2)].map((x) => f.pass(p, x)), [true, true, true]);
  const b = spec({ name: 'b', type: 'bool' });
  t.same([true, true, true].map((v, i) => f.pass(b, { ...r(v, i), point: 'd.b' })), [true, true, true]);
});

t.test('absolute deadband: small moves are dropped, a bigger one passes, measured from the last stored value', async (t) => {
  const f = new DeadbandFilter();
  const p = spec({ deadband: 0.5 });
  t.same([r(10, 0), r(10.3, 1), r(10.5, 2), r(10.6, 3), r(10.9, 4), r(11.2, 5)].map((x) => f.pass(p, x)), [true, false, false, true, false, true]);
});

t.test('percent deadband is of the range span, else of the value', async (t) => {
  t.equal(deadbandOf(spec({ deadbandPercent: 1, range: [0, 16] }), 5), 0.16);
  t.equal(deadbandOf(spec({ deadbandPercent: 10 }), -50), 5);
  t.equal(deadbandOf(spec({}), 5), undefined);
});

t.test('quality changes and long silences always pass; non-numbers pass when they change', async (t) => {
  const f = new DeadbandFilter();
  const p = spec({ deadband: 100, maxSilenceMs: 1000 });
  t.same([r(1, 0), r(1, 10, 'stale'), r(1, 20, 'stale'), r(1, 1100, 'stale')].map((x) => f.pass(p, x)), [true, true, false, true]);
  const b = spec({ type: 'bool', deadband: 1 });
  const g = new DeadbandFilter();
  t.same([r(true, 0), r(true, 1), r(false, 2)].map((x) => g.pass(b, x)), [true, false, true]);
});
