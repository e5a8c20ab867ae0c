/**
 * The `elevator/traction-elevator` model: one car of a 32-storey residential tower with
 * two basements (landings B2, B1, 1…32; there is no floor 0), 2.0 m/s, 1000 kg.
 *
 * - Passengers call the car at a rate that follows the day in the site's time zone: about
 *   2 calls an hour at night, ~40 in the morning rush (07:00–09:00, mostly down to the
 *   lobby and car park) and ~30 in the evening (18:00–20:00, mostly up from them).
 * - A call is served as up to two runs (to the caller's landing, then to the destination);
 *   each stop opens the doors (2.5 s), holds them (4–8 s) and closes them (3 s). `trips`
 *   counts runs, `door_cycles` door cycles, `run_hours` time moving.
 * - Runs follow a trapezoidal speed profile (0.8 m/s², 2.0 m/s); motor current peaks
 *   while accelerating (inertia) and otherwise follows the car's imbalance against the
 *   counterweight (balanced at 45 % load); the brake is lifted only while moving.
 * - The traction machine warms with the RMS current (τ 30 min) above a machine-room
 *   ambient of ~28 °C.
 * - Levelling error at each stop: N(0, 3 mm). Now and then a lobby crowd overloads the car
 *   for a few seconds at rush hour.
 *
 * Faults over the control API:
 * - `entrapment`: the safety chain opens and the car stops between floors with its doors
 *   closed (fault 7, out of service, `entrapment` set); off = the rescue: the car is
 *   brought to the nearest landing and the doors open.
 * - `door-fault`: at its next stop the car cannot close its doors (fault 3 关门故障, out of
 *   service, doors open); off = the doors close and service resumes.
 */
import type { DeviceIo } from '../device-io.js';
import { createFaultSet } from '../faults.js';
import { localHour } from './clock.js';
import { bump } from './daily.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const OWN = [
  'current_floor',
  'direction',
  'door_state',
  'run_mode',
  'fault_code',
  'motor_current',
  'machine_temperature',
  'leveling_error',
  'car_load',
  'car_speed',
  'car_moving',
  'entrapment',
  'overload',
  'brake_open',
  'door_zone',
  'safety_circuit_ok',
  'trips',
  'run_hours',
  'door_cycles',
];

/** Landings from the bottom: B2, B1, 1…32 (Chinese numbering has no floor 0). */
export const LANDINGS: readonly number[] = [-2, -1, ...Array.from({ length: 32 }, (_, i) => i + 1)];
const LOBBY = LANDINGS.indexOf(1);
const FLOOR_HEIGHT_M = 3;
const RATED_SPEED = 2.0; // m/s
const ACCEL = 0.8; // m/s²
const DOOR_OPENING_S = 2.5;
const DOOR_CLOSING_S = 3;
const DOOR_ZONE_M = 0.2;
const BALANCE_LOAD = 45; // % of rated load the counterweight balances
const MAX_QUEUE = 12; // more waiting calls than this give up (take the stairs or the other car)

const DOOR = { closed: 0, opening: 1, open: 2, closing: 3 } as const;
const MODE = { normal: 0, outOfService: 3 } as const;
const FAULT = { none: 0, doorClose: 3, safetyCircuit: 7 } as const;

/** Calls per hour at local hour `h`. */
export function elevatorCallRate(h: number): number {
  return 1.5 + 6 * bump(h, 14, 4) + 38 * bump(h, 7.9, 0.9) + 12 * bump(h, 12.2, 1) + 30 * bump(h, 18.7, 1.3) + 10 * bump(h, 21.3, 1.5);
}

/** Run time (s) and position (m from the start, at `t` s) of a trapezoidal (or triangular) run over `d` m. */
function runProfile(d: number): { duration: number; at(t: number): { x: number; v: number; phase: 'accel' | 'cruise' | 'decel' } } {
  const accelDist = (RATED_SPEED * RATED_SPEED) / (2 * ACCEL);
  const vPeak = d >= 2 * accelDist ? RATED_SPEED : Math.sqrt(d * ACCEL);
  const ta = vPeak / ACCEL;
  const cruise = Math.max(0, (d - vPeak * ta) / vPeak);
  const duration = 2 * ta + cruise;
  return {
    duration,
    at(t) {
      if (t <= ta) return { x: 0.5 * ACCEL * t * t, v: ACCEL * t, phase: 'accel' };
      if (t <= ta + cruise) return { x: 0.5 * vPeak * ta + vPeak * (t - ta), v: vPeak, phase: 'cruise' };
      const r = Math.max(0, duration - t);
      return { x: d - 0.5 * ACCEL * r * r, v: ACCEL * r, phase: 'decel' };
    },
  };
}

type Phase = 'idle' | 'opening' | 'open' | 'closing' | 'moving' | 'stuck' | 'door-fault';

interface Stop {
  landing: number;
  /** Car load (%) once the doors have opened here. */
  loadAfter: number;
}

export function createTractionElevatorModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#traction-elevator`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));

  let phase: Phase = 'idle';
  let phaseLeft = 0; // s left in a door phase
  let landing = LOBBY;
  let pos = LOBBY * FLOOR_HEIGHT_M; // m above the lowest landing
  let run: { from: number; to: number; t: number; profile: ReturnType<typeof runProfile> } | undefined;
  let stops: Stop[] = [];
  const queue: { from: number; to: number; passengers: number }[] = [];
  let load = 0;
  let overloadLeft = 0;
  let levelingError = Math.round(rng.normal(3));
  let trips = Math.floor(rng.range(200_000, 900_000));
  let doorCycles = trips + Math.floor(rng.range(1000, 50_000));
  let runHours = Math.floor(rng.range(3000, 15_000));
  let runFraction = 0;
  let i2avg = 0; // exponential average of I² (A²), τ 20 min
  let temp = 30;
  let entrapped = false;
  let doorFault = false;
  let last = ctx.startMs;

  const startRun = (to: number) => {
    run = { from: landing, to, t: 0, profile: runProfile(Math.abs(to - landing) * FLOOR_HEIGHT_M) };
    phase = 'moving';
    trips++;
  };

  /** Opens the doors at the stop the car is at; boarding or alighting sets the load. */
  const openHere = () => {
    const stop = stops.shift();
    if (stop !== undefined) load = stop.loadAfter;
    // A lobby crowd in a rush now and then overloads the car until someone steps out.
    if (load > 40 && landing === LOBBY && rng.chance(0.03)) overloadLeft = rng.range(4, 10);
    phase = doorFault ? 'door-fault' : 'opening';
    phaseLeft = DOOR_OPENING_S;
  };

  /** The next stop (a run, or the doors here), a new call, or idle. */
  const next = () => {
    if (stops.length === 0) {
      const call = queue.shift();
      if (call === undefined) {
        phase = 'idle';
        return;
      }
      const boarded = Math.min(95, call.passengers * 7.5 + rng.range(0, 5)); // 75 kg a person, 1000 kg rated
      stops.push({ landing: call.from, loadAfter: boarded }, { landing: call.to, loadAfter: 0 });
    }
    if (stops[0]!.landing === landing) openHere();
    else startRun(stops[0]!.landing);
  };

  const arrive = () => {
    landing = run!.to;
    pos = landing * FLOOR_HEIGHT_M;
    run = undefined;
    levelingError = Math.round(Math.max(-15, Math.min(15, rng.normal(3))));
    openHere();
  };

  /** Moves the state machine `dt` seconds on. */
  const advance = (dt: number) => {
    let left = dt;
    for (let guard = 0; left > 1e-9 && guard < 10_000; guard++) {
      switch (phase) {
        case 'stuck':
        case 'door-fault':
          left = 0;
          break;
        case 'idle':
          if (queue.length === 0) left = 0;
          else next();
          break;
        case 'moving': {
          const r = run!;
          const step = Math.min(left, r.profile.duration - r.t);
          r.t += step;
          left -= step;
          runFraction += step / 3600;
          if (r.t >= r.profile.duration - 1e-9) arrive();
          break;
        }
        default: {
          const step = Math.min(left, phaseLeft);
          phaseLeft -= step;
          left -= step;
          if (phase === 'open' && overloadLeft > 0) {
            overloadLeft = Math.max(0, overloadLeft - step);
            if (overloadLeft === 0) load = Math.min(load, 90);
          }
          if (phaseLeft > 1e-9) break;
          if (phase === 'opening') {
            phase = 'open';
            phaseLeft = rng.range(4, 8) + overloadLeft;
          } else if (phase === 'open') {
            phase = 'closing';
            phaseLeft = DOOR_CLOSING_S;
          } else {
            doorCycles++;
            next();
          }
        }
      }
    }
  };

  const faults = createFaultSet(
    {
      entrapment: { description: 'the car stops between floors with passengers and closed doors (safety circuit open)' },
      'door-fault': { description: 'the doors cannot close at the next stop (关门故障); out of service' },
    },
    (name, on) => {
      if (name === 'entrapment') {
        if (on && !entrapped) {
          entrapped = true;
          if (run !== undefined) pos = run.from * FLOOR_HEIGHT_M + Math.sign(run.to - run.from) * run.profile.at(run.t).x;
          // Out of the door zone, as a car stopped by the safety chain between floors is.
          const off = pos - Math.round(pos / FLOOR_HEIGHT_M) * FLOOR_HEIGHT_M;
          if (Math.abs(off) < 0.5) pos = Math.min((LANDINGS.length - 1) * FLOOR_HEIGHT_M - 1.2, pos + 1.2);
          run = undefined;
          stops = [];
          load = Math.max(load, 15);
          overloadLeft = 0;
          phase = 'stuck';
        } else if (!on && entrapped) {
          // Rescue operation: the car is brought to the nearest landing and the doors open.
          entrapped = false;
          landing = Math.round(pos / FLOOR_HEIGHT_M);
          pos = landing * FLOOR_HEIGHT_M;
          levelingError = Math.round(rng.normal(5));
          stops = [];
          load = 0; // the passengers step out
          queue.length = 0;
          phase = doorFault ? 'door-fault' : 'opening';
          phaseLeft = DOOR_OPENING_S;
        }
      } else if (name === 'door-fault') {
        doorFault = on;
        if (on && !entrapped && phase !== 'moving') phase = 'door-fault';
        else if (!on && phase === 'door-fault') {
          phase = 'closing';
          phaseLeft = DOOR_CLOSING_S;
        }
      }
    },
  );

  const write = (now: number, dtRun: number) => {
    const moving = phase === 'moving' && run !== undefined;
    let speed = 0;
    let accelerating = false;
    let decelerating = false;
    if (moving) {
      const at = run!.profile.at(run!.t);
      pos = run!.from * FLOOR_HEIGHT_M + Math.sign(run!.to - run!.from) * at.x;
      speed = at.v;
      accelerating = at.phase === 'accel';
      decelerating = at.phase === 'decel';
    }
    const nearest = Math.max(0, Math.min(LANDINGS.length - 1, Math.round(pos / FLOOR_HEIGHT_M)));
    const inZone = Math.abs(pos - nearest * FLOOR_HEIGHT_M) < DOOR_ZONE_M;
    const imbalance = Math.abs(load - BALANCE_LOAD);
    let current = 0;
    if (moving) {
      const steady = 8 + 0.3 * imbalance;
      current = accelerating ? steady + 22 * Math.min(1, speed / 0.4) : decelerating ? steady * 0.6 : steady;
      current = Math.max(0, current + rng.normal(0.3));
    }
    // Machine heating follows I²: an exponential average of it (τ 20 min) drives the temperature (τ 30 min).
    i2avg += (current * current - i2avg) * (1 - Math.exp(-dtRun / 1200));
    const ambient = 28 + 2 * Math.sin((2 * Math.PI * (localHour(now, ctx.timeZone) - 9)) / 24);
    const target = ambient + 45 * (i2avg / (32 * 32));
    temp += (target - temp) * (1 - Math.exp(-dtRun / 1800)) + rng.normal(0.02);

    let doorState: number = DOOR.closed;
    if (phase === 'opening') doorState = DOOR.opening;
    else if (phase === 'open' || phase === 'door-fault') doorState = DOOR.open;
    else if (phase === 'closing') doorState = DOOR.closing;
    const direction = moving ? (run!.to > run!.from ? 1 : 2) : 0;
    const faultCode = entrapped ? FAULT.safetyCircuit : doorFault && phase === 'door-fault' ? FAULT.doorClose : FAULT.none;
    if (runFraction >= 1) {
      runHours += Math.floor(runFraction);
      runFraction -= Math.floor(runFraction);
    }

    io.set('current_floor', LANDINGS[nearest]!);
    io.set('direction', direction);
    io.set('door_state', doorState);
    io.set('run_mode', faultCode === FAULT.none ? MODE.normal : MODE.outOfService);
    io.set('fault_code', faultCode);
    io.set('motor_current', current);
    io.set('machine_temperature', temp);
    io.set('leveling_error', entrapped ? Math.round((pos - nearest * FLOOR_HEIGHT_M) * 1000) : levelingError);
    io.set('car_load', Math.max(0, Math.round(overloadLeft > 0 && phase === 'open' ? 105 + imbalance / 10 : load)));
    io.set('car_speed', speed);
    io.set('car_moving', moving);
    io.set('entrapment', entrapped);
    io.set('overload', overloadLeft > 0 && phase === 'open');
    io.set('brake_open', moving);
    io.set('door_zone', inZone);
    io.set('safety_circuit_ok', !entrapped);
    io.set('trips', trips);
    io.set('run_hours', runHours);
    io.set('door_cycles', doorCycles);
  };

  write(ctx.startMs, 0);

  return {
    faults,
    tick(nowMs: number) {
      others.tick(nowMs);
      const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
      last = nowMs;
      // Calls arrive as a Poisson process; only a car in service takes them.
      if (!entrapped && !doorFault && dt > 0) {
        const h = localHour(nowMs, ctx.timeZone);
        let expected = (elevatorCallRate(h) * dt) / 3600;
        while (expected > 0 && queue.length < MAX_QUEUE) {
          if (!rng.chance(Math.min(1, expected))) break;
          expected -= 1;
          const pDown = 0.5 + 0.35 * bump(h, 7.9, 1.2) - 0.3 * bump(h, 18.7, 1.5);
          const home = 2 + Math.floor(rng.next() * (LANDINGS.length - 2)); // 1…32 (index 2 is floor 1)
          const ground = rng.chance(0.3) ? Math.floor(rng.next() * 2) : LOBBY; // the car park or the lobby
          const dest = home === ground ? home + 1 : home;
          const rush = bump(h, 7.9, 1) + bump(h, 18.7, 1.3);
          const passengers = 1 + Math.floor(rng.next() * (2 + 5 * rush));
          queue.push(rng.chance(pDown) ? { from: dest, to: ground, passengers } : { from: ground, to: dest, passengers });
        }
      }
      advance(dt);
      write(nowMs, dt);
    },
  };
}
