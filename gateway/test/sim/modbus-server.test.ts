/**
 * The simulator's Modbus server on the wire, byte for byte: MBAP framing with split and
 * batched frames, every function code it serves, exception responses, garbage, unit
 * routing, RTU-over-TCP framing, fault injection — and that it answers without timers.
 */
import net from 'node:net';
import t from 'tap';
import { crc16 } from '../../../scripts/sim/crc16.js';
import { startModbusServer, type ModbusServerOptions } from '../../../scripts/sim/modbus-server.js';
import { RegisterBank } from '../../../scripts/sim/register-bank.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** An MBAP frame: transaction id, protocol 0, length, unit, PDU. */
function mbap(tid: number, unit: number, pdu: Buffer | string): Buffer {
  const body = typeof pdu === 'string' ? hex(pdu) : pdu;
  const out = Buffer.alloc(7 + body.length);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(body.length + 1, 4);
  out[6] = unit;
  body.copy(out, 7);
  return out;
}

function rtu(frame: string): Buffer {
  const body = hex(frame);
  const out = Buffer.alloc(body.length + 2);
  body.copy(out);
  out.writeUInt16LE(crc16(body), body.length);
  return out;
}

/** Connects, sends the chunks (a tick apart), and collects `expect` bytes (or whatever came before close/timeout). */
function exchange(port: number, chunks: Buffer[], expect: number, timeoutMs = 1000): Promise<{ data: Buffer; closed: boolean }> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    let closed = false;
    const s = net.connect({ host: '127.0.0.1', port }, async () => {
      for (const c of chunks) {
        s.write(c);
        await new Promise((r) => setImmediate(r));
      }
    });
    const done = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ data: Buffer.concat(parts), closed });
    };
    const timer = setTimeout(done, timeoutMs);
    s.on('data', (d: Buffer) => {
      parts.push(d);
      got += d.length;
      if (got >= expect) done();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      done();
    });
  });
}

async function server(t: { teardown(fn: () => unknown): void }, options: Partial<ModbusServerOptions> = {}) {
  const bank = new RegisterBank({ holding: 20, input: 10, coil: 16, discrete: 16 });
  const s = await startModbusServer({ units: bank, ...options });
  t.teardown(() => s.close());
  return { bank, s };
}

t.test('FC3/FC4 read registers', async (t) => {
  const { bank, s } = await server(t);
  bank.setRegisters('holding', 0, [1, 2, 0xabcd]);
  bank.setRegisters('input', 5, [0x1234]);
  t.same((await exchange(s.port, [mbap(0x1234, 1, '03 0000 0003')], 15)).data, hex('1234 0000 0009 01 03 06 0001 0002 abcd'));
  t.same((await exchange(s.port, [mbap(7, 9, '04 0005 0001')], 11)).data, hex('0007 0000 0005 09 04 02 1234'), 'echoes transaction and unit id');
});

t.test('FC1/FC2 read bits, packed least significant bit first (§6.1)', async (t) => {
  const { bank, s } = await server(t);
  [1, 0, 1, 1, 0, 0, 0, 0, 1].forEach((b, i) => bank.setBit('coil', i, b === 1));
  bank.setBit('discrete', 3, true);
  t.same((await exchange(s.port, [mbap(1, 1, '01 0000 0009')], 11)).data, hex('0001 0000 0005 01 01 02 0d 01'));
  t.same((await exchange(s.port, [mbap(2, 1, '02 0002 0003')], 10)).data, hex('0002 0000 0004 01 02 01 02'));
});

t.test('FC5/FC6/FC15/FC16 writes land in the bank, are echoed and announced', async (t) => {
  const { bank, s } = await server(t);
  const writes: string[] = [];
  bank.onWrite((table, start, count) => writes.push(`${table} ${start}+${count}`));
  t.same((await exchange(s.port, [mbap(1, 1, '05 0003 ff00')], 12)).data, hex('0001 0000 0006 01 05 0003 ff00'));
  t.equal(bank.getBit('coil', 3), true);
  await exchange(s.port, [mbap(1, 1, '05 0003 0000')], 12);
  t.equal(bank.getBit('coil', 3), false);
  t.same((await exchange(s.port, [mbap(2, 1, '06 0004 beef')], 12)).data, hex('0002 0000 0006 01 06 0004 beef'));
  t.equal(bank.holding[4], 0xbeef);
  t.same((await exchange(s.port, [mbap(3, 1, '0f 0002 000a 02 cd 01')], 12)).data, hex('0003 0000 0006 01 0f 0002 000a'));
  t.same(Array.from(bank.coil.subarray(2, 12)), [1, 0, 1, 1, 0, 0, 1, 1, 1, 0], '0xCD 0x01 from coil 2');
  t.same((await exchange(s.port, [mbap(4, 1, '10 0010 0002 04 000a 0102')], 12)).data, hex('0004 0000 0006 01 10 0010 0002'));
  t.same(bank.getRegisters('holding', 16, 2), [0x000a, 0x0102]);
  t.same(writes, ['coil 3+1', 'coil 3+1', 'holding 4+1', 'coil 2+10', 'holding 16+2']);
});

t.test('exception responses: 1 illegal function, 2 illegal data address, 3 illegal data value', async (t) => {
  const { s } = await server(t);
  const ask = async (pdu: string) => (await exchange(s.port, [mbap(9, 1, pdu)], 9)).data.subarray(7).toString('hex');
  t.equal(await ask('2b 0e 01 00'), 'ab01', 'FC 43 not served');
  t.equal(await ask('08 0000 1234'), '8801', 'FC 8 not served');
  t.equal(await ask('03 0000 0000'), '8303', 'quantity 0');
  t.equal(await ask('03 0000 007e'), '8303', 'quantity 126 > 125');
  t.equal(await ask('01 0000 07d1'), '8103', '2001 coils > 2000');
  t.equal(await ask('03 0012 0003'), '8302', 'registers 18–20 of a 20-register map');
  t.equal(await ask('04 000a 0001'), '8402', 'input register 10 of 10');
  t.equal(await ask('02 0010 0001'), '8202', 'discrete input 16 of 16');
  t.equal(await ask('05 0000 1234'), '8503', 'a coil is 0xFF00 or 0x0000');
  t.equal(await ask('05 0010 ff00'), '8502', 'coil 16 of 16');
  t.equal(await ask('06 0014 0001'), '8602', 'holding 20 of 20');
  t.equal(await ask('10 0000 0002 03 0001 02'), '9003', 'byte count does not match quantity');
  t.equal(await ask('0f 0000 0009 01 ff'), '8f03', 'byte count for 9 coils is 2');
  t.equal(await ask('03 0000'), '8303', 'truncated PDU');
  t.equal(s.stats.exceptions, 14);
});

t.test('a frame split into single bytes is answered once', async (t) => {
  const { bank, s } = await server(t);
  bank.setRegisters('holding', 0, [42]);
  const frame = mbap(5, 1, '03 0000 0001');
  const { data } = await exchange(s.port, [...frame].map((b) => Buffer.from([b])), 11);
  t.same(data, hex('0005 0000 0005 01 03 02 002a'));
});

t.test('several frames in one chunk (and one split across chunks) are all answered, in order', async (t) => {
  const { bank, s } = await server(t);
  bank.setRegisters('holding', 0, [10, 11, 12]);
  const all = Buffer.concat([mbap(1, 1, '03 0000 0001'), mbap(2, 1, '03 0001 0001'), mbap(3, 1, '03 0002 0001')]);
  const { data } = await exchange(s.port, [all.subarray(0, 20), all.subarray(20)], 33);
  t.same(data, Buffer.concat([hex('0001 0000 0005 01 03 02 000a'), hex('0002 0000 0005 01 03 02 000b'), hex('0003 0000 0005 01 03 02 000c')]));
});

t.test('garbage closes that connection and nothing else', async (t) => {
  const { bank, s } = await server(t);
  bank.setRegisters('holding', 0, [7]);
  const other = net.connect({ host: '127.0.0.1', port: s.port });
  await new Promise((r) => other.once('connect', r));
  t.teardown(() => other.destroy());
  for (const junk of [hex('0001 0001 0006 01 03 0000 0001'), hex('0001 0000 0000 01'), hex('0001 0000 ffff 01'), Buffer.from('\r\n\r\n\r\n\r\nhello')]) {
    const r = await exchange(s.port, [junk], 1);
    t.ok(r.closed, `closed after ${junk.toString('hex')}`);
    t.equal(r.data.length, 0);
  }
  t.equal(s.stats.garbage, 4);
  const answer = new Promise<Buffer>((resolve) => other.once('data', resolve));
  other.write(mbap(1, 1, '03 0000 0001'));
  t.same(await answer, hex('0001 0000 0005 01 03 02 0007'), 'an open connection is unaffected');
});

t.test('unit routing: a map of banks answers its units; others get exception 0x0B', async (t) => {
  const a = new RegisterBank({ holding: 1 });
  const b = new RegisterBank({ holding: 1 });
  a.setRegisters('holding', 0, [1]);
  b.setRegisters('holding', 0, [2]);
  const s = await startModbusServer({ units: new Map([[1, a], [2, b]]) });
  t.teardown(() => s.close());
  t.same((await exchange(s.port, [mbap(1, 1, '03 0000 0001')], 11)).data.subarray(9), hex('0001'));
  t.same((await exchange(s.port, [mbap(1, 2, '03 0000 0001')], 11)).data.subarray(9), hex('0002'));
  t.same((await exchange(s.port, [mbap(1, 3, '03 0000 0001')], 9)).data.subarray(7), hex('83 0b'));
});

t.test('RTU over TCP: CRC-checked frames; a bad CRC closes the connection', async (t) => {
  const { bank, s } = await server(t, { framing: 'rtu' });
  t.equal(crc16(hex('01 03 0000 000a')), 0xcdc5, 'the textbook vector: 01 03 00 00 00 0A → C5 CD');
  bank.setRegisters('holding', 0, [0x1234, 0x5678]);
  t.same((await exchange(s.port, [rtu('01 03 0000 0002')], 9)).data, rtu('01 03 04 1234 5678'));
  t.same((await exchange(s.port, [rtu('11 06 0001 0003')], 8)).data, rtu('11 06 0001 0003'));
  t.same((await exchange(s.port, [rtu('01 10 0002 0001 02 00ff')], 8)).data, rtu('01 10 0002 0001'));
  t.same(bank.getRegisters('holding', 1, 2), [3, 0xff]);
  t.same((await exchange(s.port, [rtu('01 2b 0e 01 00')], 5)).data, rtu('01 ab 01'), 'an unknown function with a good CRC: exception 1');
  const two = Buffer.concat([rtu('01 03 0000 0001'), rtu('01 03 0001 0001')]);
  t.same((await exchange(s.port, [two.subarray(0, 5), two.subarray(5)], 14)).data, Buffer.concat([rtu('01 03 02 1234'), rtu('01 03 02 0003')]));
  const bad = rtu('01 03 0000 0001');
  bad[bad.length - 1]! ^= 0xff;
  t.ok((await exchange(s.port, [bad], 1)).closed, 'bad CRC');
});

t.test('faults: stall never answers, exception answers everything with it, close refuses connections', async (t) => {
  const { s } = await server(t, { faults: { stall: true } });
  const stalled = await exchange(s.port, [mbap(1, 1, '03 0000 0001')], 1, 200);
  t.equal(stalled.data.length, 0);
  t.notOk(stalled.closed, 'accepted and kept open');
  s.setFaults({ exception: 4 });
  t.same((await exchange(s.port, [mbap(1, 1, '03 0000 0001')], 9)).data.subarray(7), hex('83 04'));
  s.setFaults({ close: true });
  t.ok((await exchange(s.port, [mbap(1, 1, '03 0000 0001')], 1)).closed);
  s.setFaults({});
  t.equal((await exchange(s.port, [mbap(1, 1, '03 0000 0001')], 11)).data.length, 11);
});

t.test('answers thousands of requests without timers on the reply path', async (t) => {
  const { bank, s } = await server(t);
  bank.setRegisters('holding', 0, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  // Pipelined: 5000 requests in one write.
  const n = 5000;
  const frames = Buffer.concat(Array.from({ length: n }, (_, i) => mbap(i, 1, '03 0000 000a')));
  const { data } = await exchange(s.port, [frames], n * 29, 10_000);
  t.equal(data.length, n * 29, `${n} answers of 29 bytes`);
  t.equal(data.readUInt16BE((n - 1) * 29), n - 1, 'the last one answers the last request');
  // One at a time, as the poller sends them: each answer comes in the same event-loop turn.
  const sock = net.connect({ host: '127.0.0.1', port: s.port });
  await new Promise((r) => sock.once('connect', r));
  t.teardown(() => sock.destroy());
  const started = performance.now();
  const rounds = 1000;
  for (let i = 0; i < rounds; i++) {
    const got = new Promise((r) => sock.once('data', r));
    sock.write(mbap(i, 1, '03 0000 000a'));
    await got;
  }
  const ms = performance.now() - started;
  t.comment(`${rounds} sequential requests in ${ms.toFixed(0)} ms (${Math.round((rounds / ms) * 1000)}/s)`);
  t.equal(s.stats.requests, n + rounds);
});
