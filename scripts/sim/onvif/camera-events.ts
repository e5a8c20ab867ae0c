/**
 * The event model of a simulated ONVIF camera (or door controller): what happens in
 * front of it, as ONVIF notification messages (ONVIF Core §9 Event Service; topics of
 * Core Appendix / Analytics Service Annex A). Seeded and driven by the times it is
 * advanced to, like the signal models in ../models: the same seed and the same times
 * give the same events.
 *
 * Camera: motion bursts arrive as a Poisson process whose rate follows the hour of the
 * site's day (busy in the day, quiet at night), each lasting seconds; during a burst a
 * line may be crossed, an object may enter the field, and a person may be recognised.
 * Tamper (scene change) is rare. Motion is reported under both topics real cameras use.
 *
 * Door (Profile C): people badge in through the day; most are granted, a few denied;
 * the door opens and closes; rarely it is forced or held open.
 */
import { localHour } from '../models/clock.js';
import { createRng, hashString, type Rng } from '../models/prng.js';

/** One notification, ready to be written as a `wsnt:NotificationMessage`. */
export interface SimMessage {
  readonly topic: string;
  readonly utcTime: number;
  /** Core §9.2.3: Initialized | Changed | Deleted for properties; undefined for plain events. */
  readonly operation?: 'Initialized' | 'Changed';
  readonly source: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
}

export interface EventRates {
  /** Motion bursts per hour at the busiest hour of the day (night is a tenth of it). */
  readonly motionPerHour: number;
  /** Tamper (scene change) alarms per day. */
  readonly tamperPerDay: number;
  /** Chance that a motion burst crosses the line. */
  readonly lineCrossing: number;
  /** Chance that a motion burst enters the detection field. */
  readonly fieldIntrusion: number;
  /** Chance that a motion burst is recognised as a person. */
  readonly person: number;
  /** Badge presentations per hour at the busiest hour (doors). */
  readonly badgesPerHour: number;
}

export const DEFAULT_RATES: EventRates = { motionPerHour: 30, tamperPerDay: 0.5, lineCrossing: 0.3, fieldIntrusion: 0.2, person: 0.5, badgesPerHour: 40 };

export interface EventModel {
  /** Advances to `nowMs` and returns what happened since the last call, in time order. */
  advance(nowMs: number): SimMessage[];
  /** The current state of every property, as `Initialized` messages for a new subscription. */
  initial(nowMs: number): SimMessage[];
  /** Starts a motion burst now (`holdMs` long). */
  motion(nowMs: number, holdMs?: number): SimMessage[];
  /** Raises a tamper alarm now. */
  tamper(nowMs: number, holdMs?: number): SimMessage[];
}

const VS = { VideoSourceToken: 'VideoSource_1' };
const ANALYTICS = { VideoSourceConfigurationToken: 'VideoSourceConfig_1', VideoAnalyticsConfigurationToken: 'VideoAnalyticsConfig_1' };

/** Activity of a day: 0.1 at night, 1 from 7 to 22 local time. */
function activity(ms: number, timeZone: string): number {
  const h = localHour(ms, timeZone);
  return h >= 7 && h < 22 ? 1 : 0.1;
}

/** Exponential inter-arrival time (ms) for `perHour` events per hour. */
function nextGap(rng: Rng, perHour: number): number {
  if (perHour <= 0) return Number.POSITIVE_INFINITY;
  return (-Math.log(1 - rng.next()) / perHour) * 3_600_000;
}

interface Pending {
  readonly at: number;
  readonly make: () => SimMessage[];
}

export interface EventModelOptions {
  readonly deviceId: string;
  readonly seed: number;
  readonly timeZone: string;
  readonly startMs: number;
  /** `camera` (default) or `door`. */
  readonly kind?: 'camera' | 'door';
  /** Rates of the spontaneous events; `false` = only what is injected. */
  readonly rates?: Partial<EventRates> | false;
}

export function createEventModel(o: EventModelOptions): EventModel {
  const rng = createRng(hashString(`${o.deviceId}/onvif`, o.seed));
  const rates: EventRates = o.rates === false ? { ...DEFAULT_RATES, motionPerHour: 0, tamperPerDay: 0, badgesPerHour: 0 } : { ...DEFAULT_RATES, ...o.rates };
  const kind = o.kind ?? 'camera';
  const state = { motion: false, tamper: false, inside: false, door: 'Closed', doorAlarm: 'Normal' };
  let pending: Pending[] = [];
  let last = o.startMs;
  // Candidate times of the next spontaneous events (thinned by the hour's activity).
  let nextMotion = o.startMs + nextGap(rng, rates.motionPerHour);
  let nextTamper = o.startMs + nextGap(rng, rates.tamperPerDay / 24);
  let nextBadge = o.startMs + nextGap(rng, rates.badgesPerHour);
  let objectId = 1;
  let credential = 1000;

  const at = (ms: number, make: () => SimMessage[]) => {
    pending.push({ at: ms, make });
  };

  const motionMsgs = (t: number, on: boolean): SimMessage[] => {
    state.motion = on;
    const op = 'Changed' as const;
    return [
      { topic: 'tns1:VideoSource/MotionAlarm', utcTime: t, operation: op, source: VS, data: { State: String(on) } },
      { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', utcTime: t, operation: op, source: { ...ANALYTICS, Rule: 'MyMotionDetectorRule' }, data: { IsMotion: String(on) } },
    ];
  };
  const tamperMsgs = (t: number, on: boolean): SimMessage[] => {
    state.tamper = on;
    return [
      { topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService', utcTime: t, operation: 'Changed', source: VS, data: { State: String(on) } },
      { topic: 'tns1:RuleEngine/TamperDetector/Tamper', utcTime: t, operation: 'Changed', source: { ...ANALYTICS, Rule: 'MyTamperDetectorRule' }, data: { IsTamper: String(on) } },
    ];
  };
  const fieldMsg = (t: number, on: boolean): SimMessage => {
    state.inside = on;
    return { topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside', utcTime: t, operation: 'Changed', source: { ...ANALYTICS, Rule: 'MyFieldDetector1' }, data: { IsInside: String(on) } };
  };

  /** A burst: motion on now, off after `holdMs`; with it, maybe a line crossing, an intrusion, a person. */
  const burst = (t: number, holdMs: number, extras: boolean): SimMessage[] => {
    const out = motionMsgs(t, true);
    at(t + holdMs, () => motionMsgs(t + holdMs, false));
    if (!extras) return out;
    if (rng.chance(rates.person)) {
      at(t + holdMs * 0.2, () => [
        { topic: 'tns1:RuleEngine/ObjectDetection/Object', utcTime: t + holdMs * 0.2, source: { VideoSource: 'VideoSource_1', RuleName: 'People' }, data: { ClassTypes: 'Human', ObjectId: String(objectId++) } },
      ]);
    }
    if (rng.chance(rates.lineCrossing)) {
      at(t + holdMs * 0.5, () => [{ topic: 'tns1:RuleEngine/LineDetector/Crossed', utcTime: t + holdMs * 0.5, source: { ...ANALYTICS, Rule: 'MyLineDetector1' }, data: { ObjectId: String(objectId++) } }]);
    }
    if (rng.chance(rates.fieldIntrusion)) {
      at(t + holdMs * 0.3, () => [fieldMsg(t + holdMs * 0.3, true)]);
      at(t + holdMs * 0.9, () => [fieldMsg(t + holdMs * 0.9, false)]);
    }
    return out;
  };

  const doorMsg = (t: number, s: string): SimMessage => {
    state.door = s;
    return { topic: 'tns1:Door/State/DoorPhysicalState', utcTime: t, operation: 'Changed', source: { DoorToken: 'Door_1' }, data: { State: s } };
  };
  const alarmMsg = (t: number, s: string): SimMessage => {
    state.doorAlarm = s;
    return { topic: 'tns1:Door/State/DoorAlarm', utcTime: t, operation: 'Changed', source: { DoorToken: 'Door_1' }, data: { State: s } };
  };
  const badge = (t: number): SimMessage[] => {
    const token = `Credential_${credential++}`;
    if (rng.chance(0.02)) {
      // Forced: the door opens with no grant.
      at(t + 20_000, () => [doorMsg(t + 20_000, 'Closed'), alarmMsg(t + 20_000, 'Normal')]);
      return [doorMsg(t, 'Open'), alarmMsg(t, 'DoorForcedOpen')];
    }
    if (rng.chance(0.1)) {
      return [{ topic: 'tns1:AccessControl/Denied/Credential', utcTime: t, source: { AccessPointToken: 'AccessPoint_1' }, data: { CredentialToken: token, CredentialHolderName: '', Reason: 'CredentialNotActive' } }];
    }
    const heldMs = rng.chance(0.03) ? 90_000 : rng.range(3000, 8000);
    const out: SimMessage[] = [
      { topic: 'tns1:AccessControl/AccessGranted/Credential', utcTime: t, source: { AccessPointToken: 'AccessPoint_1' }, data: { CredentialToken: token, CredentialHolderName: `Resident ${credential % 97}` } },
    ];
    at(t + 1500, () => [doorMsg(t + 1500, 'Open')]);
    if (heldMs > 60_000) at(t + 61_500, () => [alarmMsg(t + 61_500, 'DoorOpenTooLong')]);
    at(t + 1500 + heldMs, () => [doorMsg(t + 1500 + heldMs, 'Closed'), ...(heldMs > 60_000 ? [alarmMsg(t + 1500 + heldMs, 'Normal')] : [])]);
    return out;
  };

  const spontaneous = (until: number): SimMessage[] => {
    const out: SimMessage[] = [];
    if (kind === 'camera') {
      while (nextMotion <= until) {
        const t = nextMotion;
        // Thinning: a candidate is kept with the probability of the hour's activity.
        if (rng.chance(activity(t, o.timeZone)) && !state.motion) out.push(...burst(t, rng.range(3000, 15000), true));
        nextMotion = t + nextGap(rng, rates.motionPerHour);
      }
      while (nextTamper <= until) {
        const t = nextTamper;
        out.push(...tamperMsgs(t, true));
        const hold = rng.range(5000, 30000);
        at(t + hold, () => tamperMsgs(t + hold, false));
        nextTamper = t + nextGap(rng, rates.tamperPerDay / 24);
      }
    } else {
      while (nextBadge <= until) {
        const t = nextBadge;
        if (rng.chance(activity(t, o.timeZone)) && state.door === 'Closed') out.push(...badge(t));
        nextBadge = t + nextGap(rng, rates.badgesPerHour);
      }
    }
    return out;
  };

  const due = (until: number): SimMessage[] => {
    const ready = pending.filter((p) => p.at <= until).sort((a, b) => a.at - b.at);
    pending = pending.filter((p) => p.at > until);
    return ready.flatMap((p) => p.make());
  };

  return {
    advance(nowMs) {
      if (nowMs <= last) return [];
      last = nowMs;
      return [...spontaneous(nowMs), ...due(nowMs)].sort((a, b) => a.utcTime - b.utcTime);
    },
    initial(nowMs): SimMessage[] {
      const i = 'Initialized' as const;
      if (kind === 'door') {
        return [
          { topic: 'tns1:Door/State/DoorPhysicalState', utcTime: nowMs, operation: i, source: { DoorToken: 'Door_1' }, data: { State: state.door } },
          { topic: 'tns1:Door/State/DoorAlarm', utcTime: nowMs, operation: i, source: { DoorToken: 'Door_1' }, data: { State: state.doorAlarm } },
        ];
      }
      return [
        { topic: 'tns1:VideoSource/MotionAlarm', utcTime: nowMs, operation: i, source: VS, data: { State: String(state.motion) } },
        { topic: 'tns1:RuleEngine/CellMotionDetector/Motion', utcTime: nowMs, operation: i, source: { ...ANALYTICS, Rule: 'MyMotionDetectorRule' }, data: { IsMotion: String(state.motion) } },
        { topic: 'tns1:VideoSource/GlobalSceneChange/ImagingService', utcTime: nowMs, operation: i, source: VS, data: { State: String(state.tamper) } },
        { topic: 'tns1:RuleEngine/FieldDetector/ObjectsInside', utcTime: nowMs, operation: i, source: { ...ANALYTICS, Rule: 'MyFieldDetector1' }, data: { IsInside: String(state.inside) } },
      ];
    },
    motion(nowMs, holdMs = 1000) {
      return kind === 'door' ? badge(nowMs) : burst(nowMs, holdMs, false);
    },
    tamper(nowMs, holdMs = 1000) {
      if (kind === 'door') {
        at(nowMs + holdMs, () => [doorMsg(nowMs + holdMs, 'Closed'), alarmMsg(nowMs + holdMs, 'Normal')]);
        return [doorMsg(nowMs, 'Open'), alarmMsg(nowMs, 'DoorForcedOpen')];
      }
      const out = tamperMsgs(nowMs, true);
      at(nowMs + holdMs, () => tamperMsgs(nowMs + holdMs, false));
      return out;
    },
  };
}
