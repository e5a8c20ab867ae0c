/**
 * A tiny baseline JPEG encoder for the simulated camera's snapshots (ITU-T T.81): one
 * greyscale component, every 8×8 block flat (only its DC coefficient set), so no DCT is
 * needed. A 160×120 picture is a few hundred bytes — a real, decodable JPEG without a
 * binary in the repository.
 *
 * A flat block of level v has DC = 8·(v − 128) (T.81 §A.3.3); with a quantiser of 8 the
 * quantised DC is simply v − 128. Huffman tables: the standard luminance DC table
 * (T.81 Annex K.3, Table K.3) and an AC table holding only EOB (code `0`).
 */

const DC_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_VALS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_BITS = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_VALS = [0x00];

/** Canonical Huffman codes from BITS/HUFFVAL (T.81 Annex C). */
function huffmanCodes(bits: readonly number[], vals: readonly number[]): Map<number, { code: number; length: number }> {
  const out = new Map<number, { code: number; length: number }>();
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    for (let i = 0; i < bits[length - 1]!; i++) out.set(vals[k++]!, { code: code++, length });
    code <<= 1;
  }
  return out;
}

class BitWriter {
  private readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;

  write(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }

  private flushByte(): void {
    this.bytes.push(this.acc);
    // T.81 §F.1.2.3: a 0xFF in entropy-coded data is followed by a stuffed 0x00.
    if (this.acc === 0xff) this.bytes.push(0x00);
    this.acc = 0;
    this.n = 0;
  }

  /** Pads the last byte with 1 bits (T.81 §F.1.2.3). */
  finish(): number[] {
    while (this.n !== 0) this.write(1, 1);
    return this.bytes;
  }
}

function segment(marker: number, payload: readonly number[]): number[] {
  const length = payload.length + 2;
  return [0xff, marker, length >> 8, length & 0xff, ...payload];
}

/**
 * Encodes a greyscale picture of `width`×`height` pixels (each rounded up to a multiple
 * of 8) where `level(bx, by)` gives the 0–255 level of the 8×8 block at column bx, row by.
 */
export function encodeBlockJpeg(width: number, height: number, level: (bx: number, by: number) => number): Buffer {
  const bw = Math.ceil(width / 8);
  const bh = Math.ceil(height / 8);
  const dc = huffmanCodes(DC_BITS, DC_VALS);
  const ac = huffmanCodes(AC_BITS, AC_VALS);
  const bits = new BitWriter();
  let prev = 0;
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const v = Math.max(0, Math.min(255, Math.round(level(bx, by)))) - 128;
      const diff = v - prev;
      prev = v;
      const category = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
      const c = dc.get(category)!;
      bits.write(c.code, c.length);
      // T.81 §F.1.2.1.1: negative differences are sent as diff − 1 in `category` bits.
      if (category > 0) bits.write(diff > 0 ? diff : diff + (1 << category) - 1, category);
      const eob = ac.get(0x00)!;
      bits.write(eob.code, eob.length);
    }
  }
  const w = bw * 8;
  const h = bh * 8;
  const bytes = [
    0xff,
    0xd8, // SOI
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]), // APP0 JFIF 1.1, aspect 1:1
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(8)]), // DQT table 0, 8-bit, all 8
    ...segment(0xc0, [8, h >> 8, h & 0xff, w >> 8, w & 0xff, 1, 1, 0x11, 0]), // SOF0: 8-bit, 1 component, 1×1 sampling, table 0
    ...segment(0xc4, [0x00, ...DC_BITS, ...DC_VALS]), // DHT DC 0
    ...segment(0xc4, [0x10, ...AC_BITS, ...AC_VALS]), // DHT AC 0
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS: component 1, tables 0/0, Ss=0 Se=63 Ah/Al=0
    ...bits.finish(),
    0xff,
    0xd9, // EOI
  ];
  return Buffer.from(bytes);
}

/**
 * The simulated camera's picture: a grey gradient "scene" with a bright band whose place
 * follows `seconds` (so consecutive snapshots differ) and a dark frame.
 */
export function cameraFrame(seconds: number, width = 160, height = 120): Buffer {
  const bw = Math.ceil(width / 8);
  const bh = Math.ceil(height / 8);
  const band = Math.floor(seconds) % bw;
  return encodeBlockJpeg(width, height, (bx, by) => {
    if (bx === 0 || by === 0 || bx === bw - 1 || by === bh - 1) return 24;
    if (bx === band) return 230;
    return 60 + (by * 120) / bh + (bx * 40) / bw;
  });
}
