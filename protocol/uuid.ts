/**
 * UUIDv7 (RFC 9562 §5.7): 48 bits of ms timestamp, then random bits, so ids sort by
 * creation time. Monotonic within a process: a second id in the same millisecond
 * increments the 12-bit rand_a counter (RFC 9562 §6.2, method 1).
 */
import { randomBytes } from 'node:crypto';

let lastMs = -1;
let counter = 0;

export function uuidv7(now: number = Date.now()): string {
  let ms = now;
  if (ms <= lastMs) {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      ms = lastMs + 1; // counter overflow: borrow the next millisecond
      counter = 0;
    }
  } else {
    counter = randomBytes(2).readUInt16BE(0) & 0x3ff; // leave headroom for increments
  }
  lastMs = ms;
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | ((counter >> 8) & 0x0f);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The ms timestamp inside a UUIDv7. */
export function uuidv7Time(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
