/**
 * The generic model: plausible values for any profile, so that `steward sim` serves
 * devices nobody wrote a model for. Per point, by what the profile says of it:
 *
 * - writable (`access: rw`): set once to a plausible value, then left to the clients;
 * - `bool`/`bits`: mostly false, toggling rarely (mean dwell 10 min);
 * - coded values (`states`): mostly the first state, now and then another for a minute;
 * - counters (no range, name like *hours*, *energy*, *count*, *total*): increasing;
 * - numbers with a `range`: a slow sinusoid (period 2–15 min) inside the range, plus noise;
 * - other numbers: the same in 0…100;
 * - strings: fixed (`SIM-<device id>`).
 */
import type { DeviceIo, SimPoint } from '../device-io.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const COUNTER_NAME = /hour|energy|kwh|mwh|count|total|starts|cycles|runtime|volume|consum/;

type Driver = (t: number, dt: number) => number | boolean | string | undefined;

/** The point's range, or 0…100 when it has none. */
function plausible(spec: SimPoint['spec']): { lo: number; hi: number } {
  const range = spec.range;
  return range !== undefined && range[0]! < range[1]! ? { lo: range[0]!, hi: range[1]! } : { lo: 0, hi: 100 };
}

function driverFor(p: SimPoint, ctx: ModelContext): Driver {
  const rng = createRng(hashString(`${ctx.deviceId}.${p.spec.name}`, ctx.seed));
  const { spec } = p;
  const type = p.layout.type;

  if (type === 'string') {
    const text = `SIM-${ctx.deviceId}`;
    return () => text;
  }

  if (type === 'bool' || type === 'bits') {
    let on = rng.chance(0.2);
    let first = true;
    return (_t, dt) => {
      if (spec.access === 'rw') {
        if (!first) return undefined;
        first = false;
        return on;
      }
      if (rng.chance(1 - Math.exp(-dt / 600))) on = !on;
      return on;
    };
  }

  const states = spec.states === undefined ? [] : Object.keys(spec.states).map(Number).filter(Number.isFinite);
  if (states.length > 0 && spec.access !== 'rw') {
    const normal = states[0]!;
    let current = normal;
    let until = 0;
    return (t, dt) => {
      if (current !== normal && t >= until) current = normal;
      else if (current === normal && states.length > 1 && rng.chance(1 - Math.exp(-dt / 3600))) {
        current = states[1 + Math.floor(rng.next() * (states.length - 1))]!;
        until = t + 60_000;
      }
      return current;
    };
  }

  const { lo, hi } = plausible(spec);
  const span = hi - lo;

  if (spec.access === 'rw') {
    let first = true;
    const initial = states[0] ?? lo + span * rng.range(0.3, 0.7);
    return () => {
      if (!first) return undefined;
      first = false;
      return initial;
    };
  }

  if (spec.range === undefined && COUNTER_NAME.test(spec.name)) {
    let value = rng.range(1000, 20_000);
    const perSecond = /hour/.test(spec.name) ? 1 / 3600 : rng.range(0.001, 0.05);
    return (_t, dt) => (value += perSecond * dt);
  }

  const center = lo + span * rng.range(0.35, 0.65);
  const amplitude = span * rng.range(0.1, 0.25);
  const periodMs = rng.range(120, 900) * 1000;
  const phase = rng.range(0, 2 * Math.PI);
  const sigma = span * 0.005;
  return (t) => Math.min(hi, Math.max(lo, center + amplitude * Math.sin((2 * Math.PI * t) / periodMs + phase) + rng.normal(sigma)));
}

/** The generic model over `ctx.io`'s points, except those named in `skip` (driven by a specific model). */
export function createGenericModel(ctx: ModelContext, skip: ReadonlySet<string> = new Set()): SignalModel {
  const io: DeviceIo = ctx.io;
  const drivers = io.points.filter((p) => !skip.has(p.spec.name)).map((p) => ({ p, drive: driverFor(p, ctx) }));
  let last = ctx.startMs;
  return {
    tick(nowMs: number) {
      const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
      last = nowMs;
      for (const { p, drive } of drivers) {
        const v = drive(nowMs, dt);
        if (v !== undefined) io.set(p, v);
      }
    },
  };
}
