/**
 * A signal model: drives the points of one simulated device over time. It writes into
 * the device's banks through DeviceIo and reacts to what clients write (a start command,
 * a new setpoint).
 */
import type { DeviceIo } from '../device-io.js';
import type { FaultControl } from '../faults.js';

export interface SignalModel {
  /** Advances the model to wall-clock time `nowMs` (ms epoch) and writes the new values. */
  tick(nowMs: number): void;
  /** Faults the control API can turn on and off while the model runs (none when absent). */
  readonly faults?: FaultControl;
}

/** Faults injected into a model from its start (`SimulatorOptions.faults`), for tests and for ML work. */
export interface ModelFaults {
  /**
   * Progressive bearing wear, in wear units (0 = new, 1 = failed) gained per hour of
   * running; shows as rising vibration and bearing temperature. 0 = off.
   */
  readonly bearingWearPerHour?: number;
  /** Drive trips (random fault codes) per day of running; the vfd-pump default is 0.2. */
  readonly tripsPerDay?: number;
}

export interface ModelContext {
  readonly io: DeviceIo;
  readonly deviceId: string;
  /** Seed of the device's PRNGs (the same seed gives the same signals for the same tick times). */
  readonly seed: number;
  /** IANA time zone of the site, for daily patterns. */
  readonly timeZone: string;
  /** Time of the first tick (ms epoch). */
  readonly startMs: number;
  readonly faults?: ModelFaults;
}

export type ModelFactory = (ctx: ModelContext) => SignalModel;
