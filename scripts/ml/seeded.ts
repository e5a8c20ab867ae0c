/**
 * Deterministic training. TF.js layers take seeds for their initialisers, but shuffling in
 * `fit`, dropout masks and unseeded initialisers draw from `Math.random`; while `fn` runs,
 * `Math.random` is a seeded mulberry32, so the same seed gives the same weights on the same
 * backend.
 */
import { createRng } from '../sim/models/prng.js';

export async function withSeed<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const rng = createRng(seed);
  Math.random = () => rng.next();
  try {
    return await fn();
  } finally {
    Math.random = original;
  }
}
