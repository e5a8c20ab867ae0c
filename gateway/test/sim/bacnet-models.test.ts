/**
 * The BACnet simulator's signal models on a synthetic clock: the same seed and tick
 * times give the same values, another seed other values; the AHU and chiller behave
 * as their equipment does (schedule, setpoint tracking, start/stop sequences). (An
 * operator's command at priority 8 against the program's at 16: bacnet-write.test.ts.)
 */
import t from 'tap';
import { loadProfileFile } from '../../src/config.js';
import { fileURLToPath } from 'node:url';
import { createAhuModel, createBacnetModel, createChillerModel, type PointIo, type Value } from '../../../scripts/sim/bacnet/models.js';
import type { DeviceProfile } from '../../src/core/config/profile.js';

const profile = (id: string) => loadProfileFile(fileURLToPath(new URL(`../../../device-profiles/${id}.yaml`, import.meta.url)));
const AHU = profile('hvac/ahu');
const CHILLER = profile('hvac/chiller');
/** 2026-07-01 10:00 in Asia/Shanghai (02:00 UTC): occupied, warm. */
const T0 = Date.UTC(2026, 6, 1, 2, 0, 0);

/** A plain map standing in for a device, with priority-16 semantics left out (the model's view). */
function memoryIo(p: DeviceProfile, overrides: Record<string, Value> = {}): PointIo & { values: Map<string, Value> } {
  const values = new Map<string, Value>();
  return {
    profile: p,
    values,
    get: (n) => overrides[n] ?? values.get(n),
    set: (n, v) => void values.set(n, v),
  };
}

function run(p: DeviceProfile, seed: number, seconds: number, overrides: Record<string, Value> = {}): Map<string, Value> {
  const io = memoryIo(p, overrides);
  const model = createBacnetModel({ io, deviceId: 'dev-1', seed, timeZone: 'Asia/Shanghai', startMs: T0 });
  for (let s = 0; s <= seconds * 10; s++) model.tick(T0 + s * 100);
  return io.values;
}

t.test('same seed and ticks → same values; another seed → other values', async (t) => {
  for (const p of [AHU, CHILLER]) {
    const a = run(p, 7, 120);
    const b = run(p, 7, 120);
    const c = run(p, 8, 120);
    t.same([...a], [...b], `${p.id} is repeatable`);
    t.notSame([...a], [...c], `${p.id} depends on the seed`);
    for (const point of p.points) t.ok(a.has(point.name), `${p.id} drives ${point.name}`);
  }
});

t.test('AHU: occupied at 10:00, fan on, supply air held near its setpoint; off at night', async (t) => {
  const day = run(AHU, 1, 600);
  t.equal(day.get('occupied'), true);
  t.equal(day.get('supply_fan_status'), true);
  t.ok(Math.abs(Number(day.get('supply_air_temperature')) - 14) < 1.5, `supply air ${String(day.get('supply_air_temperature'))} near 14 °C`);
  t.ok(Number(day.get('chilled_water_valve')) > 5, 'the valve is open to cool');
  const io = memoryIo(AHU);
  const night = Date.UTC(2026, 6, 1, 18, 0, 0); // 02:00 local
  const model = createAhuModel({ io, deviceId: 'ahu', seed: 1, timeZone: 'Asia/Shanghai', startMs: night });
  for (let s = 0; s <= 600; s++) model.tick(night + s * 1000);
  t.equal(io.values.get('occupied'), false);
  t.equal(io.values.get('supply_fan_command'), false);
  t.equal(io.values.get('supply_fan_status'), false);
});

t.test('chiller: leaving water settles at its setpoint; a stop runs the stop sequence', async (t) => {
  const io = memoryIo(CHILLER);
  const model = createChillerModel({ io, deviceId: 'ch', seed: 3, timeZone: 'Asia/Shanghai', startMs: T0 });
  for (let s = 0; s <= 300; s++) model.tick(T0 + s * 1000);
  t.equal(io.values.get('chiller_state'), 3, 'running');
  t.ok(Math.abs(Number(io.values.get('chilled_water_supply_temperature')) - 7) < 0.5);
  t.ok(Number(io.values.get('compressor_current')) > 60);
  io.set('start_stop', false); // an operator's stop
  model.tick(T0 + 301_000);
  t.equal(io.values.get('chiller_state'), 4, 'stopping');
  for (let s = 302; s <= 320; s++) model.tick(T0 + s * 1000);
  t.equal(io.values.get('chiller_state'), 1, 'off');
  t.equal(io.values.get('compressor_running'), false);
  t.equal(io.values.get('compressor_current'), 0);
});
