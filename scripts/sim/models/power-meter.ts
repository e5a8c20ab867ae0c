/**
 * The `power/power-meter` model: a three-phase four-wire meter on a residential feeder
 * (peak ~240 kW) at 230 V phase-to-neutral no-load (China's 220 V nominal, transformer taps
 * set high as usual).
 *
 * - Active power follows `communityLoad` in the site's time zone, with a slow wandering
 *   deviation (Ornstein–Uhlenbeck, τ 10 min, 4 %) and a fixed phase imbalance of a few
 *   percent per phase (single-phase flats spread over the phases).
 * - Power factor 0.92–0.96, lower at high load (compressors); reactive and apparent power
 *   follow from it.
 * - Phase voltages sag with their phase's load (feeder impedance); line voltages from the
 *   phasors at 120°; currents S/U per phase; frequency 50 Hz ± a few hundredths.
 * - Voltage THD 2–4 % rising with load; current THD highest at light load (LED drivers,
 *   inverter air conditioners dominate the night).
 * - Energy counters integrate import (active and inductive reactive); nothing is exported
 *   (no generation on this feeder), so the export counters hold their commissioning value.
 */
import type { DeviceIo } from '../device-io.js';
import { localHour } from './clock.js';
import { communityLoad } from './daily.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const OWN = [
  'voltage_l1_l2',
  'voltage_l2_l3',
  'voltage_l3_l1',
  'voltage_l1',
  'voltage_l2',
  'voltage_l3',
  'current_l1',
  'current_l2',
  'current_l3',
  'active_power',
  'active_power_l1',
  'active_power_l2',
  'active_power_l3',
  'reactive_power',
  'apparent_power',
  'power_factor',
  'frequency',
  'thd_voltage_l1',
  'thd_voltage_l2',
  'thd_voltage_l3',
  'thd_current_l1',
  'thd_current_l2',
  'thd_current_l3',
  'energy_import',
  'energy_export',
  'reactive_energy_import',
  'reactive_energy_export',
  'energy_import_wh',
  'energy_export_wh',
];

const PEAK_KW = 240;
const NO_LOAD_V = 230;
const SAG_V_PER_KW = 0.12; // per phase: ~10 V at a phase's peak of 80 kW
const PHASES = ['l1', 'l2', 'l3'] as const;

/** Line voltage between two phase voltages 120° apart. */
const lineVoltage = (a: number, b: number) => Math.sqrt(a * a + b * b + a * b);

export function createPowerMeterModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#power-meter`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));
  // Phase shares: a few percent apart, summing to 3.
  const skew = [rng.range(-0.08, 0.08), rng.range(-0.08, 0.08)];
  const share = [1 + skew[0]!, 1 + skew[1]!, 1 - skew[0]! - skew[1]!];
  let noise = 0;
  let fNoise = 0;
  let importKwh = Math.round(rng.range(200_000, 2_000_000));
  const exportKwh = Math.round(rng.range(0, 50) * 100) / 100;
  let reactiveKvarh = importKwh * 0.3;
  const capacitiveKvarh = Math.round(rng.range(100, 5000));
  let last = ctx.startMs;

  const tick = (nowMs: number) => {
    others.tick(nowMs);
    const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
    last = nowMs;
    noise += (-noise / 600) * dt + rng.normal(0.04 * Math.sqrt(2 / 600)) * Math.sqrt(dt);
    fNoise += (-fNoise / 120) * dt + rng.normal(0.02 * Math.sqrt(2 / 120)) * Math.sqrt(dt);
    const load = communityLoad(localHour(nowMs, ctx.timeZone));
    const p = Math.max(5, PEAK_KW * load * (1 + noise));
    const pf = Math.min(0.99, Math.max(0.85, 0.96 - 0.04 * load + rng.normal(0.003)));
    const tanPhi = Math.sqrt(1 / (pf * pf) - 1);

    let pSum = 0;
    let qSum = 0;
    let sSum = 0;
    const volts: number[] = [];
    PHASES.forEach((ph, i) => {
      const pi = (p / 3) * share[i]! * (1 + rng.normal(0.004));
      const qi = pi * tanPhi;
      const si = Math.hypot(pi, qi);
      const v = NO_LOAD_V - SAG_V_PER_KW * pi + rng.normal(0.15);
      volts.push(v);
      pSum += pi;
      qSum += qi;
      sSum += si;
      io.set(`voltage_${ph}`, v);
      io.set(`current_${ph}`, (si * 1000) / v);
      io.set(`active_power_${ph}`, pi);
      io.set(`thd_voltage_${ph}`, Math.max(0, 2 + 1.8 * load + rng.normal(0.05)));
      io.set(`thd_current_${ph}`, Math.max(0, 22 - 12 * load + rng.normal(0.4)));
    });
    io.set('voltage_l1_l2', lineVoltage(volts[0]!, volts[1]!));
    io.set('voltage_l2_l3', lineVoltage(volts[1]!, volts[2]!));
    io.set('voltage_l3_l1', lineVoltage(volts[2]!, volts[0]!));
    io.set('active_power', pSum);
    io.set('reactive_power', qSum);
    io.set('apparent_power', sSum);
    io.set('power_factor', pSum / sSum);
    io.set('frequency', 50 + Math.max(-0.2, Math.min(0.2, fNoise)));

    importKwh += (pSum * dt) / 3600;
    reactiveKvarh += (qSum * dt) / 3600;
    io.set('energy_import', importKwh);
    io.set('energy_export', exportKwh);
    io.set('reactive_energy_import', reactiveKvarh);
    io.set('reactive_energy_export', capacitiveKvarh);
    io.set('energy_import_wh', Math.floor(importKwh * 1000));
    io.set('energy_export_wh', Math.floor(exportKwh * 1000));
  };
  tick(ctx.startMs);
  return { tick };
}
