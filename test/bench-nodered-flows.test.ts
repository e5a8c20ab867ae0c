// The Node-RED flows of `bench poll-vs-nodered`: read nodes of the asked block size, at the
// asked rate (whole seconds as 's', anything else in node-red-contrib-modbus's 'ms' unit).
import t from 'tap';
import { flows } from '../scripts/bench/poll-vs-nodered.js';

type Node = Record<string, unknown> & { id: string; type: string };
const reads = (nodes: Node[]) => nodes.filter((n) => n.type === 'modbus-read');

t.test('the typical flow: one read node per 10-register block per device, every second', async (t) => {
  const nodes = flows([5020, 5021], 10, false) as Node[];
  const r = reads(nodes);
  t.equal(r.length, 2 * 20);
  t.same(new Set(r.map((n) => `${String(n.rate)} ${String(n.rateUnit)}`)), new Set(['1 s']));
  t.same(r.slice(0, 3).map((n) => [n.adr, n.quantity]), [['0', '10'], ['10', '10'], ['20', '10']]);
  const clients = nodes.filter((n) => n.type === 'modbus-client');
  t.same(clients.map((c) => [c.tcpPort, c.parallelUnitIdsAllowed]), [['5020', true], ['5021', true]]);
});

t.test('the tuned flow every 100 ms: 120-register reads in the ms unit', async (t) => {
  const r = reads(flows([5020], 120, true, 100) as Node[]);
  t.same(r.map((n) => [n.adr, n.quantity, n.rate, n.rateUnit]), [['0', '120', '100', 'ms'], ['120', '80', '100', 'ms']]);
});

t.test('whole seconds stay in seconds', async (t) => {
  const r = reads(flows([5020], 120, true, 5000) as Node[]);
  t.same(new Set(r.map((n) => `${String(n.rate)} ${String(n.rateUnit)}`)), new Set(['5 s']));
});
