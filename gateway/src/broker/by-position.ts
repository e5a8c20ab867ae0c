/**
 * Publication by exception's two steps, shared by the broker in the poller's thread
 * (broker.ts) and the worker mode's main side (remote.ts): each process runs one of them
 * on its poll path, so the property accesses below see one slot class there.
 */
import type { Reading, Value } from '../core/model.js';

/**
 * The slot of a device's reading `i`: a device reports its points in the same order every
 * poll, so it is the slot found at `i` last time; a look-up by id only when the order
 * changed or the point is new (then remembered at `i`). Undefined for a point not seen yet.
 */
export function slotAt<S extends { readonly id: string }>(order: (S | undefined)[], byId: ReadonlyMap<string, S>, i: number, id: string): S | undefined {
  let p = order[i];
  if (p === undefined || p.id !== id) {
    p = byId.get(id);
    if (p !== undefined) order[i] = p;
  }
  return p;
}

/** Takes `r` into the slot if its value or quality changed since; false (and nothing changed) otherwise. */
export function takeChange(p: { v: Value | null; ts: number; q: Reading['quality'] }, r: Reading): boolean {
  if (p.v === r.value && p.q === r.quality) return false;
  p.v = r.value;
  p.ts = r.ts;
  p.q = r.quality;
  return true;
}
