/**
 * `npm run bench -- alarms [--quick] [--points N] [--seconds S] [--subscribers K] [--mqtt-client lean|mqttjs]`
 *
 * 1. The alarm engine's hot path: N points (10,000: 715 VFD pumps of 14 points, each
 *    with the profile's 4 point rules and a comm rule) fed in per-device batches as the
 *    poller hands them to main.ts, as fast as it goes, one simulated second per round
 *    with a tick. About 1 % of the pumps cross their low-pressure limit and back every
 *    simulated minute, so transitions (each a SQLite transaction with its lane-0 event)
 *    are part of the cost. Figure: points/s at one core.
 * 2. MQTT publication and fan-out through the gateway's embedded broker
 *    (gateway/src/broker/, aedes) to K subscribers (50): measured by the bus's own
 *    benchmark (scripts/bench/mqtt.ts), run from here, so both figures come from one
 *    command. Its subscribers are the lean raw-socket client (lib/lean-mqtt.ts) unless
 *    `--mqtt-client mqttjs` asks for mqtt.js. Its fan-out at the device layer's saturation, beside the real poller, is
 *    `npm run bench -- poll --only saturation --mqtt-subscribers 50`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AlarmEngine } from '../../gateway/src/alarms/engine.js';
import { loadProfileFile } from '../../gateway/src/config.js';
import type { AlarmSettingsDoc } from '../../gateway/src/core/config/alarms.js';
import type { DeviceConfig } from '../../gateway/src/core/config/load.js';
import type { Quality, Reading, Value } from '../../gateway/src/core/model.js';
import { AlarmStore } from '../../gateway/src/store/alarms.js';
import { GatewayStore } from '../../gateway/src/store/store.js';
import { mqttClientOption } from './lib/mqtt-subscribers.js';
import { run as mqttBench } from './mqtt.js';
import type { BenchOptions, BenchResult } from './run.js';

type MutableReading = { point: string; ts: number; value: Value | null; quality: Quality };

const SETTINGS: AlarmSettingsDoc = { floodWindowMs: 60_000, floodLookbackMs: 10_000, maxShelveMs: 8 * 3600_000, tickMs: 1000, deviceOffline: { enabled: true, severity: 'major', delayMs: 10_000 } };

/** Normal values of the pump profile's points (a healthy pump). */
const NORMAL: Readonly<Record<string, Value>> = {
  outlet_pressure: 4.2,
  flow: 30,
  motor_current: 20,
  frequency: 45,
  bearing_temperature: 55,
  vibration: 2.1,
  run_hours: 1000,
  running: true,
  fault: false,
  remote_mode: true,
  fault_code: 0,
  pressure_setpoint: 4.5,
  energy: 5000,
  start_stop: true,
};

function pumps(n: number): DeviceConfig[] {
  const profile = loadProfileFile(path.join(path.dirname(new URL(import.meta.url).pathname), '../../device-profiles/water/vfd-pump.yaml'));
  return Array.from({ length: n }, (_, i) => ({ id: `pump-${i}`, profileRef: 'water/vfd-pump', profile, system: 'water', pollIntervalMs: 1000, enabled: true, connection: { protocol: 'modbus-tcp' } }) as unknown as DeviceConfig);
}

async function engineRun(points: number, seconds: number): Promise<{ pointsPerS: number; pointsPerCpuS: number; transitions: number; rules: number; rounds: number; nsPerPoint: number }> {
  const devices = pumps(Math.ceil(points / 14));
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-bench-alarms-'));
  const store = new GatewayStore({ dataDir: dir, site: 'bench' });
  let now = Date.now();
  const engine = new AlarmEngine({ store: new AlarmStore(store), devices, settings: SETTINGS, now: () => now });
  // One reusable batch per device, as the poller hands them over; values changed in place.
  const batches = devices.map((d) => d.profile.points.map((p): MutableReading => ({ point: `${d.id}.${p.name}`, ts: now, value: NORMAL[p.name] ?? 0, quality: 'good' })));
  const bases = devices.map((d) => d.profile.points.map((p) => NORMAL[p.name] ?? 0));
  const pressure = batches.map((b) => b.find((r) => r.point.endsWith('.outlet_pressure'))!);
  let fed = 0;
  let rounds = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (let k = 0; k < 10; k++, rounds++) {
      now += 1000;
      const minute = Math.floor(rounds / 60);
      for (let i = 0; i < devices.length; i++) {
        const batch = batches[i]!;
        for (let j = 0; j < batch.length; j++) {
          const r = batch[j]!;
          r.ts = now;
          const base = bases[i]![j]!;
          if (typeof base === 'number') r.value = base + ((rounds + j) % 7) * 0.01;
        }
        // 1 % of the pumps lose pressure for half of every other minute.
        pressure[i]!.value = i % 100 === minute % 100 && rounds % 60 < 30 ? 0.8 : 4.2 + (rounds % 5) * 0.01;
        engine.readings(devices[i]!.id, batch as Reading[]);
        fed += batch.length;
      }
      engine.tick(now);
    }
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const cpu = process.cpuUsage(cpu0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const stats = engine.stats();
  store.close();
  rmSync(dir, { recursive: true, force: true });
  return { pointsPerS: Math.round(fed / (elapsedNs / 1e9)), pointsPerCpuS: Math.round(fed / cpuS), transitions: stats.transitions, rules: stats.rules, rounds, nsPerPoint: elapsedNs / fed };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const points = Number(options.args.points ?? 10_000);
  const seconds = Number(options.args.seconds ?? (options.quick ? 5 : 20));
  const subscribers = Number(options.args.subscribers ?? 50);
  const mqttClient = mqttClientOption(options.args);
  const e = await engineRun(points, seconds);
  // The fan-out is the MQTT bus's own benchmark (scripts/bench/mqtt.ts, by the broker's
  // author): the same Broker, subscribers in a child process, paced publication. Its
  // per-point run to K subscribers is the figure asked for here.
  let fan: Readonly<Record<string, number | string | boolean>> | undefined;
  let fanError: string | undefined;
  try {
    fan = (await mqttBench({ quick: options.quick, args: { points: String(points), subscribers: String(subscribers), 'mqtt-client': mqttClient } })).figures;
  } catch (err) {
    fanError = err instanceof Error ? err.message : String(err);
  }
  const fanout = typeof fan?.mqtt_fanout_msgs_per_s === 'number' && fan.mqtt_fanout_msgs_per_s > 0 ? fan.mqtt_fanout_msgs_per_s : undefined;
  const table: (string | number)[][] = [
    ['measure', 'value'],
    ['points in the engine', points],
    ['rules (point + comm)', e.rules],
    ['simulated seconds fed', e.rounds],
    ['points/s through the engine (one core)', e.pointsPerS],
    ['points per CPU-second (load-independent)', e.pointsPerCpuS],
    ['ns per point (wall)', Math.round(e.nsPerPoint)],
    ['alarm transitions (each a SQLite transaction)', e.transitions],
    [`one core's share at ${points} points/s`, `${((points / e.pointsPerS) * 100).toFixed(2)} %`],
    ['MQTT subscribers', subscribers],
    [`MQTT per-point fan-out msgs/s to ${subscribers} (bench mqtt)`, fanout ?? `n/a ${fanError ?? ''}`],
    [`MQTT per-point fan-out rate asked, values/s`, fan?.fanout_rate === undefined ? 'n/a' : String(fan.fanout_rate)],
    [`MQTT device batches to ${subscribers}: points/s reaching all`, fan?.mqtt_batch_points_per_s_to_all === undefined ? 'n/a' : String(fan.mqtt_batch_points_per_s_to_all)],
    [`MQTT per-point fan-out at ${points} values/s to ${subscribers}: msgs/s the broker wrote`, fan?.mqtt_fanout_full_written_msgs_per_s === undefined ? 'n/a' : String(fan.mqtt_fanout_full_written_msgs_per_s)],
    [`  … msgs/s the subscribers' process read`, fan?.mqtt_fanout_full_msgs_per_s === undefined ? 'n/a' : String(fan.mqtt_fanout_full_msgs_per_s)],
    [`  … broker CPU µs per message written`, fan?.mqtt_fanout_full_cpu_us_per_written === undefined ? 'n/a' : String(fan.mqtt_fanout_full_cpu_us_per_written)],
    [`MQTT publication CPU ms per 1,000 changed values, no subscriber (paced, with the bench's loop)`, fan?.publish_cpu_ms_per_1k === undefined ? 'n/a' : String(fan.publish_cpu_ms_per_1k)],
    [`MQTT publication as fast as it goes, no subscriber: changed values/s`, fan?.publish_max_values_per_s === undefined ? 'n/a' : String(fan.publish_max_values_per_s)],
    [`  … CPU µs per changed value`, fan?.publish_max_cpu_us_per_value === undefined ? 'n/a' : String(fan.publish_max_cpu_us_per_value)],
  ];
  return {
    table,
    figures: {
      points,
      points_per_s: e.pointsPerS,
      points_per_cpu_s: e.pointsPerCpuS,
      ns_per_point: Math.round(e.nsPerPoint),
      transitions: e.transitions,
      mqtt_subscribers: subscribers,
      mqtt_client: mqttClient,
      // null (printed as such) when the bus could not be measured; the table says why.
      mqtt_fanout_msgs_per_s: fanout ?? (null as unknown as number),
      ...(fan?.mqtt_batch_points_per_s_to_all === undefined ? {} : { mqtt_batch_points_per_s_to_all: fan.mqtt_batch_points_per_s_to_all }),
      ...(fan === undefined
        ? {}
        : {
            mqtt_fanout_full_written_msgs_per_s: fan.mqtt_fanout_full_written_msgs_per_s as number,
            mqtt_fanout_full_msgs_per_s: fan.mqtt_fanout_full_msgs_per_s as number,
            mqtt_fanout_full_cpu_us_per_written: fan.mqtt_fanout_full_cpu_us_per_written as number,
            mqtt_publish_cpu_ms_per_1k: fan.publish_cpu_ms_per_1k as number,
            mqtt_publish_max_values_per_s: fan.publish_max_values_per_s as number,
            mqtt_publish_max_cpu_us_per_value: fan.publish_max_cpu_us_per_value as number,
          }),
      ...(fan?.loadavg_1m === undefined ? {} : { loadavg_1m: fan.loadavg_1m }),
    },
  };
}
