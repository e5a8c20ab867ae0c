/**
 * The `lighting/lighting-controller` model: an 8-channel lighting relay module of a
 * community in Shenzhen, with an outdoor illuminance sensor.
 *
 * - Illuminance follows the sun at Shenzhen (22.54° N, 114.06° E), from the solar
 *   elevation of the moment (NOAA's declination and equation-of-time approximations):
 *   clear-sky horizontal illuminance ≈ 128 klx · sin h · e^(−0.21 / sin h) plus diffuse
 *   sky light, civil twilight fading to 0 lx at 6° below the horizon, times a cloud
 *   transmission that wanders (τ 15 min) between 0.2 and 1. Night reads 0 lx.
 * - Relays follow client writes; the contact feedback follows its relay one tick later
 *   (the contactor's pull-in). At start, the outdoor channels are on when it is dark and
 *   the lobby and car park always, as a timetable would have left them.
 * - While `manual_override` is on (tests set it), client writes are undone.
 * - Power is the sum of the switched-on channels' loads; energy integrates it.
 */
import type { DeviceIo, SimPoint } from '../device-io.js';
import { createGenericModel } from './generic.js';
import type { ModelContext, SignalModel } from './model.js';
import { createRng, hashString } from './prng.js';

const CHANNELS = 8;
const channel = (i: number) => `channel_${i + 1}`;
const feedback = (i: number) => `channel_${i + 1}_feedback`;
const OWN = ['illuminance', 'power', 'energy', 'manual_override', ...Array.from({ length: CHANNELS }, (_, i) => [channel(i), feedback(i)]).flat()];

/** Load of each channel (W): road, garden, facade, lobby, car park, perimeter, two spares. */
const CHANNEL_W = [2400, 1800, 3000, 1200, 2600, 900, 0, 0];
/** Channels on at night only (outdoor); the others (lobby, car park) always on at start. */
const OUTDOOR = new Set([0, 1, 2, 5]);
const ALWAYS = new Set([3, 4]);

const LAT_RAD = (22.54 * Math.PI) / 180;
const LON_DEG = 114.06;
const SENSOR_MAX_LX = 200_000;

/** Solar elevation (degrees) at Shenzhen at `ms` (UTC epoch): NOAA's low-precision formulas. */
export function solarElevationDeg(ms: number): number {
  const date = new Date(ms);
  const dayOfYear = (Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) - Date.UTC(date.getUTCFullYear(), 0, 0)) / 86_400_000;
  const utcHours = date.getUTCHours() + date.getUTCMinutes() / 60 + date.getUTCSeconds() / 3600;
  const g = ((2 * Math.PI) / 365) * (dayOfYear - 1 + (utcHours - 12) / 24); // fractional year
  const eqTimeMin = 229.18 * (0.000075 + 0.001868 * Math.cos(g) - 0.032077 * Math.sin(g) - 0.014615 * Math.cos(2 * g) - 0.040849 * Math.sin(2 * g));
  const decl = 0.006918 - 0.399912 * Math.cos(g) + 0.070257 * Math.sin(g) - 0.006758 * Math.cos(2 * g) + 0.000907 * Math.sin(2 * g) - 0.002697 * Math.cos(3 * g) + 0.00148 * Math.sin(3 * g);
  const solarHours = utcHours + LON_DEG / 15 + eqTimeMin / 60;
  const hourAngle = ((solarHours - 12) * 15 * Math.PI) / 180;
  const sinEl = Math.sin(LAT_RAD) * Math.sin(decl) + Math.cos(LAT_RAD) * Math.cos(decl) * Math.cos(hourAngle);
  return (Math.asin(Math.max(-1, Math.min(1, sinEl))) * 180) / Math.PI;
}

/** Horizontal illuminance (lx) under a clear sky at solar elevation `el` degrees. */
export function clearSkyLux(el: number): number {
  if (el <= -6) return 0;
  if (el <= 0) return 400 * ((el + 6) / 6) ** 3; // civil twilight
  const s = Math.sin((el * Math.PI) / 180);
  return 400 + 128_000 * s * Math.exp(-0.21 / s) + 15_000 * s ** 0.6;
}

export function createLightingControllerModel(ctx: ModelContext): SignalModel {
  const io: DeviceIo = ctx.io;
  const rng = createRng(hashString(`${ctx.deviceId}#lighting`, ctx.seed));
  const others = createGenericModel(ctx, new Set(OWN));
  let cloud = rng.normal(0.5);
  let energy = Math.round(rng.range(5_000, 60_000));
  let last = ctx.startMs;
  const dark = clearSkyLux(solarElevationDeg(ctx.startMs)) < 50;
  const relays = Array.from({ length: CHANNELS }, (_, i) => ALWAYS.has(i) || (OUTDOOR.has(i) && dark));
  relays.forEach((on, i) => {
    io.set(channel(i), on);
    io.set(feedback(i), on);
  });
  io.set('manual_override', false);

  io.onClientWrite((points: SimPoint[]) => {
    const manual = io.get('manual_override') === true;
    for (const p of points) {
      const i = Number(/^channel_(\d+)$/.exec(p.spec.name)?.[1]) - 1;
      if (!(i >= 0 && i < CHANNELS)) continue;
      if (manual) io.set(p, relays[i]!); // the module ignores remote commands in manual
      else relays[i] = io.get(p) === true;
    }
  });

  const tick = (nowMs: number) => {
    others.tick(nowMs);
    const dt = Math.max(0, Math.min(60, (nowMs - last) / 1000));
    last = nowMs;
    cloud += (-cloud / 900) * dt + rng.normal(0.5 * Math.sqrt(2 / 900)) * Math.sqrt(dt);
    const transmission = Math.min(1, Math.max(0.2, 0.8 + 0.3 * cloud));
    const lux = clearSkyLux(solarElevationDeg(nowMs)) * transmission * (1 + rng.normal(0.01));
    io.set('illuminance', Math.min(SENSOR_MAX_LX, Math.max(0, Math.round(lux))));
    let watts = 0;
    for (let i = 0; i < CHANNELS; i++) {
      // Feedback shows last tick's relay state: the contactor closes a few tens of ms after the coil.
      const fb = io.get(feedback(i)) === true;
      if (fb) watts += CHANNEL_W[i]!;
      io.set(feedback(i), relays[i]!);
    }
    watts = watts > 0 ? watts * (1 + rng.normal(0.01)) : 0;
    energy += (watts / 1000) * (dt / 3600);
    io.set('power', watts);
    io.set('energy', energy);
  };
  tick(ctx.startMs);
  return { tick };
}
