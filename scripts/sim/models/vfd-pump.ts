/**
 * The `water/vfd-pump` model: a variable-frequency booster pump of a residential tower.
 *
 * - Demand follows the day in the site's time zone: a night trough (~2–5 h), a morning
 *   peak (~7:30), a midday shoulder and the evening peak (~19:30), plus slow noise.
 * - The drive holds outlet pressure at `pressure_setpoint`: the pump adds
 *   H0·(f/50)² − k·Q² bar to the inlet (mains) pressure (affinity laws with a quadratic
 *   system curve); the drive aims for the frequency that gives the setpoint at the
 *   present flow and settles to it (first-order, τ 1.5 s), within 25–50 Hz; a stop
 *   ramps down at 20 Hz/s. Past 50 Hz it cannot hold the setpoint and pressure sags, as
 *   a real one would.
 * - Motor current from hydraulic power Q·Δp/36 kW over efficiency, at 380 V, PF 0.85.
 * - Bearing temperature settles (τ 10 min) at ambient + a load term; vibration follows
 *   speed (ISO 10816 zone A/B for a healthy pump). `bearingWearPerHour` adds a slowly
 *   growing wear term to both (a hook for failure-prediction work).
 * - Faults over the control API: `bearing-wear` (value: wear per running hour; off = the
 *   bearing is replaced) and `pressure-loss` (value: the share of suction lost, as a low
 *   break tank or an air-locked pump — inlet pressure and pump head fall by it; from 0.8 on
 *   the drive trips on dry running, code 6, after two minutes).
 * - Run hours and energy integrate while running; `start_stop` (coil) starts and stops
 *   the pump; a drive fault stops it until the next stop command resets it (as a drive's
 *   "reset on stop" does). Trips are rare (0.2 a day by default) or from overheating.
 */
import type { DeviceIo } from '../device-io.js';
import { localHour } from './clock.js';
import { createGenericModel } from './generic.js';
import { createFaultSet } from '../faults.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

/** Points this model drives; any other point of the profile gets the generic model. */
const OWN = [
  'outlet_pressure',
  'flow',
  'motor_current',
  'frequency',
  'bearing_temperature',
  'vibration',
  'run_hours',
  'running',
  'fault',
  'remote_mode',
  'fault_code',
  'energy',
  // Written by clients; read here.
  'pressure_setpoint',
  'start_stop',
];

const INLET_BAR = 1.0; // mains pressure at the pump inlet
const SHUTOFF_BOOST_BAR = 8.0; // H0: boost at zero flow and 50 Hz
const FLOW_MAX = 90; // m3/h at full demand
const SYSTEM_K = 4 / (FLOW_MAX * FLOW_MAX); // boost lost at full flow and 50 Hz: 4 bar
const F_MIN = 25;
const F_MAX = 50;
const RAMP_TAU_S = 1.5;
const DECEL_HZ_PER_S = 20; // stop ramp: 50 Hz → 0 in 2.5 s
const BEARING_TAU_S = 600;
const EFFICIENCY = 0.68;
const DEFAULT_SETPOINT_BAR = 4.5;
const SETPOINT_MAX_BAR = 10; // the profile's range of pressure_setpoint

/** Gaussian bump on a 24 h circle. */
function bump(h: number, mu: number, sigma: number): number {
  let d = Math.abs(h - mu);
  d = Math.min(d, 24 - d);
  return Math.exp(-0.5 * (d / sigma) ** 2);
}

/** Fraction 0…1 of the peak water demand at local hour `h`. */
export function dailyDemand(h: number): number {
  const d = 0.06 + 0.55 * bump(h, 7.5, 1.0) + 0.2 * bump(h, 12, 1.5) + 0.15 * bump(h, 15.5, 3) + 0.65 * bump(h, 19.5, 1.6);
  return Math.min(1, Math.max(0.03, d));
}

/** The drive frequency that holds `setpoint` at `flow`, within the drive's limits. */
function frequencyFor(setpoint: number, flow: number): number {
  const needed = (setpoint - INLET_BAR + SYSTEM_K * flow * flow) / SHUTOFF_BOOST_BAR;
  return Math.min(F_MAX, Math.max(F_MIN, F_MAX * Math.sqrt(Math.max(0, needed))));
}

function boostAt(f: number, flow: number): number {
  return Math.max(0, SHUTOFF_BOOST_BAR * (f / 50) ** 2 - SYSTEM_K * flow * flow);
}

export function createVfdPumpModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#vfd-pump`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));
  const baseWearRate = ctx.faults?.bearingWearPerHour ?? 0;
  let wearRate = baseWearRate;
  /** Share 0…1 of suction (inlet pressure and pump head) lost. */
  let suctionLoss = 0;
  let dryRunS = 0;
  const tripsPerDay = ctx.faults?.tripsPerDay ?? 0.2;

  // Initial state: running at the steady state of the moment, so the first reads are plausible.
  if (io.point('pressure_setpoint') !== undefined) io.set('pressure_setpoint', DEFAULT_SETPOINT_BAR);
  io.set('start_stop', true);
  io.set('remote_mode', true);
  const setpoint = () => Math.min(SETPOINT_MAX_BAR, Math.max(0, io.num('pressure_setpoint', DEFAULT_SETPOINT_BAR)));
  // A setpoint written beyond the drive's parameter limit is stored clamped, as drives do.
  io.onClientWrite((points) => {
    if (points.some((p) => p.spec.name === 'pressure_setpoint') && io.num('pressure_setpoint', 0) > SETPOINT_MAX_BAR) io.set('pressure_setpoint', SETPOINT_MAX_BAR);
  });
  let demandNoise = 0;
  let flow = FLOW_MAX * dailyDemand(localHour(ctx.startMs, ctx.timeZone));
  let f = frequencyFor(setpoint(), flow);
  let bearing = 28 + 22 * (f / 50) ** 2;
  let wear = 0;
  let runHours = Math.floor(rng.range(2000, 12_000));
  let runFraction = 0;
  let energy = Math.round(rng.range(20_000, 90_000) * 10) / 10;
  let faultCode = 0;
  let commandWas = true;
  let last = ctx.startMs;

  const faults = createFaultSet(
    {
      'bearing-wear': { description: 'progressive bearing wear: vibration and bearing temperature climb', value: { unit: 'wear/h', min: 0, max: 10, default: 0.25, description: 'wear gained per running hour (1 = failed)' } },
      'pressure-loss': { description: 'loss of suction (low break tank, air-locked pump): outlet pressure falls, then a dry-running trip', value: { unit: 'fraction', min: 0, max: 1, default: 0.9, description: 'share of inlet pressure and head lost' } },
    },
    (name, on, value) => {
      if (name === 'bearing-wear') {
        wearRate = on ? (value ?? 0.25) : baseWearRate;
        if (!on) wear = 0; // turned off = the bearing was replaced
      } else if (name === 'pressure-loss') {
        suctionLoss = on ? (value ?? 0.9) : 0;
        dryRunS = 0;
      }
    },
  );

  return {
    faults,
    tick(nowMs: number) {
      others.tick(nowMs);
      const dt = Math.max(0, Math.min(5, (nowMs - last) / 1000)); // a paused process does not jump
      last = nowMs;

      const command = io.get('start_stop') !== false;
      if (!command && faultCode !== 0) faultCode = 0; // a stop command resets the drive
      if (command && !commandWas) demandNoise = 0;
      commandWas = command;
      const running = command && faultCode === 0;

      // Demand: the daily pattern with a slowly wandering deviation (Ornstein–Uhlenbeck, τ 5 min).
      demandNoise += (-demandNoise / 300) * dt + rng.normal(0.01) * Math.sqrt(dt);
      const demand = Math.min(1, Math.max(0.02, dailyDemand(localHour(nowMs, ctx.timeZone)) * (1 + demandNoise)));
      const flowTarget = running ? FLOW_MAX * demand * (1 - suctionLoss) : 0;
      flow += (flowTarget - flow) * (1 - Math.exp(-dt / 2));

      const sp = setpoint();
      // Running, the drive's pressure loop settles like a first-order lag; stopping is the
      // drive's linear deceleration ramp.
      // Without suction the pressure loop asks for more than the pump gives: it saturates at 50 Hz.
      if (running) f += (frequencyFor(sp / Math.max(0.05, 1 - suctionLoss), flow) - f) * (1 - Math.exp(-dt / RAMP_TAU_S));
      else f = Math.max(0, f - DECEL_HZ_PER_S * dt);
      const pressure = Math.min(16, Math.max(0, (1 - suctionLoss) * (INLET_BAR + boostAt(f, flow)) + rng.normal(0.02)));

      // The motor turns until the stop ramp reaches 0 Hz; the status word says so meanwhile.
      const turning = f > 0;
      const load = (f / 50) ** 2;
      const hydraulicKw = (flow * Math.max(0, pressure - INLET_BAR)) / 36;
      const powerKw = turning ? hydraulicKw / EFFICIENCY + 0.6 * (f / 50) : 0;
      const current = turning ? (powerKw * 1000) / (Math.sqrt(3) * 380 * 0.85) + 2.5 * (f / 50) + rng.normal(0.15) : 0;

      if (running && wearRate > 0) wear = Math.min(1, wear + (wearRate * dt) / 3600);
      const bearingTarget = 28 + 22 * load + 40 * wear * (running ? 1 : 0.3);
      bearing += (bearingTarget - bearing) * (1 - Math.exp(-dt / BEARING_TAU_S)) + rng.normal(0.03);
      const vibration = f > 1 ? 0.9 + 1.3 * load + 8 * wear * load + rng.normal(0.06) : Math.abs(rng.normal(0.03));

      if (turning) {
        runFraction += dt / 3600;
        if (runFraction >= 1) {
          runHours += Math.floor(runFraction);
          runFraction -= Math.floor(runFraction);
        }
        energy += (powerKw * dt) / 3600;
        dryRunS = running && suctionLoss >= 0.8 ? dryRunS + dt : 0;
        if (running && bearing > 95) faultCode = 4; // overheat
        else if (dryRunS >= 120) faultCode = 6; // dry running: the drive's underload protection
        else if (running && tripsPerDay > 0 && rng.chance((tripsPerDay * dt) / 86_400)) faultCode = 1 + Math.floor(rng.next() * 6);
      }

      io.set('outlet_pressure', pressure);
      io.set('flow', Math.max(0, flow * (1 + rng.normal(0.01))));
      io.set('motor_current', Math.max(0, current));
      io.set('frequency', f);
      io.set('bearing_temperature', bearing);
      io.set('vibration', Math.max(0, vibration));
      io.set('run_hours', runHours);
      io.set('energy', energy);
      io.set('running', f > 0);
      io.set('fault', faultCode !== 0);
      io.set('remote_mode', true);
      io.set('fault_code', faultCode);
    },
  };
}
