/**
 * The device simulator of a site: a Modbus server for every `modbus-tcp` device (and,
 * with RTU framing, every `modbus-rtu-tcp` device) of a site config, on the host and port
 * the config gives, its registers driven by a signal model of the device's profile.
 *
 * Devices that share a host and port (several units behind one Modbus gateway) share a
 * server that routes by unit id. A lone device answers any unit id, as most Modbus TCP
 * devices do.
 */
import type { DeviceConfig, SiteConfig } from '../../gateway/src/core/config/load.js';
import { banksFor, DeviceIo } from './device-io.js';
import { combineFaults, NO_FAULTS, serverFaultControl, type FaultControl } from './faults.js';
import { startModbusServer, type ModbusServer } from './modbus-server.js';
import { createModel, type ModelFaults, type SignalModel } from './models/index.js';
import type { RegisterBank } from './register-bank.js';

export interface SimulatorOptions {
  /** Simulate only these device ids (default: every Modbus TCP / RTU-over-TCP device). */
  readonly only?: readonly string[];
  /** Seed of every model's PRNG (default 1): the same seed and tick times give the same signals. */
  readonly seed?: number;
  /** Model update period in ms (default 100). */
  readonly tickMs?: number;
  /** Listen on this host instead of each connection's host. */
  readonly host?: string;
  /** Port per device id instead of the connection's; 0 picks a free port (see the result). */
  readonly ports?: Readonly<Record<string, number>>;
  /** Faults injected into devices' models, by device id. */
  readonly faults?: Readonly<Record<string, ModelFaults>>;
  /**
   * Simulated seconds per real second (default 1): the models see a clock running this much
   * faster from the start (end-to-end tests of slow processes such as bearing wear). Models
   * cap one tick's step at a few seconds, so keep `tickMs × timeScale` ≤ ~3,000.
   */
  readonly timeScale?: number;
  /**
   * Where the models' clock starts (ms epoch, default now): with `timeScale`, a test puts
   * the simulated sky at dusk and lets it darken in seconds.
   */
  readonly startAt?: number;
}

export interface SimulatedDevice {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
  /** The profile id. */
  readonly profile: string;
  readonly server: ModbusServer;
  readonly io: DeviceIo;
  /** Faults to inject while running (the control API's): the model's, then the server's. */
  readonly faults: FaultControl;
}

export interface Simulator {
  readonly devices: SimulatedDevice[];
  /** The models' clock now (ms epoch). */
  clock(): number;
  /** Runs the models' clock at `scale` simulated seconds per real second from now on. */
  setTimeScale(scale: number): void;
  /** Stops the models and the servers. */
  close(): Promise<void>;
}

const FRAMING: Readonly<Record<string, 'mbap' | 'rtu'>> = { 'modbus-tcp': 'mbap', 'modbus-rtu-tcp': 'rtu' };

interface Planned {
  device: DeviceConfig;
  host: string;
  port: number;
  framing: 'mbap' | 'rtu';
  unitId: number;
  banks: Map<number, RegisterBank>;
}

/** Starts the simulator of `site`. Rejects (having closed what it opened) when a port cannot be had. */
export async function startSimulator(site: SiteConfig, opts: SimulatorOptions = {}): Promise<Simulator> {
  const seed = opts.seed ?? 1;
  const tickMs = opts.tickMs ?? 100;
  const only = opts.only === undefined ? undefined : new Set(opts.only);
  if (only !== undefined) {
    const unknown = [...only].filter((id) => !site.devices.some((d) => d.id === id && FRAMING[d.connection.protocol] !== undefined));
    if (unknown.length > 0) throw new Error(`no Modbus TCP device with id ${unknown.join(', ')} in ${site.file}`);
  }

  const planned: Planned[] = [];
  for (const device of site.devices) {
    const framing = FRAMING[device.connection.protocol];
    if (framing === undefined || (only !== undefined && !only.has(device.id))) continue;
    const conn = device.connection as { host?: unknown; port?: unknown; unitId?: unknown };
    const unitId = typeof conn.unitId === 'number' ? conn.unitId : 1;
    planned.push({
      device,
      host: opts.host ?? (typeof conn.host === 'string' ? conn.host : '127.0.0.1'),
      port: opts.ports?.[device.id] ?? (typeof conn.port === 'number' ? conn.port : 502),
      framing,
      unitId,
      banks: banksFor(device.profile, unitId),
    });
  }

  // One server per host:port (port 0 = a server of its own).
  const groups = new Map<string, Planned[]>();
  planned.forEach((p, i) => {
    const key = p.port === 0 ? `ephemeral#${i}` : `${p.framing}|${p.host}|${p.port}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  });

  const realStart = Date.now();
  const startMs = opts.startAt ?? realStart;
  const models: SignalModel[] = [];
  const devices: SimulatedDevice[] = [];
  const servers: ModbusServer[] = [];
  try {
    for (const group of groups.values()) {
      const units = new Map<number, RegisterBank>();
      for (const p of group) {
        for (const [unit, bank] of p.banks) {
          if (units.has(unit)) throw new Error(`devices on ${p.host}:${p.port} share unit id ${unit}: ${group.map((g) => g.device.id).join(', ')}`);
          units.set(unit, bank);
        }
      }
      const first = group[0]!;
      const lone = group.length === 1 && units.size === 1 ? units.values().next().value : undefined;
      const server = await startModbusServer({ host: first.host, port: first.port, framing: first.framing, units: lone ?? units }).catch((err: unknown) => {
        throw new Error(`cannot listen on ${first.host}:${first.port} for ${group.map((g) => g.device.id).join(', ')}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      servers.push(server);
      for (const p of group) {
        const io = new DeviceIo(p.device.profile, p.unitId, (unit) => p.banks.get(unit)!);
        const faults = opts.faults?.[p.device.id];
        const model = createModel({ io, deviceId: p.device.id, seed, timeZone: site.site.timezone, startMs, ...(faults === undefined ? {} : { faults }) });
        model.tick(startMs);
        models.push(model);
        const deviceFaults = combineFaults(model.faults ?? NO_FAULTS, serverFaultControl(server, [...p.banks.keys()], lone === undefined));
        devices.push({ id: p.device.id, host: server.host, port: server.port, protocol: p.device.connection.protocol, profile: p.device.profile.id, server, io, faults: deviceFaults });
      }
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }

  // The models' clock: `sim` at real time `real`, running `scale` times as fast.
  const at = { real: realStart, sim: startMs, scale: opts.timeScale ?? 1 };
  const clock = (): number => at.sim + (Date.now() - at.real) * at.scale;
  const timer = setInterval(() => {
    const now = clock();
    for (const model of models) model.tick(now);
  }, tickMs);

  return {
    devices,
    clock,
    setTimeScale: (scale: number) => {
      const now = Date.now();
      at.sim = at.sim + (now - at.real) * at.scale;
      at.real = now;
      at.scale = scale;
    },
    close: async () => {
      clearInterval(timer);
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
