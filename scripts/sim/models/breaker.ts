/**
 * The `power/breaker` model: a 630 A air circuit breaker on a residential feeder, with an
 * LSIG trip unit, a motor-charged closing spring and remote open/close/reset.
 *
 * - Closed, it carries the feeder's load (`communityLoad`, peak ~400 A) with a small phase
 *   imbalance; the neutral carries the phasor sum of the imbalance plus triplen harmonics;
 *   the residual (earth-leakage) current is a fraction of an ampere.
 * - It never trips by itself. The `breaker-trip` fault (value: the trip cause code, 1–7,
 *   default 1 overload) trips it: contacts open, `tripped` latches, `trip_cause` and
 *   `last_trip_current` say why, counters count. Off = a technician resets and recloses.
 * - Commands are pulses (the coils read back false once done): `open_command` opens;
 *   `reset_command` clears a latched trip (once the fault is gone); `close_command`
 *   closes if not tripped and the spring is charged. Closing discharges the spring; the
 *   motor recharges it in 6 s. While the fault is on, a close trips again at once.
 */
import type { DeviceIo, SimPoint } from '../device-io.js';
import { createFaultSet } from '../faults.js';
import { localHour } from './clock.js';
import { communityLoad } from './daily.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const OWN = [
  'closed',
  'tripped',
  'spring_charged',
  'remote_enabled',
  'breaker_state',
  'trip_cause',
  'current_l1',
  'current_l2',
  'current_l3',
  'current_n',
  'earth_fault_current',
  'last_trip_current',
  'operations',
  'trip_count',
  'rated_current',
  'close_command',
  'open_command',
  'reset_command',
];

const RATED_A = 630;
const PEAK_A = 400;
const SPRING_CHARGE_S = 6;
const STATE = { open: 0, closed: 1, tripped: 2 } as const;
/** Trip causes (the profile's `trip_cause` states). */
export const TRIP_CAUSE = { overload: 1, shortTime: 2, instantaneous: 3, earthFault: 4, undervoltage: 5, shunt: 6, overtemperature: 7 } as const;

export function createBreakerModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#breaker`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));
  const share = [1 + rng.range(-0.06, 0.06), 1 + rng.range(-0.06, 0.06), 1 + rng.range(-0.06, 0.06)];
  let state: number = STATE.closed;
  let cause = 0;
  let lastTripA = 0;
  let springChargeLeft = 0; // s until the spring is charged again
  let operations = Math.floor(rng.range(200, 3000));
  let tripCount = Math.floor(rng.range(0, 12));
  let faultCause: number | undefined;
  let noise = 0;
  let last = ctx.startMs;
  let currents = [0, 0, 0];

  const trip = (code: number) => {
    // The current that tripped it: what each protection acts on, in multiples of In.
    const peak = Math.max(...currents);
    const byCause: Record<number, number> = { 1: Math.max(1.15 * RATED_A, 1.2 * peak), 2: rng.range(4, 8) * RATED_A, 3: rng.range(10, 15) * RATED_A, 4: rng.range(0.25, 0.6) * RATED_A };
    lastTripA = byCause[code] ?? peak;
    cause = code;
    if (state === STATE.closed) operations++;
    state = STATE.tripped;
    tripCount++;
  };
  const close = () => {
    if (state !== STATE.open || springChargeLeft > 0) return;
    state = STATE.closed;
    operations++;
    springChargeLeft = SPRING_CHARGE_S;
    if (faultCause !== undefined) trip(faultCause); // closing onto the fault
  };

  // Pulse commands: act on a client's `true`, then clear the coil as the trip unit does.
  const commands: Record<string, () => void> = {
    close_command: close,
    open_command: () => {
      if (state === STATE.closed) {
        state = STATE.open;
        operations++;
      }
    },
    reset_command: () => {
      if (state === STATE.tripped && faultCause === undefined) state = STATE.open;
    },
  };
  io.onClientWrite((points: SimPoint[]) => {
    for (const p of points) {
      const act = commands[p.spec.name];
      if (act !== undefined && io.get(p) === true) {
        act();
        io.set(p, false);
      }
    }
  });

  const faults = createFaultSet(
    {
      'breaker-trip': {
        description: 'the protection trips the breaker',
        value: { unit: 'code', min: 1, max: 7, default: TRIP_CAUSE.overload, integer: true, description: 'trip cause: 1 L overload, 2 S short-time, 3 I instantaneous, 4 G earth fault, 5 undervoltage, 6 shunt trip, 7 overtemperature' },
      },
    },
    (_name, on, value) => {
      if (on) {
        faultCause = value ?? TRIP_CAUSE.overload;
        if (state === STATE.closed) trip(faultCause);
      } else {
        faultCause = undefined;
        // A technician finds the cause, resets the trip unit and closes the breaker.
        if (state === STATE.tripped) state = STATE.open;
        springChargeLeft = 0;
        close();
      }
    },
  );

  const tick = (nowMs: number) => {
    others.tick(nowMs);
    const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
    last = nowMs;
    springChargeLeft = Math.max(0, springChargeLeft - dt);
    noise += (-noise / 600) * dt + rng.normal(0.04 * Math.sqrt(2 / 600)) * Math.sqrt(dt);
    const closed = state === STATE.closed;
    const load = communityLoad(localHour(nowMs, ctx.timeZone)) * (1 + noise);
    currents = share.map((s) => (closed ? Math.max(0, PEAK_A * load * s * (1 + rng.normal(0.005))) : 0));
    const [a, b, c] = currents as [number, number, number];
    const imbalance = Math.sqrt(Math.max(0, a * a + b * b + c * c - a * b - b * c - c * a));
    const triplen = 0.08 * ((a + b + c) / 3); // 3rd harmonics add up in the neutral
    io.set('current_l1', a);
    io.set('current_l2', b);
    io.set('current_l3', c);
    io.set('current_n', closed ? Math.hypot(imbalance, triplen) : 0);
    io.set('earth_fault_current', closed ? Math.max(0, 0.3 + 0.4 * load + rng.normal(0.03)) : 0);
    io.set('closed', closed);
    io.set('tripped', state === STATE.tripped);
    io.set('spring_charged', springChargeLeft === 0);
    io.set('remote_enabled', true);
    io.set('breaker_state', state);
    io.set('trip_cause', cause);
    io.set('last_trip_current', lastTripA);
    io.set('operations', operations);
    io.set('trip_count', tripCount);
    io.set('rated_current', RATED_A);
  };
  for (const name of Object.keys(commands)) io.set(name, false);
  tick(ctx.startMs);
  return { faults, tick };
}
