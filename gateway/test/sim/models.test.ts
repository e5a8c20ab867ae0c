/**
 * The signal models on a synthetic clock (hours of simulated time in milliseconds):
 * repeatable with a seed, the pump's daily pattern and control, integration of run hours
 * and energy, faults, bearing wear; the generic model on a profile it has never seen.
 */
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadProfileFile } from '../../src/config.js';
import type { DeviceProfile } from '../../src/core/config/profile.js';
import { banksFor, DeviceIo } from '../../../scripts/sim/device-io.js';
import { localHour } from '../../../scripts/sim/models/clock.js';
import { createModel, type ModelFaults } from '../../../scripts/sim/models/index.js';
import { dailyDemand } from '../../../scripts/sim/models/vfd-pump.js';

const pump = loadProfileFile(fileURLToPath(new URL('../../../device-profiles/water/vfd-pump.yaml', import.meta.url)));
const ahu = loadProfileFile(fileURLToPath(new URL('../fixtures/generic-ahu.yaml', import.meta.url)));

/** 2024-06-03 00:00 in Asia/Shanghai (UTC+8). */
const MIDNIGHT_SHANGHAI = Date.UTC(2024, 5, 2, 16, 0, 0);
const HOUR = 3_600_000;

function simulate(profile: DeviceProfile, opts: { seed?: number; startMs?: number; faults?: ModelFaults; deviceId?: string } = {}) {
  const banks = banksFor(profile, 1);
  const io = new DeviceIo(profile, 1, (u) => banks.get(u)!);
  const startMs = opts.startMs ?? MIDNIGHT_SHANGHAI;
  const model = createModel({ io, deviceId: opts.deviceId ?? 'dev-1', seed: opts.seed ?? 1, timeZone: 'Asia/Shanghai', startMs, ...(opts.faults === undefined ? {} : { faults: opts.faults }) });
  model.tick(startMs); // as startSimulator does: values before the first client connects
  let now = startMs;
  return {
    io,
    banks,
    get now() {
      return now;
    },
    /** Ticks every `stepMs` for `ms`. */
    run(ms: number, stepMs = 1000) {
      const end = now + ms;
      while (now < end) {
        now += stepMs;
        model.tick(now);
      }
    },
    snapshot: () => [...banks.values()].map((b) => [Array.from(b.holding), Array.from(b.input), Array.from(b.coil), Array.from(b.discrete)]),
  };
}

t.test('local hour in the site time zone', async (t) => {
  t.equal(localHour(Date.UTC(2024, 0, 1, 0, 0), 'Asia/Shanghai'), 8);
  t.equal(localHour(MIDNIGHT_SHANGHAI + 7.5 * HOUR, 'Asia/Shanghai'), 7.5);
  t.equal(localHour(Date.UTC(2024, 6, 1, 12, 0), 'Europe/London'), 13, 'summer time');
  t.equal(localHour(Date.UTC(2024, 0, 1, 12, 0), 'Europe/London'), 12);
});

t.test('daily demand: night trough, morning and evening peaks', async (t) => {
  const at = (h: number) => dailyDemand(h);
  t.ok(at(3) < 0.15, `03:00 ${at(3).toFixed(2)}`);
  t.ok(at(7.5) > 0.5, `07:30 ${at(7.5).toFixed(2)}`);
  t.ok(at(19.5) > at(7.5), 'the evening peak is the highest');
  t.ok(at(12) > at(3) && at(12) < at(7.5), 'midday between');
  t.ok(at(23.9) < 0.3 && Math.abs(at(0) - at(23.999)) < 0.01, 'continuous over midnight');
});

t.test('the same seed and tick times give the same registers; another seed does not', async (t) => {
  const a = simulate(pump, { seed: 5 });
  const b = simulate(pump, { seed: 5 });
  const c = simulate(pump, { seed: 6 });
  for (const s of [a, b, c]) s.run(60_000, 100);
  t.same(a.snapshot(), b.snapshot());
  t.notSame(a.snapshot(), c.snapshot());
  const g1 = simulate(ahu, { seed: 9 });
  const g2 = simulate(ahu, { seed: 9 });
  g1.run(60_000, 100);
  g2.run(60_000, 100);
  t.same(g1.snapshot(), g2.snapshot(), 'generic model too');
  const other = simulate(pump, { seed: 5, deviceId: 'dev-2' });
  other.run(60_000, 100);
  t.notSame(other.snapshot(), a.snapshot(), 'two devices with one seed differ');
});

t.test('over a day the pump holds its setpoint; frequency and flow follow demand', async (t) => {
  const s = simulate(pump, { faults: { tripsPerDay: 0 } });
  const byHour: Record<number, { p: number; f: number; q: number; i: number }> = {};
  for (let h = 0; h < 24; h++) {
    s.run(HOUR - 60_000, 5000);
    s.run(60_000, 500); // settle at a finer step, then sample
    byHour[h] = { p: s.io.num('outlet_pressure', NaN), f: s.io.num('frequency', NaN), q: s.io.num('flow', NaN), i: s.io.num('motor_current', NaN) };
  }
  for (const [h, v] of Object.entries(byHour)) t.ok(Math.abs(v.p - 4.5) < 0.2, `${h}:00 pressure ${v.p.toFixed(2)} bar`);
  // byHour[h] is sampled at the end of hour h, i.e. at (h+1):00.
  t.ok(byHour[19]!.f > byHour[2]!.f + 5, `20:00 ${byHour[19]!.f.toFixed(1)} Hz vs 03:00 ${byHour[2]!.f.toFixed(1)} Hz`);
  t.ok(byHour[19]!.q > 3 * byHour[2]!.q, `flow 20:00 ${byHour[19]!.q.toFixed(0)} vs 03:00 ${byHour[2]!.q.toFixed(0)} m3/h`);
  t.ok(byHour[19]!.i > byHour[2]!.i, 'more current at the evening peak');
  for (const v of Object.values(byHour)) t.ok(v.f >= 25 && v.f <= 50 && v.i > 0 && v.i < 100, 'within the drive’s limits');
});

t.test('run hours and energy integrate while running, not while stopped', async (t) => {
  const s = simulate(pump, { faults: { tripsPerDay: 0 } });
  const h0 = s.io.num('run_hours', NaN);
  const e0 = s.io.num('energy', NaN);
  s.run(3 * HOUR, 2000);
  const h1 = s.io.num('run_hours', NaN);
  const e1 = s.io.num('energy', NaN);
  t.ok(h1 - h0 >= 2 && h1 - h0 <= 3, `+${h1 - h0} h`);
  t.ok(e1 - e0 > 3 && e1 - e0 < 3 * 40, `+${(e1 - e0).toFixed(1)} kWh in 3 h`);
  s.io.set('start_stop', false);
  s.run(HOUR, 2000);
  t.equal(s.io.get('running'), false);
  t.equal(s.io.num('frequency', NaN), 0);
  t.ok(s.io.num('energy', NaN) - e1 < 0.1, 'no energy while stopped');
});

t.test('a client write of the setpoint beyond the drive limit is stored clamped', async (t) => {
  const s = simulate(pump);
  const sp = s.io.point('pressure_setpoint')!;
  sp.bank.holding[sp.register] = 1500; // 15.00 bar, as FC6 would put it
  sp.bank.notifyWrite('holding', sp.register, 1);
  t.equal(s.io.num('pressure_setpoint', NaN), 10);
  sp.bank.holding[sp.register] = 520;
  sp.bank.notifyWrite('holding', sp.register, 1);
  t.equal(s.io.num('pressure_setpoint', NaN), 5.2, 'a value in range is kept');
});

t.test('a drive trip stops the pump until a stop command resets it', async (t) => {
  const s = simulate(pump, { faults: { tripsPerDay: 86_400 } }); // ~one a second
  s.run(30_000, 500);
  t.equal(s.io.get('fault'), true);
  const code = s.io.num('fault_code', 0);
  t.ok(code >= 1 && code <= 6, `fault code ${code}`);
  t.equal(s.io.get('running'), false);
  s.io.set('start_stop', false);
  s.run(1000, 500);
  t.equal(s.io.get('fault'), false, 'reset by the stop command');
  t.equal(s.io.num('fault_code', -1), 0);
});

t.test('injected bearing wear raises vibration and bearing temperature', async (t) => {
  const start = MIDNIGHT_SHANGHAI + 10 * HOUR;
  const healthy = simulate(pump, { startMs: start, faults: { tripsPerDay: 0 } });
  const worn = simulate(pump, { startMs: start, faults: { tripsPerDay: 0, bearingWearPerHour: 0.25 } });
  for (const s of [healthy, worn]) s.run(2 * HOUR, 2000);
  const vib = (s: typeof healthy) => s.io.num('vibration', NaN);
  const temp = (s: typeof healthy) => s.io.num('bearing_temperature', NaN);
  t.ok(vib(healthy) < 2.8, `healthy ${vib(healthy).toFixed(2)} mm/s (ISO 10816 zone A/B)`);
  t.ok(vib(worn) > vib(healthy) + 1.5, `worn ${vib(worn).toFixed(2)} mm/s`);
  t.ok(temp(worn) > temp(healthy) + 10, `worn ${temp(worn).toFixed(1)} °C vs ${temp(healthy).toFixed(1)} °C`);
});

t.test('the generic model: in range, counters counting, states from the list, strings fixed', async (t) => {
  const s = simulate(ahu);
  const hours0 = s.io.num('operating_hours', NaN);
  const seen = new Set<number>();
  for (let i = 0; i < 48; i++) {
    s.run(1800_000, 10_000);
    for (const p of ahu.points) {
      const v = s.io.get(p.name);
      if (p.range !== undefined) t.ok(typeof v === 'number' && v >= p.range[0]! - 1e-9 && v <= p.range[1]! + 1e-9, `${p.name} ${String(v)}`);
    }
    seen.add(s.io.num('mode', -1));
  }
  t.ok(s.io.num('operating_hours', NaN) - hours0 >= 23, 'operating hours count up');
  t.ok([...seen].every((m) => [0, 1, 2].includes(m)), `modes ${[...seen].join(',')}`);
  t.equal(s.io.get('serial_number'), 'SIM-dev-1');
  const sp = s.io.num('supply_setpoint', NaN);
  t.ok(sp >= 16 && sp <= 26, 'a writable point starts inside its range');
  s.io.set('supply_setpoint', 19);
  s.run(60_000, 1000);
  t.equal(s.io.num('supply_setpoint', NaN), 19, 'and then belongs to the clients');
});
