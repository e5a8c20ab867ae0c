/**
 * The `fire/fire-panel` model: a 64-zone fire alarm control panel that is quiet — no
 * alarm, fault or supervisory signal — unless a fire is injected.
 *
 * The `fire-alarm` fault (value: the zone, 1–64; several zones can be on) is smoke seen in
 * that zone: the panel goes to pre-alarm (预警) for 10 s while the detector confirms, then
 * to fire alarm — the zone's bit set, `active_alarms` counted, `last_alarm_zone` set,
 * sounders on (`silenced` cleared). Off = the smoke is gone and the panel is reset, as the
 * duty officer does after checking. The reset coil resets the panel; a zone still seeing
 * smoke comes back after its 10 s. The silence coil silences until the next new alarm.
 */
import type { DeviceIo, SimPoint } from '../device-io.js';
import { createFaultSet } from '../faults.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';

const OWN = [
  'fire_alarm',
  'pre_alarm',
  'fault',
  'supervisory',
  'silenced',
  'disablements',
  'mains_fault',
  'battery_fault',
  'active_alarms',
  'active_faults',
  'last_alarm_zone',
  'zones_in_alarm_1_16',
  'zones_in_alarm_17_32',
  'zones_in_alarm_33_48',
  'zones_in_alarm_49_64',
  'silence_command',
  'reset_command',
];

const ZONES = 64;
const CONFIRM_MS = 10_000;
const ZONE_WORDS = ['zones_in_alarm_1_16', 'zones_in_alarm_17_32', 'zones_in_alarm_33_48', 'zones_in_alarm_49_64'];

export function createFirePanelModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const others = createGenericModel(ctx, new Set(OWN));
  /** Zones seeing smoke → when they were seen (ms); alarmed once confirmed. */
  const smoke = new Map<number, number>();
  const alarmed = new Set<number>();
  let lastZone = 0;
  let silenced = false;
  let now = ctx.startMs;

  const reset = () => {
    alarmed.clear();
    lastZone = 0;
    silenced = false;
    for (const zone of smoke.keys()) smoke.set(zone, now); // detectors still in smoke start over
  };

  io.onClientWrite((points: SimPoint[]) => {
    for (const p of points) {
      if (io.get(p) !== true) continue;
      if (p.spec.name === 'reset_command') reset();
      else if (p.spec.name === 'silence_command') silenced = true;
      else continue;
      io.set(p, false); // pulse: the panel clears the command
    }
  });

  const faults = createFaultSet(
    {
      'fire-alarm': { description: 'smoke in a zone: pre-alarm, then fire alarm after 10 s', value: { unit: 'zone', min: 1, max: ZONES, default: 1, integer: true, multiple: true, description: 'the zone in alarm' } },
    },
    (_name, on, zone) => {
      if (on) {
        if (!smoke.has(zone!)) smoke.set(zone!, now);
      } else {
        if (zone === undefined) smoke.clear();
        else smoke.delete(zone);
        if (smoke.size === 0 || zone === undefined) reset();
        else alarmed.delete(zone);
      }
    },
  );

  const tick = (nowMs: number) => {
    others.tick(nowMs);
    now = nowMs;
    let pre = false;
    for (const [zone, since] of smoke) {
      if (alarmed.has(zone)) continue;
      if (nowMs - since >= CONFIRM_MS) {
        alarmed.add(zone);
        lastZone = zone;
        silenced = false; // a new alarm sounds again
      } else pre = true;
    }
    const words = [0, 0, 0, 0];
    for (const zone of alarmed) words[(zone - 1) >> 4]! |= 1 << ((zone - 1) & 15);
    io.set('fire_alarm', alarmed.size > 0);
    io.set('pre_alarm', pre);
    io.set('fault', false);
    io.set('supervisory', false);
    io.set('silenced', silenced && alarmed.size > 0);
    io.set('disablements', false);
    io.set('mains_fault', false);
    io.set('battery_fault', false);
    io.set('active_alarms', alarmed.size);
    io.set('active_faults', 0);
    io.set('last_alarm_zone', lastZone);
    ZONE_WORDS.forEach((name, i) => io.set(name, words[i]!));
  };
  io.set('silence_command', false);
  io.set('reset_command', false);
  tick(ctx.startMs);
  return { faults, tick };
}
