/**
 * Signal models of simulated BACnet devices, in the style of scripts/sim/models: seeded
 * (the same seed and tick times give the same values), driven by wall-clock ticks, with
 * daily patterns in the site's time zone. A model reads and writes point values through
 * `PointIo` (present-values; commands of the device's own program at priority 16, so
 * that an operator's command at 8 overrides them, §19.2).
 *
 * - `hvac/ahu`: occupancy from a 07:00–22:00 schedule; supply fan started by the program
 *   when occupied (unless mode is off), speed following its command (τ 5 s); outdoor air
 *   on a daily sinusoid (26–34 °C); a PI loop on the chilled water valve holds supply air at
 *   its setpoint; the coil cools mixed air by up to 14 K at full valve (τ 20 s); filter
 *   pressure drop grows with loading and the square of fan speed; CO₂ follows occupancy.
 * - `hvac/chiller`: a start/stop state machine (off → starting 8 s → running → stopping
 *   5 s), load following the day and the demand limit, leaving chilled water settling
 *   at its setpoint (τ 30 s), return water and condenser temperatures, refrigerant
 *   pressures, compressor current and power from load; rare trips (0.1 a day).
 * - any other profile: analog values slowly wandering in their range, binary values
 *   toggling rarely, multi-states at 1, writable points left to the clients.
 */
import type { DeviceProfile } from '../../../gateway/src/core/config/profile.js';
import { localHour } from '../models/clock.js';
import { createRng, hashString, type Rng } from '../models/prng.js';

export type Value = number | boolean | string;

/** What a model sees of a device. */
export interface PointIo {
  readonly profile: DeviceProfile;
  get(name: string): Value | undefined;
  /** A measured value, or the program's command (priority 16) on a commandable object. */
  set(name: string, value: Value): void;
}

export interface BacnetModel {
  tick(nowMs: number): void;
}

export interface BacnetModelContext {
  readonly io: PointIo;
  readonly deviceId: string;
  readonly seed: number;
  readonly timeZone: string;
  readonly startMs: number;
}

const lag = (x: number, target: number, dt: number, tau: number) => x + (target - x) * (1 - Math.exp(-dt / tau));
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const num = (v: Value | undefined, d: number) => (typeof v === 'number' && Number.isFinite(v) ? v : d);

/** Outdoor temperature of a humid subtropical summer day: min ~26 °C at 05:00, max ~34 °C at 15:00. */
export function outdoorTemperature(hour: number): number {
  return 30 - 4 * Math.cos((2 * Math.PI * (hour - 3)) / 24);
}

export function createAhuModel(ctx: BacnetModelContext): BacnetModel {
  const { io } = ctx;
  const rng = createRng(hashString(`${ctx.deviceId}#ahu`, ctx.seed));
  let last = ctx.startMs;
  const hour0 = localHour(ctx.startMs, ctx.timeZone);
  const occupied0 = hour0 >= 7 && hour0 < 22;
  let speed = occupied0 ? 70 : 0;
  let supply = occupied0 ? 14 : 27;
  let returnAir = 25.5;
  let valve = occupied0 ? 45 : 0;
  let integral = valve;
  let filterLoad = rng.range(0.2, 0.5); // 0 new … 1 clogged
  let co2 = occupied0 ? 750 : 480;
  io.set('supply_air_setpoint', 14);
  io.set('operating_mode', 1);
  io.set('fan_speed_command', 70);
  return {
    tick(nowMs) {
      const dt = Math.max(0, Math.min(5, (nowMs - last) / 1000));
      last = nowMs;
      const hour = localHour(nowMs, ctx.timeZone);
      const occupied = hour >= 7 && hour < 22;
      const mode = num(io.get('operating_mode'), 1);
      io.set('occupied', occupied);
      io.set('supply_fan_command', occupied && mode !== 4);
      const fanOn = io.get('supply_fan_command') === true;
      speed = lag(speed, fanOn ? clamp(num(io.get('fan_speed_command'), 70), 20, 100) : 0, dt, 5);
      const outdoor = outdoorTemperature(hour) + rng.normal(0.05);
      returnAir = lag(returnAir, occupied ? 25.5 + (outdoor - 30) * 0.15 : 27 + (outdoor - 30) * 0.3, dt, 300);
      const mixed = 0.8 * returnAir + 0.2 * outdoor;
      const setpoint = clamp(num(io.get('supply_air_setpoint'), 14), 12, 30);
      // The program's PI loop on the valve (cooling only: mode auto or cooling).
      const cooling = fanOn && (mode === 1 || mode === 2);
      if (cooling) {
        const error = supply - setpoint;
        integral = clamp(integral + 0.4 * error * dt, 0, 100);
        io.set('chilled_water_valve', clamp(integral + 6 * error, 0, 100));
      } else {
        integral = 0;
        io.set('chilled_water_valve', 0);
      }
      valve = lag(valve, num(io.get('chilled_water_valve'), 0), dt, 3);
      const coilDrop = fanOn ? 14 * (valve / 100) ** 0.7 : 0;
      supply = lag(supply, fanOn ? mixed - coilDrop : 0.5 * mixed + 0.5 * 27, dt, 20);
      filterLoad = Math.min(1, filterLoad + (speed / 100) * dt * 2e-7);
      const dp = (60 + 260 * filterLoad) * (speed / 100) ** 2 + Math.abs(rng.normal(1.5));
      co2 = lag(co2, occupied ? 650 + 250 * rng.next() : 450, dt, 600);
      io.set('outdoor_air_temperature', outdoor);
      io.set('return_air_temperature', returnAir + rng.normal(0.03));
      io.set('supply_air_temperature', supply + rng.normal(0.03));
      io.set('return_air_humidity', clamp(55 + (outdoor - 30) * 0.8 + rng.normal(0.3), 20, 95));
      io.set('filter_differential_pressure', dp);
      io.set('supply_fan_speed', Math.max(0, speed + (speed > 1 ? rng.normal(0.2) : 0)));
      io.set('supply_fan_status', speed > 10);
      io.set('filter_alarm', dp > 250);
      io.set('freeze_alarm', supply < 4);
      io.set('return_air_co2', co2);
    },
  };
}

/** Chiller states (the profile's multi-state-input, from 1). */
const OFF = 1;
const STARTING = 2;
const RUNNING = 3;
const STOPPING = 4;
const FAULT = 5;

export function createChillerModel(ctx: BacnetModelContext): BacnetModel {
  const { io } = ctx;
  const rng = createRng(hashString(`${ctx.deviceId}#chiller`, ctx.seed));
  let last = ctx.startMs;
  let state = RUNNING;
  let stateSince = ctx.startMs;
  let chws = 7;
  let chwr = 11;
  let load = 0.6;
  let runHours = Math.floor(rng.range(5000, 30_000));
  let wasCommanded = true;
  io.set('chilled_water_setpoint', 7);
  io.set('demand_limit', 100);
  io.set('start_stop', true);
  return {
    tick(nowMs) {
      const dt = Math.max(0, Math.min(5, (nowMs - last) / 1000));
      last = nowMs;
      const hour = localHour(nowMs, ctx.timeZone);
      const command = io.get('start_stop') === true;
      const elapsed = (nowMs - stateSince) / 1000;
      const go = (s: number) => {
        state = s;
        stateSince = nowMs;
      };
      if (state === FAULT) {
        if (!command && wasCommanded) go(OFF); // a stop command resets the trip
      } else if (command && (state === OFF || state === STOPPING)) go(STARTING);
      else if (!command && (state === RUNNING || state === STARTING)) go(STOPPING);
      else if (state === STARTING && elapsed >= 8) go(RUNNING);
      else if (state === STOPPING && elapsed >= 5) go(OFF);
      else if (state === RUNNING && rng.chance((0.1 * dt) / 86_400)) go(FAULT);
      wasCommanded = command;
      const running = state === RUNNING || state === STARTING;
      const demand = clamp(0.35 + 0.45 * Math.sin((Math.PI * (hour - 8)) / 12) + rng.normal(0.01), 0.15, 1);
      const limit = clamp(num(io.get('demand_limit'), 100), 20, 100) / 100;
      load = lag(load, running ? Math.min(demand, limit) * (state === STARTING ? 0.3 : 1) : 0, dt, 20);
      const setpoint = clamp(num(io.get('chilled_water_setpoint'), 7), 5, 12);
      const loopReturn = 7 + 5 * demand;
      chws = lag(chws, running ? setpoint + Math.max(0, demand - limit) * 6 : loopReturn, dt, 30);
      chwr = lag(chwr, running ? chws + 5 * load : loopReturn, dt, 30);
      const cws = 30 + 2 * Math.sin((Math.PI * (hour - 9)) / 12) + rng.normal(0.05);
      const cwr = cws + 5 * load;
      const current = running ? 60 + 330 * load + rng.normal(1) : 0;
      if (running) runHours += dt / 3600;
      io.set('chilled_water_supply_temperature', chws + rng.normal(0.02));
      io.set('chilled_water_return_temperature', chwr + rng.normal(0.02));
      io.set('condenser_water_supply_temperature', cws);
      io.set('condenser_water_return_temperature', cwr + rng.normal(0.02));
      io.set('compressor_current', Math.max(0, current));
      io.set('power', Math.max(0, (Math.sqrt(3) * 400 * current * 0.9) / 1000));
      io.set('evaporator_pressure', running ? 350 + 12 * (chws - 7) + rng.normal(2) : 420);
      io.set('condenser_pressure', running ? 900 + 28 * (cwr - 35) + 120 * load + rng.normal(3) : 700);
      io.set('chiller_load', load * 100);
      io.set('compressor_running', state === RUNNING || (state === STARTING && elapsed > 3));
      io.set('chiller_fault', state === FAULT);
      io.set('chilled_water_flow', state !== OFF && state !== FAULT);
      io.set('chiller_state', state);
      io.set('compressor_run_hours', Math.floor(runHours * 10) / 10);
    },
  };
}

/** Any profile: plausible values, so every BACnet profile can be simulated. */
export function createGenericBacnetModel(ctx: BacnetModelContext): BacnetModel {
  const { io } = ctx;
  const drivers = ctx.io.profile.points
    .filter((p) => p.access !== 'rw' || (p.address as { object?: { type?: string } }).object?.type !== undefined)
    .map((p) => {
      const rng: Rng = createRng(hashString(`${ctx.deviceId}.${p.name}`, ctx.seed));
      const type = (p.address as { object: { type: string } }).object.type;
      const [lo, hi] = p.range !== undefined ? [p.range[0]!, p.range[1]!] : [0, 100];
      if (p.access === 'rw') {
        const initial = type.startsWith('binary-') ? false : type.startsWith('multi-state-') ? 1 : lo + (hi - lo) * 0.5;
        io.set(p.name, initial);
        return undefined;
      }
      if (type.startsWith('binary-')) {
        let on = rng.chance(0.2);
        return (_t: number, dt: number) => {
          if (rng.chance(1 - Math.exp(-dt / 600))) on = !on;
          io.set(p.name, on);
        };
      }
      if (type.startsWith('multi-state-')) return () => io.set(p.name, 1);
      const center = lo + (hi - lo) * rng.range(0.35, 0.65);
      const amplitude = (hi - lo) * rng.range(0.1, 0.25);
      const periodMs = rng.range(120, 900) * 1000;
      const phase = rng.range(0, 2 * Math.PI);
      return (t: number) => io.set(p.name, clamp(center + amplitude * Math.sin((2 * Math.PI * t) / periodMs + phase) + rng.normal((hi - lo) * 0.003), lo, hi));
    })
    .filter((d): d is (t: number, dt: number) => void => d !== undefined);
  let last = ctx.startMs;
  return {
    tick(nowMs) {
      const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
      last = nowMs;
      for (const d of drivers) d(nowMs, dt);
    },
  };
}

export const BACNET_MODELS: Readonly<Record<string, (ctx: BacnetModelContext) => BacnetModel>> = {
  'hvac/ahu': createAhuModel,
  'hvac/chiller': createChillerModel,
};

export function createBacnetModel(ctx: BacnetModelContext): BacnetModel {
  return (BACNET_MODELS[ctx.io.profile.id] ?? createGenericBacnetModel)(ctx);
}
