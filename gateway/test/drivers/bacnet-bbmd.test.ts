/**
 * Foreign-device registration (ASHRAE 135 Annex J.5.2) against a BBMD stand-in on
 * 127.0.0.1 (scripts/sim/bacnet/bbmd.ts), whose "subnet" is one simulated device reached
 * by unicast: the gateway registers with its TTL and gets a BVLC-Result, registers again
 * before the entry ends, and its Who-Is goes through the BBMD as
 * Distribute-Broadcast-To-Network and reaches the device, whose I-Am comes back as a
 * Forwarded-NPDU. A BBMD that refuses the registration does not stop unicast reads.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BbmdStandIn } from '../../../scripts/sim/bacnet/bbmd.js';
import { bacnetSite, startRig, until } from './bacnet-fixture.js';

const ALL_TYPES = fileURLToPath(new URL('../fixtures/bacnet-all-types.yaml', import.meta.url));
const STILL = { tickMs: 60_000 };

async function rigWithBbmd(t: Parameters<typeof startRig>[0], deviceInstance: number, refuse = false) {
  // graceS 0: the BBMD's entry ends exactly at the TTL, so a late re-registration shows as a lapse.
  const bbmd = await BbmdStandIn.start({ host: '127.0.0.1', port: 0, refuse, graceS: 0 });
  t.teardown(() => bbmd.close());
  const rig = await startRig(t, [{ id: 'dut', profile: ALL_TYPES, deviceInstance, connection: { bbmd: { host: '127.0.0.1', port: bbmd.port } } }], STILL);
  const sim = rig.sim.devices[0]!;
  bbmd.subnet.add(`127.0.0.1:${sim.port}`);
  return { bbmd, rig, sim };
}

t.test('registers with the BBMD, re-registers before the TTL ends, discovers through it', async (t) => {
  const { bbmd, rig, sim } = await rigWithBbmd(t, 1901);
  const ttlS = 3;
  const driver = rig.driver('dut', { bbmd: { host: '127.0.0.1', port: bbmd.port, ttlS }, timeoutMs: 1000 });
  await driver.connect();
  t.equal(bbmd.registrations.length, 1, 'one Register-Foreign-Device on connect');
  t.equal(bbmd.registrations[0]!.ttlS, ttlS, 'with the configured TTL');
  const gateway = bbmd.registrations[0]!.address;
  t.ok(bbmd.fdt.has(gateway), 'the gateway is in the foreign-device table (the BVLC-Result said success)');

  await until(() => bbmd.registrations.length >= 3, 4 * ttlS * 1000, 'two re-registrations');
  t.ok(bbmd.registrations.every((r) => r.address === gateway && r.ttlS === ttlS));
  t.equal(bbmd.lapsed, 0, 'each re-registration came before the entry expired');

  const found = await driver.discover();
  t.equal(bbmd.distributed.length, 1, 'one Distribute-Broadcast-To-Network');
  const npdu = bbmd.distributed[0]!.npdu;
  t.same([...npdu.subarray(2, 4)], [0x10, 0x08], 'carrying an unconfirmed Who-Is (§20.1.3, service 8)');
  t.ok(bbmd.forwardedToForeign >= 1, 'the I-Am went back to the gateway as a Forwarded-NPDU');
  t.equal(found.length, 1, 'the device is found');
  t.same(found[0]!.connection, { protocol: 'bacnet-ip', host: '127.0.0.1', port: sim.port, deviceInstance: 1901 });
  t.ok((found[0]!.details as { objects: unknown[] }).objects.length > 1);
});

t.test('two devices behind one BBMD share one registration of the shared socket', async (t) => {
  const bbmd = await BbmdStandIn.start({ host: '127.0.0.1', port: 0, graceS: 0 });
  t.teardown(() => bbmd.close());
  const rig = await startRig(
    t,
    [
      { id: 'a', profile: ALL_TYPES, deviceInstance: 1911 },
      { id: 'b', profile: ALL_TYPES, deviceInstance: 1912 },
    ],
    STILL,
  );
  for (const d of rig.sim.devices) bbmd.subnet.add(`127.0.0.1:${d.port}`);
  const conn = { bbmd: { host: '127.0.0.1', port: bbmd.port, ttlS: 60 }, timeoutMs: 1000 };
  const [a, b] = [rig.driver('a', conn), rig.driver('b', conn)];
  await Promise.all([a.connect(), b.connect()]);
  t.equal(bbmd.registrations.length, 1, 'registered once');
  const [fa, fb] = await Promise.all([a.discover(), b.discover()]);
  t.equal(fa[0]?.connection.deviceInstance, 1911);
  t.equal(fb[0]?.connection.deviceInstance, 1912, 'each Who-Is is limited to its device; each driver keeps its own I-Am');
});

t.test('a BBMD that refuses the registration: reads still go by unicast, discovery finds nothing', async (t) => {
  const { bbmd, rig } = await rigWithBbmd(t, 1902, true);
  const driver = rig.driver('dut', { bbmd: { host: '127.0.0.1', port: bbmd.port, ttlS: 60 }, timeoutMs: 500 });
  await driver.connect();
  t.ok(driver.isConnected(), 'the device answers by unicast');
  t.equal(bbmd.registrations.length, 1);
  t.equal(bbmd.fdt.size, 0);
  t.same(await driver.discover(), [], 'the BBMD does not distribute the Who-Is of an unregistered device (NAK 0x0060)');
  t.equal(bbmd.distributed.length, 0);
});

t.test('the bbmd connection setting: defaults, and mistakes refused', async (t) => {
  const site = bacnetSite([{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1903, connection: { bbmd: { host: '10.0.3.1' } } }]);
  t.same((site.devices[0]!.connection as { bbmd?: unknown }).bbmd, { host: '10.0.3.1', port: 47808, ttlS: 600 });
  t.throws(() => bacnetSite([{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1904, connection: { bbmd: { host: '10.0.3.1', ttl: 60 } } }]));
  t.throws(() => bacnetSite([{ id: 'dut', profile: ALL_TYPES, deviceInstance: 1905, connection: { bbmd: { host: '10.0.3.1', ttlS: 5 } } }]));
});
