/**
 * The Modbus TCP client (mbap.ts) against a scripted peer on loopback that answers each
 * request with bytes chosen by the test: a good answer split over several TCP segments, an
 * exception, and answers that are not the one asked for (transaction, unit, function,
 * byte count, not MBAP at all). Through the driver: an exception keeps the connection, a
 * malformed answer is GW_ERR_MODBUS_FRAME and drops it.
 */
import net from 'node:net';
import t from 'tap';
import type { PointSpec } from '../../../src/core/config/profile.js';
import { createModbusDriver } from '../../../src/drivers/modbus/driver.js';
import { deviceConfig, loadAllTypes, silentLog } from '../modbus-fixture.js';

/** What the peer does with a request frame: the bytes to send back, in segments. */
type Script = (req: Buffer) => Buffer[];

async function peer(script: () => Script): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let rx = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      rx = Buffer.concat([rx, d]);
      while (rx.length >= 6 && rx.length >= 6 + rx.readUInt16BE(4)) {
        const req = rx.subarray(0, 6 + rx.readUInt16BE(4));
        rx = rx.subarray(req.length);
        const parts = script()(req);
        // Each segment in its own write, a turn apart, so the client sees them separately.
        parts.forEach((p, i) => setTimeout(() => s.destroyed || s.write(p), i * 5));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** An answer to `req` of FC 3 holding `count` registers 0x0101, 0x0202…, with overrides. */
function registers(req: Buffer, o: { tid?: number; unit?: number; fc?: number; byteCount?: number; protocol?: number } = {}): Buffer {
  const count = req.readUInt16BE(10);
  const data = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) data.writeUInt16BE(((i + 1) << 8) | (i + 1), i * 2);
  const pdu = Buffer.concat([Buffer.from([o.fc ?? 3, o.byteCount ?? count * 2]), data]);
  const head = Buffer.alloc(7);
  head.writeUInt16BE(o.tid ?? req.readUInt16BE(0), 0);
  head.writeUInt16BE(o.protocol ?? 0, 2);
  head.writeUInt16BE(pdu.length + 1, 4);
  head[6] = o.unit ?? req[6]!;
  return Buffer.concat([head, pdu]);
}

const profile = loadAllTypes();
const u16 = profile.points.find((p) => p.type === 'uint16' && (p.address as { table: string }).table === 'holding') as PointSpec;

async function rig(t: { teardown(fn: () => unknown): void }, script: () => Script) {
  const p = await peer(script);
  const driver = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port: p.port }), silentLog);
  t.teardown(async () => {
    await driver.close();
    await p.close();
  });
  await driver.connect();
  const at = driver.locate(u16);
  const block = { space: at.space, start: at.start, count: 3, points: [{ spec: u16, at }] };
  return { p, driver, block };
}

t.test('an answer split over three TCP segments is put together; both read paths decode it', async (t) => {
  const { driver, block } = await rig(t, () => (req) => {
    const a = registers(req);
    return [a.subarray(0, 3), a.subarray(3, 8), a.subarray(8)];
  });
  t.same(await driver.read(block), [{ ok: true, value: 0x0101 }]);
  const out = new Float64Array(1);
  await driver.compileNumeric!(block)!.read(out);
  t.equal(out[0], 0x0101);
});

t.test('an exception response is GW_ERR_MODBUS_EXCEPTION and the connection stays', async (t) => {
  let n = 0;
  const { p, driver, block } = await rig(t, () => (req) => {
    n++;
    if (n > 1) return [registers(req)];
    const head = Buffer.from(req.subarray(0, 8));
    head.writeUInt16BE(3, 4);
    head[7] = 0x83;
    return [Buffer.concat([head, Buffer.from([2])])];
  });
  await t.rejects(driver.read(block), { code: 'GW_ERR_MODBUS_EXCEPTION', message: /exception 2/ });
  t.same(await driver.read(block), [{ ok: true, value: 0x0101 }]);
  t.equal(p.connections(), 1);
  t.ok(driver.isConnected());
});

const WRONG: [string, (req: Buffer) => Buffer[]][] = [
  ['another transaction id', (req) => [registers(req, { tid: (req.readUInt16BE(0) + 7) & 0xffff })]],
  ['another unit', (req) => [registers(req, { unit: req[6]! + 1 })]],
  ['another function', (req) => [registers(req, { fc: 4 })]],
  ['a byte count that does not match the registers asked for', (req) => [registers(req, { byteCount: 4 })]],
  ['not MBAP (protocol id 1)', (req) => [registers(req, { protocol: 1 })]],
];

for (const [what, answer] of WRONG) {
  t.test(`an answer with ${what} is GW_ERR_MODBUS_FRAME and the connection is dropped`, async (t) => {
    const { driver, block } = await rig(t, () => answer);
    await t.rejects(driver.read(block), { code: 'GW_ERR_MODBUS_FRAME' });
    t.notOk(driver.isConnected(), 'dropped: the poller reconnects through connect()');
    await t.rejects(driver.compileNumeric!(block)!.read(new Float64Array(1)), { code: 'GW_ERR_MODBUS_CONNECT' });
  });
}

t.test('an answer that arrived while the event loop was busy past the timeout is taken, not a timeout', async (t) => {
  // The peer runs in a child process, so that it answers while this process is blocked;
  // it touches `flag` once the answer is written (then it is in this socket's buffer).
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, existsSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const flag = path.join(mkdtempSync(path.join(tmpdir(), 'mbap-busy-')), 'answered');
  const code = `
    const net = require('node:net'); const fs = require('node:fs');
    const server = net.createServer((s) => s.on('data', (req) => {
      const count = req.readUInt16BE(10);
      const a = Buffer.alloc(9 + count * 2);
      req.copy(a, 0, 0, 4); a.writeUInt16BE(3 + count * 2, 4); a[6] = req[6]; a[7] = 3; a[8] = count * 2; a.writeUInt16BE(0x2a, 9);
      s.write(a, () => fs.writeFileSync(process.argv[1], 'x'));
    }));
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));`;
  const child = spawn(process.execPath, ['-e', code, flag], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill());
  const port = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  const timeoutMs = 100;
  const driver = createModbusDriver(deviceConfig(profile, { protocol: 'modbus-tcp', host: '127.0.0.1', port, timeoutMs }), silentLog);
  t.teardown(() => driver.close());
  await driver.connect();
  const at = driver.locate(u16);
  const pending = driver.read({ space: at.space, start: at.start, count: 1, points: [{ spec: u16, at }] });
  await new Promise((r) => setImmediate(r)); // the request is on the wire
  // Busy (a long store flush, say) until the answer is here and the deadline has passed.
  const started = Date.now();
  while (!existsSync(flag) || Date.now() - started < timeoutMs * 2) {
    // blocking on purpose
  }
  t.same(await pending, [{ ok: true, value: 0x2a }]);
  t.ok(driver.isConnected());
});

t.test('bytes fed from a reused read buffer (net onread): what the client keeps is its own copy', async (t) => {
  // A socket stand-in: the client writes requests to it and listens for 'close'.
  const { EventEmitter } = await import('node:events');
  const { MbapClient } = await import('../../../src/drivers/modbus/mbap.js');
  const sent: Buffer[] = [];
  const fake = Object.assign(new EventEmitter(), { destroyed: false, write: (b: Buffer) => void sent.push(Buffer.from(b)), destroy: () => undefined });
  const client = new MbapClient(fake as unknown as net.Socket, 'fed');
  const pending = client.readHoldingRegisters(0, 3);
  const answer = registers(sent[0]!);
  // One buffer, as net reuses it: the first part of the answer, then the rest written over it.
  const shared = Buffer.alloc(64, 0xee);
  answer.copy(shared, 0, 0, 7);
  client.feed(shared.subarray(0, 7));
  shared.fill(0xee);
  answer.copy(shared, 0, 7);
  client.feed(shared.subarray(0, answer.length - 7));
  shared.fill(0xee);
  const { data, buffer } = await pending;
  t.same(data, [0x0101, 0x0202, 0x0303]);
  t.same([...buffer], [1, 1, 2, 2, 3, 3], 'the answer bytes are not the reused buffer (overwritten since)');
  // A second answer in the same buffer does not change the first one's bytes.
  const second = client.readHoldingRegisters(0, 3);
  const again = registers(sent[1]!);
  again.copy(shared);
  shared[9] = 0x7f;
  client.feed(shared.subarray(0, again.length));
  t.same((await second).data[0], 0x7f01);
  t.same([...buffer], [1, 1, 2, 2, 3, 3]);
});
