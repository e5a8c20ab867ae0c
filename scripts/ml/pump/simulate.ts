/**
 * Pump telemetry straight from the simulator's `water/vfd-pump` model (scripts/sim/models/
 * vfd-pump.ts), without Modbus: the model is ticked every `tickSeconds` of simulated time
 * and the six analogue points are sampled every `stepSeconds`, as the gateway's poller
 * would see them (through the same register encoding: int16 × 0.1 °C, uint16 × 0.01 …).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProfile } from '../../../gateway/src/core/config/load.js';
import type { DeviceProfile } from '../../../gateway/src/core/config/profile.js';
import { protocolSchemas } from '../../../gateway/src/drivers/schemas.js';
import { banksFor, DeviceIo } from '../../sim/device-io.js';
import { createVfdPumpModel } from '../../sim/models/vfd-pump.js';

/** The points the pump models read, in the networks' input order. */
export const PUMP_INPUTS = ['outlet_pressure', 'flow', 'motor_current', 'frequency', 'bearing_temperature', 'vibration'] as const;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
let profile: DeviceProfile | undefined;
export function pumpProfile(): DeviceProfile {
  profile ??= loadProfile(path.join(root, 'device-profiles/water/vfd-pump.yaml'), protocolSchemas);
  return profile;
}

export interface PumpRun {
  /** Sample times (ms epoch). */
  readonly ts: number[];
  /** [sample][input] in PUMP_INPUTS order. */
  readonly rows: number[][];
  /** Sample index at which a fault was switched on (−1: none). */
  readonly faultAt: number;
  /** Sample index at which the bearing reached wear 1 (failed), −1 if it did not. */
  readonly failedAt: number;
  /** Bearing wear (0…1) at each sample: the health index the failure model learns. */
  readonly wear: number[];
}

export interface PumpRunOptions {
  readonly seed: number;
  readonly device: string;
  readonly startMs: number;
  readonly hours: number;
  readonly stepSeconds: number;
  /** Switch a fault on after this many hours. */
  readonly fault?: { readonly name: 'bearing-wear' | 'pressure-loss'; readonly value: number; readonly afterHours: number };
}

const TICK_S = 5;

export function simulatePump(o: PumpRunOptions): PumpRun {
  const p = pumpProfile();
  const banks = banksFor(p, 1);
  const io = new DeviceIo(p, 1, (u) => banks.get(u)!);
  const model = createVfdPumpModel({ io, deviceId: o.device, seed: o.seed, timeZone: 'Asia/Shanghai', startMs: o.startMs, faults: { tripsPerDay: 0 } });
  const ts: number[] = [];
  const rows: number[][] = [];
  const wear: number[] = [];
  let faultAt = -1;
  let failedAt = -1;
  let w = 0;
  const steps = Math.floor((o.hours * 3600) / o.stepSeconds);
  const ticksPerStep = Math.max(1, Math.round(o.stepSeconds / TICK_S));
  let now = o.startMs;
  for (let s = 0; s < steps; s++) {
    for (let k = 0; k < ticksPerStep; k++) {
      now += (o.stepSeconds / ticksPerStep) * 1000;
      model.tick(now);
      if (o.fault?.name === 'bearing-wear' && faultAt >= 0) w = Math.min(1, w + (o.fault.value * (o.stepSeconds / ticksPerStep)) / 3600);
    }
    if (o.fault !== undefined && faultAt < 0 && now - o.startMs >= o.fault.afterHours * 3_600_000) {
      faultAt = s;
      model.faults?.setFault(o.fault.name, true, o.fault.value);
    }
    if (w >= 1 && failedAt < 0) failedAt = s;
    ts.push(now);
    rows.push(PUMP_INPUTS.map((name) => io.num(name, 0)));
    wear.push(w);
  }
  return { ts, rows, faultAt, failedAt, wear };
}
