import t from 'tap';
import type { DataType, Order } from '../../src/core/config/profile.js';
import { isGatewayError } from '../../src/core/errors.js';
import { decode, encode, layoutOf, wordsOf, type Layout } from '../../src/drivers/modbus/codec.js';

const L = (type: DataType, wordOrder: Order = 'big', byteOrder: Order = 'big', extra: Partial<Layout> = {}): Layout => ({ type, wordOrder, byteOrder, ...extra });
const ORDERS: [Order, Order, string][] = [
  ['big', 'big', 'ABCD'],
  ['little', 'big', 'CDAB'],
  ['big', 'little', 'BADC'],
  ['little', 'little', 'DCBA'],
];

t.test('float32 23.5 is 0x41BC 0x0000 in the standard order', async (t) => {
  t.same(encode(L('float32'), 23.5), [0x41bc, 0x0000]);
  t.equal(decode(L('float32'), [0x41bc, 0x0000]), 23.5);
  t.equal(decode(L('float32'), [0xbfc0, 0x0000]), -1.5);
});

t.test('32-bit types in all four word/byte orders', async (t) => {
  const expected: Record<string, number[]> = {
    ABCD: [0x1234, 0x5678],
    CDAB: [0x5678, 0x1234],
    BADC: [0x3412, 0x7856],
    DCBA: [0x7856, 0x3412],
  };
  for (const [wo, bo, name] of ORDERS) {
    t.same(encode(L('uint32', wo, bo), 0x12345678), expected[name], `uint32 ${name}`);
    t.equal(decode(L('uint32', wo, bo), expected[name]!), 0x12345678, `uint32 ${name} decodes`);
    t.equal(decode(L('int32', wo, bo), expected[name]!), 0x12345678, `int32 ${name} decodes`);
  }
  // float32 23.5 = 0x41BC0000 in each order
  t.same(encode(L('float32', 'little', 'big'), 23.5), [0x0000, 0x41bc]);
  t.same(encode(L('float32', 'big', 'little'), 23.5), [0xbc41, 0x0000]);
  t.same(encode(L('float32', 'little', 'little'), 23.5), [0x0000, 0xbc41]);
  t.equal(decode(L('float32', 'little', 'little'), [0x0000, 0xbc41]), 23.5);
});

t.test('64-bit types in all four word/byte orders (little word order reverses all four registers)', async (t) => {
  const expected: Record<string, number[]> = {
    ABCD: [0x0102, 0x0304, 0x0506, 0x0708],
    CDAB: [0x0708, 0x0506, 0x0304, 0x0102],
    BADC: [0x0201, 0x0403, 0x0605, 0x0807],
    DCBA: [0x0807, 0x0605, 0x0403, 0x0201],
  };
  const v = Number(0x0102030405060708n); // > 2^53: compare through the same double rounding
  for (const [wo, bo, name] of ORDERS) {
    t.equal(decode(L('uint64', wo, bo), expected[name]!), v, `uint64 ${name}`);
    t.equal(decode(L('int64', wo, bo), expected[name]!), v, `int64 ${name}`);
    // float64 1.0 = 0x3FF0 0000 0000 0000
    const one = encode(L('float64', wo, bo), 1);
    t.equal(decode(L('float64', wo, bo), one), 1, `float64 ${name} round trip`);
  }
  t.same(encode(L('float64'), 1), [0x3ff0, 0, 0, 0]);
  t.same(encode(L('float64', 'little'), 1), [0, 0, 0, 0x3ff0]);
  t.same(encode(L('float64', 'big', 'little'), 1), [0xf03f, 0, 0, 0]);
  t.same(encode(L('uint64', 'little', 'big'), 0x0001_0002_0003), [0x0003, 0x0002, 0x0001, 0x0000]);
  t.same(encode(L('int64', 'big', 'big'), 12345678901), [0, 0x0002, 0xdfdc, 0x1c35]);
});

t.test('negative integers are two’s complement', async (t) => {
  t.same(encode(L('int16'), -1234), [0xfb2e]);
  t.equal(decode(L('int16'), [0xfb2e]), -1234);
  t.equal(decode(L('int16'), [0x8000]), -32768);
  t.equal(decode(L('uint16'), [0xfb2e]), 0xfb2e);
  t.same(encode(L('int32'), -2), [0xffff, 0xfffe]);
  t.equal(decode(L('int32'), [0xffff, 0xfffe]), -2);
  t.equal(decode(L('int32', 'little'), [0xfffe, 0xffff]), -2);
  t.same(encode(L('int64'), -2), [0xffff, 0xffff, 0xffff, 0xfffe]);
  t.equal(decode(L('int64'), [0xffff, 0xffff, 0xffff, 0xffff]), -1);
  t.equal(decode(L('int64'), [0x8000, 0, 0, 0]), -(2 ** 63));
  t.same(encode(L('int16', 'big', 'little'), -2), [0xfeff]);
  t.equal(decode(L('int16', 'big', 'little'), [0xfeff]), -2);
});

t.test('uint16 with little byte order swaps the two bytes', async (t) => {
  t.same(encode(L('uint16', 'big', 'little'), 0x1234), [0x3412]);
  t.equal(decode(L('uint16', 'big', 'little'), [0x3412]), 0x1234);
  t.equal(decode(L('uint16', 'little', 'big'), [0x1234]), 0x1234, 'word order does not apply to one register');
});

t.test('64-bit integers are exact up to 2^53, rounded above (documented)', async (t) => {
  const max = Number.MAX_SAFE_INTEGER;
  t.equal(decode(L('uint64'), encode(L('uint64'), max)), max);
  t.equal(decode(L('int64'), encode(L('int64'), -max)), -max);
  // 2^53 + 1 cannot be a double: the registers hold it exactly, the number rounds to 2^53.
  t.equal(decode(L('uint64'), [0x0020, 0x0000, 0x0000, 0x0001]), 2 ** 53);
  t.equal(decode(L('uint64'), [0xffff, 0xffff, 0xffff, 0xffff]), 2 ** 64);
});

t.test('NaN and infinities', async (t) => {
  t.ok(Number.isNaN(decode(L('float32'), [0x7fc0, 0x0000])), 'quiet NaN');
  t.ok(Number.isNaN(decode(L('float32'), [0xffff, 0xffff])), 'all ones is NaN too');
  t.ok(Number.isNaN(decode(L('float64'), [0x7ff8, 0, 0, 0])));
  t.equal(decode(L('float32'), [0x7f80, 0x0000]), Infinity);
  t.equal(decode(L('float32'), [0xff80, 0x0000]), -Infinity);
  t.same(encode(L('float32'), NaN), [0x7fc0, 0x0000]);
  t.same(encode(L('float32', 'little', 'little'), NaN), [0x0000, 0xc07f]);
  t.same(encode(L('float64'), NaN), [0x7ff8, 0, 0, 0]);
  for (const type of ['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'] as const) {
    t.throws(() => encode(L(type), NaN), { code: 'GW_ERR_WRITE_REFUSED' }, `${type} refuses NaN`);
  }
});

t.test('bool and bits', async (t) => {
  t.equal(decode(L('bool'), [1]), true, 'a coil/input is 0 or 1');
  t.equal(decode(L('bool'), [0]), false);
  t.equal(decode(L('bool'), [0x0100]), true, 'a register ≠ 0 is true');
  t.equal(decode(L('bool', 'big', 'big', { bit: 3 }), [0x0008]), true, 'a bool with a bit reads the bit');
  t.equal(decode(L('bool', 'big', 'big', { bit: 3 }), [0x0007]), false);
  const bits = (bit: number) => L('bits', 'big', 'big', { bit });
  t.equal(decode(bits(0), [0b101]), true);
  t.equal(decode(bits(1), [0b101]), false);
  t.equal(decode(bits(2), [0b101]), true);
  t.equal(decode(bits(15), [0x8000]), true);
  t.equal(decode(bits(14), [0x8000]), false);
  t.same(encode(bits(1), true, 0b101), [0b111], 'read-modify-write keeps the other bits');
  t.same(encode(bits(0), false, 0b101), [0b100]);
  t.same(encode(bits(15), true, 0), [0x8000]);
  t.same(encode(L('bits', 'big', 'little', { bit: 0 }), true, 0x0000), [0x0100], 'bit 0 of a byte-swapped register is in the high byte on the wire');
  t.equal(decode(L('bits', 'big', 'little', { bit: 0 }), [0x0100]), true);
  t.same(encode(L('bool'), true), [1]);
  t.same(encode(L('bool'), 0), [0]);
  t.throws(() => encode(L('bool'), 2), { code: 'GW_ERR_WRITE_REFUSED' });
  t.throws(() => decode(L('bits'), [1]), { code: 'GW_ERR_DECODE' }, 'a bits point needs a bit');
  t.throws(() => decode(bits(16), [1]), { code: 'GW_ERR_DECODE' });
});

t.test('strings: two bytes per register, trailing NULs and spaces trimmed', async (t) => {
  const S = (length: number, byteOrder: Order = 'big') => L('string', 'big', byteOrder, { length });
  t.same(encode(S(4), 'PUMP-1'), [0x5055, 0x4d50, 0x2d31, 0x0000]);
  t.equal(decode(S(4), [0x5055, 0x4d50, 0x2d31, 0x0000]), 'PUMP-1');
  t.equal(decode(S(4), [0x5055, 0x4d50, 0x2d31, 0x2020]), 'PUMP-1', 'space padding');
  t.same(encode(S(2, 'little'), 'ABC'), [0x4241, 0x0043]);
  t.equal(decode(S(2, 'little'), [0x4241, 0x0043]), 'ABC');
  t.equal(decode(L('string', 'little', 'big', { length: 2 }), [0x4142, 0x4344]), 'ABCD', 'word order does not apply to strings');
  t.same(encode(S(2), '泵'), [0xe6b3, 0xb500], 'UTF-8');
  t.equal(decode(S(2), [0xe6b3, 0xb500]), '泵');
  t.equal(decode(S(2), [0, 0]), '');
  t.throws(() => encode(S(2), 'ABCDE'), { code: 'GW_ERR_WRITE_REFUSED' }, 'too long');
  t.throws(() => encode(S(2), 5), { code: 'GW_ERR_WRITE_REFUSED' });
});

t.test('integers round float noise and refuse values outside the type', async (t) => {
  t.same(encode(L('uint16'), 349.99999999999994), [350]);
  t.same(encode(L('int16'), -0.4), [0]);
  t.throws(() => encode(L('int16'), 40000), { code: 'GW_ERR_WRITE_REFUSED' });
  t.throws(() => encode(L('uint16'), -1), { code: 'GW_ERR_WRITE_REFUSED' });
  t.throws(() => encode(L('uint32'), 2 ** 32), { code: 'GW_ERR_WRITE_REFUSED' });
  t.throws(() => encode(L('int32'), 'x'), { code: 'GW_ERR_WRITE_REFUSED' });
  t.throws(() => encode(L('float32'), true), { code: 'GW_ERR_WRITE_REFUSED' });
  t.same(encode(L('uint16'), true), [1], 'a boolean is 0/1 for an integer');
});

t.test('too few registers is GW_ERR_DECODE', async (t) => {
  try {
    decode(L('float32'), [0x41bc]);
    t.fail('should throw');
  } catch (err) {
    t.ok(isGatewayError(err, 'GW_ERR_DECODE'));
    t.match((err as Error).message, /float32/);
  }
  t.throws(() => decode(L('uint16'), [], 0), { code: 'GW_ERR_DECODE' });
  t.throws(() => decode(L('float64'), [1, 2, 3, 4], 1), { code: 'GW_ERR_DECODE' });
});

t.test('decode reads at an offset inside a larger block', async (t) => {
  const block = [0xdead, 0x41bc, 0x0000, 0xfb2e];
  t.equal(decode(L('float32'), block, 1), 23.5);
  t.equal(decode(L('int16'), block, 3), -1234);
});

t.test('layoutOf: the point’s orders override the profile defaults', async (t) => {
  const point = { type: 'float32' as const, address: { table: 'holding', register: 0 } };
  t.same(layoutOf(point), { type: 'float32', wordOrder: 'big', byteOrder: 'big' });
  t.same(layoutOf(point, { wordOrder: 'little', byteOrder: 'little' }), { type: 'float32', wordOrder: 'little', byteOrder: 'little' });
  t.same(layoutOf({ ...point, wordOrder: 'big' }, { wordOrder: 'little' }), { type: 'float32', wordOrder: 'big', byteOrder: 'big' });
  t.same(layoutOf({ type: 'bits', address: { table: 'holding', register: 3, bit: 7 } }), { type: 'bits', bit: 7, wordOrder: 'big', byteOrder: 'big' });
  t.same(layoutOf({ type: 'string', length: 5, address: { table: 'holding', register: 3 } }), { type: 'string', length: 5, wordOrder: 'big', byteOrder: 'big' });
  t.equal(wordsOf({ type: 'float64' }), 4);
  t.equal(wordsOf({ type: 'string', length: 5 }), 5);
});

t.test('every numeric type round-trips in every order (seeded random values)', async (t) => {
  let s = 12345;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const gen: Record<string, () => number> = {
    int16: () => Math.floor(rnd() * 65536) - 32768,
    uint16: () => Math.floor(rnd() * 65536),
    int32: () => Math.floor(rnd() * 2 ** 32) - 2 ** 31,
    uint32: () => Math.floor(rnd() * 2 ** 32),
    float32: () => Math.fround((rnd() - 0.5) * 1e6),
    float64: () => (rnd() - 0.5) * 1e12,
    int64: () => Math.floor((rnd() - 0.5) * 2 ** 53),
    uint64: () => Math.floor(rnd() * 2 ** 53),
  };
  let checked = 0;
  for (const [type, g] of Object.entries(gen)) {
    for (const [wo, bo] of ORDERS) {
      for (let i = 0; i < 50; i++) {
        const v = g();
        const layout = L(type as DataType, wo, bo);
        const words = encode(layout, v);
        if (words.length !== wordsOf(layout) || decode(layout, words) !== v) t.fail(`${type} ${wo}/${bo} ${v}`);
        checked++;
      }
    }
  }
  t.equal(checked, 8 * 4 * 50);
});
