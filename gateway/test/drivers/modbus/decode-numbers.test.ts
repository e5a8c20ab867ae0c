/**
 * The poller's fast path decodes a whole answer in one pass (decodeNumbers); it must give
 * what `decode` gives point by point, for every numeric type and word/byte order — or NaN
 * where `decode` gives no finite number — and refuse blocks holding strings.
 */
import t from 'tap';
import type { DataType, Order } from '../../../src/core/config/profile.js';
import { decode, decodeNumbers, encode, numericOps, wordsOf, type Layout } from '../../../src/drivers/modbus/codec.js';

const ORDERS: [Order, Order][] = [
  ['big', 'big'],
  ['little', 'big'],
  ['big', 'little'],
  ['little', 'little'],
];

/** Deterministic pseudo-random values (no Math.random: a failure must reproduce). */
function* values(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    yield x;
  }
}

function bytesOf(words: readonly number[]): Buffer {
  const b = Buffer.alloc(words.length * 2);
  words.forEach((w, i) => b.writeUInt16BE(w & 0xffff, i * 2));
  return b;
}

t.test('every numeric type in every order: decodeNumbers equals decode', async (t) => {
  const rnd = values(7);
  const layouts: Layout[] = [];
  const offsets: number[] = [];
  const words: number[] = [];
  const add = (layout: Layout, value: number | boolean) => {
    layouts.push(layout);
    offsets.push(words.length);
    const encoded = encode(layout, value, layout.bit === undefined ? 0 : (rnd.next().value as number) & 0xffff);
    words.push(...encoded);
    t.equal(encoded.length, wordsOf(layout));
  };
  const types: [DataType, () => number][] = [
    ['uint16', () => (rnd.next().value as number) & 0xffff],
    ['int16', () => ((rnd.next().value as number) & 0xffff) - 0x8000],
    ['uint32', () => (rnd.next().value as number) * 2 + 1],
    ['int32', () => (rnd.next().value as number) - 2 ** 30],
    ['float32', () => Math.fround(((rnd.next().value as number) - 2 ** 30) / 1000)],
    ['float64', () => ((rnd.next().value as number) - 2 ** 30) / 7],
    ['int64', () => ((rnd.next().value as number) - 2 ** 30) * 4096],
    ['uint64', () => (rnd.next().value as number) * 4096],
  ];
  for (const [wordOrder, byteOrder] of ORDERS) {
    for (const [type, gen] of types) for (let k = 0; k < 5; k++) add({ type, wordOrder, byteOrder }, gen());
    for (let bit = 0; bit < 16; bit++) add({ type: 'bits', bit, wordOrder, byteOrder }, bit % 3 === 0);
    add({ type: 'bool', wordOrder, byteOrder }, true);
    add({ type: 'bool', wordOrder, byteOrder }, false);
    add({ type: 'bool', bit: 9, wordOrder, byteOrder }, true);
  }
  const ops = numericOps(layouts, offsets);
  t.ok(ops);
  const out = new Float64Array(layouts.length);
  decodeNumbers(ops!, bytesOf(words), words, out);
  let same = 0;
  layouts.forEach((layout, i) => {
    const d = decode(layout, words, offsets[i]);
    const want = typeof d === 'boolean' ? Number(d) : d;
    if (out[i] === want) same++;
    else t.fail(`${layout.type} ${layout.wordOrder}/${layout.byteOrder}${layout.bit === undefined ? '' : ` bit ${layout.bit}`}: ${out[i]} ≠ ${String(want)}`);
  });
  t.equal(same, layouts.length, 'all equal');
});

t.test('NaN and ±∞ from the device, and an unusable bit, come out as NaN', async (t) => {
  const layouts: Layout[] = [
    { type: 'float32', wordOrder: 'big', byteOrder: 'big' },
    { type: 'float32', wordOrder: 'little', byteOrder: 'big' },
    { type: 'float64', wordOrder: 'big', byteOrder: 'big' },
    { type: 'bits', wordOrder: 'big', byteOrder: 'big' },
  ];
  const words = [...encode(layouts[0]!, NaN), ...encode(layouts[1]!, Infinity), ...encode(layouts[2]!, -Infinity), 0xffff];
  const ops = numericOps(layouts, [0, 2, 4, 8]);
  const out = new Float64Array(4).fill(1);
  decodeNumbers(ops!, bytesOf(words), words, out);
  t.same([...out].map((v) => Number.isNaN(v)), [true, true, true, true]);
});

t.test('a block with a string point has no numeric ops (the poller reads it the general way)', async (t) => {
  t.equal(numericOps([{ type: 'uint16', wordOrder: 'big', byteOrder: 'big' }, { type: 'string', length: 4, wordOrder: 'big', byteOrder: 'big' }], [0, 1]), undefined);
});
