/**
 * Where in its cycle each device starts (Poller.start): devices with a link of their own
 * in at most START_GROUPS groups spread evenly; devices sharing a link each at a moment
 * of their own.
 */
import t from 'tap';
import { START_GROUPS, startPhases } from '../../src/poller/poller.js';

const tcp = (n: number) => Array.from({ length: n }, (_, i) => `tcp://10.0.0.${i + 1}:502`);

t.test('50 devices on links of their own: 10 groups of 5, 0.1 of a cycle apart', async (t) => {
  const phases = startPhases(tcp(50));
  t.equal(START_GROUPS, 10);
  t.equal(new Set(phases).size, 10, 'ten distinct moments');
  for (let g = 0; g < 10; g++) t.equal(phases.filter((p) => p === g / 10).length, 5, `group ${g} holds five devices`);
  t.ok(phases.every((p) => p >= 0 && p < 1));
});

t.test('fewer devices than groups: each its own moment, evenly spread', async (t) => {
  t.same(startPhases(tcp(4)), [0, 0.25, 0.5, 0.75]);
  t.same(startPhases(tcp(1)), [0]);
  t.same(startPhases([]), []);
});

t.test('devices sharing a link (a serial bus) keep moments of their own', async (t) => {
  const links = [...tcp(18), 'rtu:///dev/ttyS0', 'rtu:///dev/ttyS0'];
  const phases = startPhases(links);
  t.equal(phases[18], 18 / 20);
  t.equal(phases[19], 19 / 20);
  t.not(phases[18], phases[19], 'the two on the bus are not due together');
  t.same(phases.slice(0, 18), [0, 0, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.6, 0.6, 0.7, 0.7, 0.8, 0.8], 'the others in groups of two');
});

t.test('the group count is a ceiling, never below one', async (t) => {
  t.same(startPhases(tcp(6), 2), [0, 0, 0, 0.5, 0.5, 0.5]);
  t.same(startPhases(tcp(3), 0), [0, 0, 0]);
});
