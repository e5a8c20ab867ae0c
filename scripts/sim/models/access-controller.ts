/**
 * The `access/access-controller` model: two pedestrian gates and a car-park barrier of a
 * residential community.
 *
 * - Card and face events arrive per door as Poisson processes whose rates follow the day
 *   in the site's time zone (a couple an hour at night; ~60 an hour at a gate in the
 *   morning and evening rushes; the barrier's peaks a little earlier and later). About
 *   93 % are granted; the denied ones are unknown, expired, not-this-door or
 *   out-of-schedule cards. People leaving press the exit button (event 7, not counted).
 * - A granted swipe, an exit button or a remote open unlocks the door for `unlock_time`
 *   (default 5 s, writable); the door opens after about a second, stays open 2–6 s (a
 *   barrier 5–10 s, for a car) and closes, and the lock engages again. One opening in
 *   300 is held open 40–120 s: after 30 s it reads "held open" (event 9).
 * - Remote open (`door_N_open_command`) is a pulse: the controller acts and clears it.
 * - Fault `door-fault` (value: the door, 1–3; several at once): that door is forced open —
 *   opened while locked (state 3, event 8) — until the fault is turned off.
 */
import type { DeviceIo, SimPoint } from '../device-io.js';
import { createFaultSet } from '../faults.js';
import { localHour } from './clock.js';
import { bump } from './daily.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const DOORS = 3;
const OWN = [
  ...[1, 2, 3].flatMap((n) => [`door_${n}_state`, `door_${n}_locked`, `door_${n}_open_command`]),
  'tamper',
  'granted_count',
  'denied_count',
  'last_event',
  'last_event_door',
  'unlock_time',
];

const STATE = { closed: 0, open: 1, heldOpen: 2, forced: 3 } as const;
export const EVENT = { granted: 1, unknownCard: 2, expired: 3, noRight: 4, outsideSchedule: 5, remoteOpen: 6, exitButton: 7, forced: 8, heldOpen: 9 } as const;
const HELD_OPEN_AFTER_S = 30;
const DENIED_SHARE = 0.07;

/** Card events per hour at a pedestrian gate (`barrier` false) or the car-park barrier, at local hour `h`. */
export function swipeRate(h: number, barrier: boolean): number {
  return barrier
    ? 1 + 5 * bump(h, 14, 4) + 40 * bump(h, 7.6, 0.9) + 35 * bump(h, 18.9, 1.4) + 10 * bump(h, 21.5, 1.2)
    : 1.5 + 15 * bump(h, 14, 4) + 55 * bump(h, 7.8, 1) + 20 * bump(h, 12, 1.2) + 50 * bump(h, 18.7, 1.5) + 20 * bump(h, 21, 1.5);
}

interface Door {
  /** Seconds until the door opens (after an unlock), or -1. */
  opensIn: number;
  /** Seconds the door stays open once open. */
  openLeft: number;
  /** Seconds the lock stays released. */
  unlockLeft: number;
  open: boolean;
  openFor: number;
  held: boolean;
  forced: boolean;
}

export function createAccessControllerModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#access`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));
  const doors: Door[] = Array.from({ length: DOORS }, () => ({ opensIn: -1, openLeft: 0, unlockLeft: 0, open: false, openFor: 0, held: false, forced: false }));
  let granted = Math.floor(rng.range(50_000, 400_000));
  let denied = Math.floor(granted * rng.range(0.03, 0.08));
  let lastEvent = 0;
  let lastDoor = 0;
  let last = ctx.startMs;

  io.set('unlock_time', 5);
  const unlockS = () => Math.min(60, Math.max(1, io.num('unlock_time', 5)));
  const event = (code: number, door: number) => {
    lastEvent = code;
    lastDoor = door + 1;
  };
  const unlock = (i: number) => {
    const d = doors[i]!;
    d.unlockLeft = Math.max(d.unlockLeft, unlockS());
    if (!d.open && d.opensIn < 0) {
      d.opensIn = rng.range(0.5, 1.5);
      // Most openings are short; one in 300 is held (a delivery, a propped door).
      d.held = rng.chance(1 / 300);
      d.openFor = d.held ? rng.range(40, 120) : i === 2 ? rng.range(5, 10) : rng.range(2, 6);
    }
  };

  io.onClientWrite((points: SimPoint[]) => {
    for (const p of points) {
      const m = /^door_(\d)_open_command$/.exec(p.spec.name);
      if (m === null || io.get(p) !== true) continue;
      const i = Number(m[1]) - 1;
      event(EVENT.remoteOpen, i);
      unlock(i);
      io.set(p, false); // pulse: the controller clears the command
    }
  });

  const faults = createFaultSet(
    { 'door-fault': { description: 'a door is forced open (opened while locked)', value: { unit: 'door', min: 1, max: DOORS, default: 1, integer: true, multiple: true, description: 'the door (3 = the barrier)' } } },
    (_name, on, door) => {
      const which = door === undefined ? [0, 1, 2] : [door - 1];
      for (const i of which) {
        const d = doors[i]!;
        if (on && !d.forced) event(EVENT.forced, i);
        d.forced = on;
        if (!on) {
          d.open = false;
          d.openLeft = 0;
        }
      }
    },
  );

  const step = (i: number, dt: number) => {
    const d = doors[i]!;
    if (d.forced) return;
    // The lock stays released while the door is open (a maglock can only hold a closed door).
    if (!d.open) d.unlockLeft = Math.max(0, d.unlockLeft - dt);
    if (d.opensIn >= 0) {
      d.opensIn -= dt;
      if (d.opensIn < 0) {
        d.open = true;
        d.openLeft = d.openFor;
      }
    } else if (d.open) {
      const before = d.openFor - d.openLeft;
      d.openLeft -= dt;
      if (d.held && before < HELD_OPEN_AFTER_S && d.openFor - d.openLeft >= HELD_OPEN_AFTER_S) event(EVENT.heldOpen, i);
      if (d.openLeft <= 0) {
        d.open = false;
        d.held = false;
        d.unlockLeft = 0; // the lock engages as the door closes
      }
    }
  };

  const tick = (nowMs: number) => {
    others.tick(nowMs);
    const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
    last = nowMs;
    const h = localHour(nowMs, ctx.timeZone);
    for (let i = 0; i < DOORS; i++) {
      const rate = swipeRate(h, i === 2);
      // Entries (card or face) and, at gates, exits by the button at a similar rate.
      if (rng.chance(Math.min(1, (rate * dt) / 3600))) {
        if (rng.chance(DENIED_SHARE)) {
          denied++;
          const r = rng.next();
          event(r < 0.4 ? EVENT.unknownCard : r < 0.7 ? EVENT.expired : r < 0.9 ? EVENT.noRight : EVENT.outsideSchedule, i);
        } else {
          granted++;
          event(EVENT.granted, i);
          unlock(i);
        }
      }
      if (i < 2 && rng.chance(Math.min(1, (0.8 * rate * dt) / 3600))) {
        event(EVENT.exitButton, i);
        unlock(i);
      }
      step(i, dt);
      const d = doors[i]!;
      const state = d.forced ? STATE.forced : d.open && d.held && d.openFor - d.openLeft >= HELD_OPEN_AFTER_S ? STATE.heldOpen : d.open ? STATE.open : STATE.closed;
      io.set(`door_${i + 1}_state`, state);
      io.set(`door_${i + 1}_locked`, d.forced || d.unlockLeft <= 0);
    }
    io.set('tamper', false);
    io.set('granted_count', granted);
    io.set('denied_count', denied);
    io.set('last_event', lastEvent);
    io.set('last_event_door', lastDoor);
  };
  for (let n = 1; n <= DOORS; n++) io.set(`door_${n}_open_command`, false);
  tick(ctx.startMs);
  return { faults, tick };
}
