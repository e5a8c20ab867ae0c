/**
 * The community profiles and their signal models, on a synthetic clock: every profile
 * validates; every model is repeatable with a seed and keeps its points inside the
 * profile's ranges over a simulated day; the daily patterns (elevator rush hours,
 * daylight) show; and the injected faults do what a control room would see.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { profileCommand } from '../../src/cli.js';
import { loadProfileFile } from '../../src/config.js';
import type { DeviceProfile } from '../../src/core/config/profile.js';
import { banksFor, DeviceIo } from '../../../scripts/sim/device-io.js';
import { FaultError } from '../../../scripts/sim/faults.js';
import { createModel, type SignalModel } from '../../../scripts/sim/models/index.js';
import { solarElevationDeg } from '../../../scripts/sim/models/lighting-controller.js';

const PROFILES = ['elevator/traction-elevator', 'power/power-meter', 'power/breaker', 'lighting/lighting-controller', 'fire/fire-panel', 'access/access-controller'];
const fileOf = (id: string) => fileURLToPath(new URL(`../../../device-profiles/${id}.yaml`, import.meta.url));
const profiles = new Map<string, DeviceProfile>(PROFILES.map((id) => [id, loadProfileFile(fileOf(id))]));

/** 2024-06-03 00:00 in Asia/Shanghai (UTC+8). */
const MIDNIGHT_SHANGHAI = Date.UTC(2024, 5, 2, 16, 0, 0);
const HOUR = 3_600_000;

function simulate(id: string, opts: { seed?: number; startMs?: number; deviceId?: string } = {}) {
  const profile = profiles.get(id)!;
  const banks = banksFor(profile, 1);
  const io = new DeviceIo(profile, 1, (u) => banks.get(u)!);
  const startMs = opts.startMs ?? MIDNIGHT_SHANGHAI;
  const model: SignalModel = createModel({ io, deviceId: opts.deviceId ?? 'dev-1', seed: opts.seed ?? 1, timeZone: 'Asia/Shanghai', startMs });
  model.tick(startMs);
  let now = startMs;
  return {
    io,
    profile,
    model,
    faults: model.faults!,
    get now() {
      return now;
    },
    run(ms: number, stepMs = 1000, each?: () => void) {
      const end = now + ms;
      while (now < end) {
        now += stepMs;
        model.tick(now);
        each?.();
      }
    },
    /** A client's write, as the server lands it: bank first, then the notification. */
    clientWrite(name: string, value: boolean | number) {
      const p = io.point(name)!;
      io.set(p, value);
      p.bank.notifyWrite(p.table === 'coil' ? 'coil' : 'holding', p.register, p.count);
    },
    snapshot: () => [...banks.values()].map((b) => [Array.from(b.holding), Array.from(b.input), Array.from(b.coil), Array.from(b.discrete)]),
  };
}

t.test('each profile passes `steward profile validate`', async (t) => {
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  let code: number;
  try {
    code = await profileCommand(['validate', ...PROFILES.map(fileOf)]);
  } finally {
    process.stdout.write = write;
  }
  t.equal(code, 0);
  for (const id of PROFILES) t.match(out.join(''), `ok  ${fileOf(id)} (${id},`);
});

t.test('each model: the same seed gives the same registers, another seed others', async (t) => {
  for (const id of PROFILES) {
    const a = simulate(id, { seed: 5, startMs: MIDNIGHT_SHANGHAI + 7 * HOUR });
    const b = simulate(id, { seed: 5, startMs: MIDNIGHT_SHANGHAI + 7 * HOUR });
    const c = simulate(id, { seed: 6, startMs: MIDNIGHT_SHANGHAI + 7 * HOUR });
    for (const s of [a, b, c]) s.run(20 * 60_000, 1000);
    t.same(a.snapshot(), b.snapshot(), `${id}: repeatable`);
    if (id !== 'fire/fire-panel') t.notSame(a.snapshot(), c.snapshot(), `${id}: another seed differs`); // a quiet panel is the same for any seed
  }
});

t.test('over a simulated day every point stays inside its range', async (t) => {
  for (const id of PROFILES) {
    const s = simulate(id);
    const ranged = s.profile.points.filter((p) => p.range !== undefined);
    const outside = new Map<string, number>();
    s.run(24 * HOUR, 10_000, () => {
      for (const p of ranged) {
        const v = s.io.num(p.name, NaN);
        if (!(v >= p.range![0]! - 1e-6 && v <= p.range![1]! + 1e-6)) outside.set(p.name, v);
      }
    });
    t.same(Object.fromEntries(outside), {}, `${id}: ${ranged.length} ranged points in range`);
  }
});

t.test('the elevator runs far more in the morning rush than at night; doors cycle at stops; start current peaks', async (t) => {
  const s = simulate('elevator/traction-elevator');
  const trips = () => s.io.num('trips', NaN);
  s.run(3 * HOUR, 2000);
  const t3 = trips();
  s.run(HOUR, 1000);
  const night = trips() - t3;
  s.run(4 * HOUR, 2000);
  const t8 = trips();
  const doorStates = new Set<number>();
  let peak = 0;
  let movingSum = 0;
  let movingN = 0;
  let brakeShut = 0;
  s.run(HOUR, 250, () => {
    doorStates.add(s.io.num('door_state', -1));
    if (s.io.get('car_moving') !== true) return;
    const i = s.io.num('motor_current', 0);
    peak = Math.max(peak, i);
    movingSum += i;
    movingN++;
    if (s.io.get('brake_open') !== true) brakeShut++;
  });
  t.equal(brakeShut, 0, 'the brake is lifted whenever the car moves');
  const rush = trips() - t8;
  t.ok(rush > 4 * Math.max(1, night), `08:00–09:00 ${rush} runs vs 03:00–04:00 ${night}`);
  t.ok(rush >= 40, `${rush} runs in the rush hour`);
  t.same([...doorStates].sort(), [0, 1, 2, 3], 'doors seen closed, opening, open and closing');
  t.ok(peak > 1.5 * (movingSum / movingN), `start peak ${peak.toFixed(1)} A vs ${(movingSum / movingN).toFixed(1)} A on average while moving`);
});

t.test('entrapment stops the car between floors with the flag set; off rescues it', async (t) => {
  const s = simulate('elevator/traction-elevator', { startMs: MIDNIGHT_SHANGHAI + 8 * HOUR });
  s.run(5 * 60_000, 500);
  s.faults.setFault('entrapment', true);
  s.run(30_000, 500);
  t.equal(s.io.get('entrapment'), true);
  t.equal(s.io.num('fault_code', -1), 7, 'safety circuit open');
  t.equal(s.io.num('run_mode', -1), 3, 'out of service');
  t.equal(s.io.get('car_moving'), false);
  t.equal(s.io.num('door_state', -1), 0, 'doors closed');
  t.equal(s.io.get('door_zone'), false, 'outside the door zone');
  t.ok(Math.abs(s.io.num('leveling_error', 0)) >= 500, `between floors (${s.io.num('leveling_error', 0)} mm)`);
  const trips = s.io.num('trips', NaN);
  s.run(5 * 60_000, 1000);
  t.equal(s.io.num('trips', NaN), trips, 'no run while trapped');
  t.same(s.faults.active(), { entrapment: null });

  s.faults.setFault('entrapment', false);
  s.run(3000, 500);
  t.equal(s.io.get('entrapment'), false);
  t.equal(s.io.num('fault_code', -1), 0);
  t.equal(s.io.get('door_zone'), true, 'brought to a landing');
  t.not(s.io.num('door_state', -1), 0, 'doors opening or open');
});

t.test('door fault: doors held open, fault 3, out of service; off resumes', async (t) => {
  const s = simulate('elevator/traction-elevator', { startMs: MIDNIGHT_SHANGHAI + 8 * HOUR });
  s.run(60_000, 500);
  s.faults.setFault('door-fault', true);
  s.run(120_000, 500);
  t.equal(s.io.num('fault_code', -1), 3);
  t.equal(s.io.num('door_state', -1), 2, 'open');
  t.equal(s.io.num('run_mode', -1), 3);
  s.faults.setFault('door-fault', false);
  s.run(120_000, 500);
  t.equal(s.io.num('fault_code', -1), 0);
  t.equal(s.io.num('run_mode', -1), 0);
});

t.test('the power meter follows the daily load curve and its counters add up', async (t) => {
  const s = simulate('power/power-meter');
  s.run(4 * HOUR, 5000);
  const night = s.io.num('active_power', NaN);
  const e4 = s.io.num('energy_import', NaN);
  s.run(16.5 * HOUR, 5000);
  const evening = s.io.num('active_power', NaN);
  const e20 = s.io.num('energy_import', NaN);
  t.ok(evening > 1.8 * night, `20:30 ${evening.toFixed(0)} kW vs 04:00 ${night.toFixed(0)} kW`);
  t.ok(e20 - e4 > 16.5 * night && e20 - e4 < 16.5 * 260, `+${(e20 - e4).toFixed(0)} kWh`);
  t.ok(Math.abs(s.io.num('energy_import_wh', NaN) / 1000 - e20) < 0.02, 'the 64-bit Wh counter agrees with the 32-bit CDAB one');
  const p = ['l1', 'l2', 'l3'].reduce((sum, ph) => sum + s.io.num(`active_power_${ph}`, NaN), 0);
  t.ok(Math.abs(p - evening) < 0.05, 'phases sum to the total');
  const sApp = s.io.num('apparent_power', NaN);
  t.ok(Math.abs(s.io.num('power_factor', NaN) - evening / sApp) < 1e-3, 'PF = P/S');
  const ll = s.io.num('voltage_l1_l2', NaN);
  t.ok(ll > 1.7 * s.io.num('voltage_l1', NaN) && ll < 1.75 * s.io.num('voltage_l1', NaN), 'L-L ≈ √3 L-N');
  const reg = s.io.point('energy_import')!;
  const raw = Math.round(e20 / 0.01);
  t.equal(reg.bank.holding[reg.register], raw & 0xffff, 'low word first (CDAB)');
});

t.test('breaker trip: opens, latches, says why; reset and close over the command coils', async (t) => {
  const s = simulate('power/breaker', { startMs: MIDNIGHT_SHANGHAI + 12 * HOUR });
  s.run(60_000);
  t.equal(s.io.get('closed'), true);
  t.ok(s.io.num('current_l1', 0) > 50, 'carries the load');
  const ops = s.io.num('operations', NaN);
  const trips = s.io.num('trip_count', NaN);
  s.faults.setFault('breaker-trip', true, 4);
  s.run(1000);
  t.equal(s.io.get('closed'), false);
  t.equal(s.io.get('tripped'), true);
  t.equal(s.io.num('breaker_state', -1), 2, 'tripped');
  t.equal(s.io.num('trip_cause', -1), 4, 'earth fault');
  t.ok(s.io.num('last_trip_current', 0) > 100);
  t.equal(s.io.num('current_l1', -1), 0, 'no current');
  t.equal(s.io.num('trip_count', NaN), trips + 1);
  t.equal(s.io.num('operations', NaN), ops + 1);
  t.throws(() => s.faults.setFault('breaker-trip', true, 9), FaultError, 'cause out of range');

  s.clientWrite('close_command', true);
  s.run(1000);
  t.equal(s.io.get('close_command'), false, 'a pulse: the coil clears');
  t.equal(s.io.get('tripped'), true, 'no close while tripped');
  s.faults.setFault('breaker-trip', false);
  s.run(1000);
  t.equal(s.io.get('closed'), true, 'fault off: reset and reclosed');
  t.equal(s.io.get('spring_charged'), false, 'closing used the spring');
  s.run(10_000);
  t.equal(s.io.get('spring_charged'), true, 'recharged');
  t.equal(s.io.num('trip_cause', -1), 4, 'the last cause is kept');

  s.clientWrite('open_command', true);
  s.run(1000);
  t.equal(s.io.num('breaker_state', -1), 0, 'opened by command');
  s.clientWrite('close_command', true);
  s.run(1000);
  t.equal(s.io.num('breaker_state', -1), 1, 'closed by command');
});

t.test('lux: dark at night, bright at noon; relays follow writes, feedback follows relays', async (t) => {
  t.ok(solarElevationDeg(MIDNIGHT_SHANGHAI + 12.2 * HOUR) > 80, 'near-zenith sun at Shenzhen in June');
  const s = simulate('lighting/lighting-controller');
  s.run(HOUR, 5000);
  t.ok(s.io.num('illuminance', NaN) < 1, `01:00 ${s.io.num('illuminance', NaN)} lx`);
  t.equal(s.io.get('channel_1'), true, 'road lights on at night');
  s.run(11 * HOUR, 5000);
  t.ok(s.io.num('illuminance', NaN) > 20_000, `12:00 ${s.io.num('illuminance', NaN)} lx`);
  const before = s.io.num('power', NaN);
  s.clientWrite('channel_1', false);
  s.run(2000);
  t.equal(s.io.get('channel_1'), false);
  t.equal(s.io.get('channel_1_feedback'), false, 'feedback follows');
  t.ok(s.io.num('power', NaN) < before - 2000, `power ${before.toFixed(0)} → ${s.io.num('power', NaN).toFixed(0)} W`);
  s.io.set('manual_override', true);
  s.clientWrite('channel_1', true);
  s.run(2000);
  t.equal(s.io.get('channel_1'), false, 'manual override: remote writes undone');
  s.run(10 * HOUR, 5000);
  t.ok(s.io.num('illuminance', NaN) < 1, '22:00 dark again');
});

t.test('the fire panel is quiet until smoke is injected: pre-alarm, alarm with zone bits, reset', async (t) => {
  const s = simulate('fire/fire-panel');
  s.run(6 * HOUR, 10_000);
  for (const name of ['fire_alarm', 'pre_alarm', 'fault', 'supervisory', 'mains_fault']) t.equal(s.io.get(name), false, name);
  t.equal(s.io.num('active_alarms', -1), 0);
  s.faults.setFault('fire-alarm', true, 3);
  s.faults.setFault('fire-alarm', true, 18);
  s.run(2000);
  t.equal(s.io.get('pre_alarm'), true);
  t.equal(s.io.get('fire_alarm'), false, 'not yet confirmed');
  s.run(10_000);
  t.equal(s.io.get('fire_alarm'), true);
  t.equal(s.io.num('active_alarms', -1), 2);
  t.equal(s.io.num('zones_in_alarm_1_16', -1), 1 << 2, 'zone 3 = bit 2');
  t.equal(s.io.num('zones_in_alarm_17_32', -1), 1 << 1, 'zone 18 = bit 1');
  t.ok([3, 18].includes(s.io.num('last_alarm_zone', -1)));
  t.same(s.faults.active(), { 'fire-alarm': [3, 18] });
  s.clientWrite('silence_command', true);
  s.run(1000);
  t.equal(s.io.get('silenced'), true);
  s.clientWrite('reset_command', true);
  s.run(1000);
  t.equal(s.io.get('fire_alarm'), false, 'reset…');
  s.run(12_000);
  t.equal(s.io.get('fire_alarm'), true, '…but smoke still there: back after confirmation');
  s.faults.setFault('fire-alarm', false, 3);
  s.run(1000);
  t.equal(s.io.num('zones_in_alarm_1_16', -1), 0);
  t.equal(s.io.num('active_alarms', -1), 1);
  s.faults.clear();
  s.run(1000);
  t.equal(s.io.get('fire_alarm'), false);
  t.same(s.faults.active(), {});
});

t.test('access: swipes at plausible rates, mostly granted; doors open briefly; remote open; forced door', async (t) => {
  const s = simulate('access/access-controller');
  const g0 = s.io.num('granted_count', NaN);
  const d0 = s.io.num('denied_count', NaN);
  s.run(7.5 * HOUR, 2000);
  const g1 = s.io.num('granted_count', NaN);
  let openSamples = 0;
  s.run(HOUR, 500, () => {
    if (s.io.num('door_1_state', -1) === 1) openSamples++;
  });
  const rush = s.io.num('granted_count', NaN) - g1;
  t.ok(rush > 60 && rush < 300, `${rush} granted 07:30–08:30 at three doors`);
  t.ok(g1 - g0 < 2 * rush, `${g1 - g0} granted 00:00–07:30`);
  const denied = s.io.num('denied_count', NaN) - d0;
  const granted = s.io.num('granted_count', NaN) - g0;
  t.ok(denied > 0 && denied < 0.2 * granted, `${denied} denied of ${granted + denied}`);
  t.ok(openSamples > 0 && openSamples < 0.5 * 7200, `door 1 open ${((openSamples / 7200) * 100).toFixed(0)} % of the rush hour`);

  const q = simulate('access/access-controller', { startMs: MIDNIGHT_SHANGHAI + 3 * HOUR });
  q.clientWrite('door_2_open_command', true);
  t.equal(q.io.get('door_2_open_command'), false, 'a pulse');
  q.run(2000, 500);
  t.equal(q.io.num('last_event', -1), 6, 'remote open');
  t.equal(q.io.num('last_event_door', -1), 2);
  t.equal(q.io.num('door_2_state', -1), 1, 'open');
  t.equal(q.io.get('door_2_locked'), false);
  q.run(20_000, 500);
  t.equal(q.io.num('door_2_state', -1), 0, 'closed again');
  q.faults.setFault('door-fault', true, 3);
  q.run(1000);
  t.equal(q.io.num('door_3_state', -1), 3, 'barrier forced');
  q.faults.setFault('door-fault', false);
  q.run(1000);
  t.equal(q.io.num('door_3_state', -1), 0);
});

t.test('pump faults over FaultControl: pressure loss sags the outlet and trips on dry running; bearing wear shows', async (t) => {
  const pump = loadProfileFile(fileURLToPath(new URL('../../../device-profiles/water/vfd-pump.yaml', import.meta.url)));
  profiles.set('water/vfd-pump', pump);
  const s = simulate('water/vfd-pump', { startMs: MIDNIGHT_SHANGHAI + 10 * HOUR });
  s.run(60_000, 500);
  t.ok(s.io.num('outlet_pressure', NaN) > 4, 'holds its setpoint');
  s.faults.setFault('pressure-loss', true);
  s.run(30_000, 500);
  t.ok(s.io.num('outlet_pressure', NaN) < 1.5, `outlet ${s.io.num('outlet_pressure', NaN).toFixed(2)} bar`);
  t.ok(s.io.num('frequency', NaN) > 49, 'the drive saturates at 50 Hz');
  s.run(120_000, 1000);
  t.equal(s.io.num('fault_code', -1), 6, 'dry-running trip');
  s.faults.setFault('pressure-loss', false);
  s.io.set('start_stop', false);
  s.run(2000, 500);
  s.io.set('start_stop', true);
  s.run(60_000, 500);
  t.equal(s.io.num('fault_code', -1), 0);
  t.ok(s.io.num('outlet_pressure', NaN) > 4, 'pressure back');

  const vib0 = s.io.num('vibration', NaN);
  s.faults.setFault('bearing-wear', true, 0.5);
  s.run(2 * HOUR, 5000);
  t.ok(s.io.num('vibration', NaN) > vib0 + 1.5, `vibration ${vib0.toFixed(2)} → ${s.io.num('vibration', NaN).toFixed(2)} mm/s`);
  t.same(s.faults.active(), { 'bearing-wear': 0.5 });
});
