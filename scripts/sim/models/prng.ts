/**
 * A small seeded PRNG so that a simulation given a seed is repeatable: mulberry32
 * (Tommy Ettinger, public domain), 32-bit state, good enough for signal noise.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform in [min, max). */
  range(min: number, max: number): number;
  /** Normal with mean 0 and standard deviation `sigma` (Box–Muller). */
  normal(sigma?: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
}

/** FNV-1a of a string: derives independent seeds per device and point from one seed. */
export function hashString(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    range: (min, max) => min + (max - min) * next(),
    normal: (sigma = 1) => {
      const u = 1 - next(); // (0, 1]: log(0) would be −∞
      return sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    chance: (p) => next() < p,
  };
}
