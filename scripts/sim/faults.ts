/**
 * Fault injection for simulated devices: the catalogue of fault names the control API
 * accepts, the `FaultControl` a device offers (what it can take, what is on), and the
 * helpers that build one — from a model's own faults and from its Modbus server's
 * (`comms-loss`, `slow-responses`), which every Modbus device has.
 *
 * A fault is on or off; some take a value (a wear rate, a delay, a zone), checked against
 * the fault's spec here so that every device answers a bad value the same way.
 */
import type { ModbusServer, ServerFaults } from './modbus-server.js';

/**
 * Every fault name the control API knows. `camera-tamper` is a hook for the ONVIF camera
 * simulator: no Modbus device offers it.
 */
export const FAULT_NAMES = ['bearing-wear', 'pressure-loss', 'door-fault', 'entrapment', 'breaker-trip', 'comms-loss', 'slow-responses', 'fire-alarm', 'camera-tamper'] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

export function isFaultName(name: string): name is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(name);
}

/** What a fault's `value` means on one device, when it takes one. */
export interface FaultValueSpec {
  readonly unit: string;
  readonly min: number;
  readonly max: number;
  /** Used when `on: true` comes without a value. */
  readonly default: number;
  /** Whole numbers only (zones, doors, codes). */
  readonly integer?: boolean;
  /** Several values can be on at once (fire zones, doors): `on` adds one, `off` with a value removes it. */
  readonly multiple?: boolean;
  readonly description: string;
}

export interface FaultSpec {
  readonly description: string;
  readonly value?: FaultValueSpec;
}

export type FaultSpecs = Readonly<Partial<Record<FaultName, FaultSpec>>>;

/** Why a fault could not be set: `unknown` (the device has no such fault) or `value` (a bad value). */
export class FaultError extends Error {
  constructor(
    readonly reason: 'unknown' | 'value',
    message: string,
  ) {
    super(message);
    this.name = 'FaultError';
  }
}

export type ActiveFaults = Readonly<Partial<Record<FaultName, number | readonly number[] | null>>>;

/** The faults of one simulated device. */
export interface FaultControl {
  /** The faults this device can take. */
  readonly specs: FaultSpecs;
  /**
   * Turns a fault on (with `value`, or the spec's default) or off. `value` with `on: false`
   * means "only that one" where a fault holds several (fire zones, doors). Throws
   * `FaultError` for a fault the device does not have or a value outside the spec.
   */
  setFault(name: string, on: boolean, value?: number): void;
  /** The faults on now: the value, the values of a `multiple` fault, or null for a fault without one. */
  active(): ActiveFaults;
  /** Turns every fault off. */
  clear(): void;
}

/** Checks `value` against the spec; returns the value to apply (the default when none was given). */
function checkedValue(name: string, spec: FaultSpec, on: boolean, value: number | undefined): number | undefined {
  const v = spec.value;
  if (value === undefined) return on ? v?.default : undefined;
  if (v === undefined) throw new FaultError('value', `fault ${name} takes no value`);
  if (!Number.isFinite(value) || value < v.min || value > v.max || (v.integer === true && !Number.isInteger(value))) {
    throw new FaultError('value', `value of ${name} must be ${v.integer === true ? 'an integer' : 'a number'} ${v.min}–${v.max} (${v.unit}: ${v.description}), got ${value}`);
  }
  return value;
}

/**
 * A FaultControl over `specs` that keeps the on/off state and calls `apply` with checked
 * values: the models only say what a fault does.
 */
export function createFaultSet(specs: FaultSpecs, apply: (name: FaultName, on: boolean, value: number | undefined) => void): FaultControl {
  const active = new Map<FaultName, number | number[] | null>();
  const specOf = (name: string): [FaultName, FaultSpec] => {
    const spec = isFaultName(name) ? specs[name] : undefined;
    if (spec === undefined) throw new FaultError('unknown', `no fault ${name} here (faults: ${Object.keys(specs).join(', ') || 'none'})`);
    return [name as FaultName, spec];
  };
  return {
    specs,
    setFault(name, on, value) {
      const [fault, spec] = specOf(name);
      const v = checkedValue(fault, spec, on, value);
      apply(fault, on, v);
      if (spec.value?.multiple === true) {
        const values = new Set(on || v !== undefined ? ((active.get(fault) as number[] | undefined) ?? []) : []);
        if (on) values.add(v!);
        else if (v !== undefined) values.delete(v);
        if (values.size > 0) active.set(fault, [...values].sort((a, b) => a - b));
        else active.delete(fault);
      } else if (on) active.set(fault, v ?? null);
      else active.delete(fault);
    },
    active: () => Object.fromEntries([...active].map(([k, v]) => [k, Array.isArray(v) ? [...v] : v])),
    clear() {
      for (const fault of [...active.keys()]) {
        apply(fault, false, undefined);
        active.delete(fault);
      }
    },
  };
}

/** One FaultControl over several (a model's and its server's); each fault belongs to the first that has it. */
export function combineFaults(...controls: readonly FaultControl[]): FaultControl {
  const owner = new Map<string, FaultControl>();
  for (const c of controls) for (const name of Object.keys(c.specs)) if (!owner.has(name)) owner.set(name, c);
  const specs: Partial<Record<FaultName, FaultSpec>> = {};
  for (const [name, c] of owner) specs[name as FaultName] = c.specs[name as FaultName]!;
  return {
    specs,
    setFault(name, on, value) {
      const c = owner.get(name);
      if (c === undefined) throw new FaultError('unknown', `no fault ${name} here (faults: ${Object.keys(specs).join(', ') || 'none'})`);
      c.setFault(name, on, value);
    },
    active: () => Object.assign({}, ...controls.map((c) => c.active())) as ActiveFaults,
    clear() {
      for (const c of controls) c.clear();
    },
  };
}

/** The faults of a model that has none. */
export const NO_FAULTS: FaultControl = createFaultSet({}, () => undefined);

/**
 * The faults every Modbus device has, through its server:
 * - `comms-loss`: the device stops answering (requests are read, never answered), so the
 *   gateway times out. A device alone on its server stalls the server; a unit behind a
 *   shared port falls silent alone, as a dead unit on an RS-485 bus does.
 * - `slow-responses`: every answer of the server is delayed — on a shared port, the whole
 *   port's, as a slow Modbus gateway is.
 */
export function serverFaultControl(server: ModbusServer, unitIds: readonly number[], shared: boolean): FaultControl {
  const update = (change: (f: ServerFaults) => ServerFaults) => server.setFaults(change({ ...server.faults }));
  return createFaultSet(
    {
      'comms-loss': { description: 'the device stops answering; requests time out' },
      'slow-responses': {
        description: shared ? 'every answer on this port is delayed (shared by the devices on it)' : 'every answer is delayed',
        value: { unit: 'ms', min: 1, max: 60_000, default: 500, integer: true, description: 'delay of each answer' },
      },
    },
    (name, on, value) => {
      if (name === 'comms-loss') {
        update((f) => {
          if (!shared) return { ...f, stall: on };
          const silent = new Set(f.silentUnits ?? []);
          for (const unit of unitIds) {
            if (on) silent.add(unit);
            else silent.delete(unit);
          }
          return { ...f, silentUnits: [...silent] };
        });
      } else if (name === 'slow-responses') {
        update((f) => {
          const { delayMs: _old, ...rest } = f;
          return on && value !== undefined ? { ...rest, delayMs: value } : rest;
        });
      }
    },
  );
}
