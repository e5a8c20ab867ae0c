/**
 * `npm run bench -- modbus-server [--quick]`: how fast the simulator's Modbus TCP server
 * answers, so that poller benchmarks measure the gateway and not the simulator.
 *
 * Scenarios, all on 127.0.0.1, one connection each:
 * - raw-sequential: one FC3 request of 120 registers in flight at a time (as the poller
 *   sends them), hand-built frames — the server's own cost plus a loopback round trip;
 * - raw-pipelined: 100 requests in flight — the server's throughput;
 * - driver: the gateway's Modbus driver (modbus-serial) reading a 120-register block.
 */
import net from 'node:net';
import type { DeviceConfig } from '../../gateway/src/core/config/load.js';
import type { DeviceProfile } from '../../gateway/src/core/config/profile.js';
import { createLogger } from '../../gateway/src/core/logger.js';
import { createModbusDriver } from '../../gateway/src/drivers/modbus/driver.js';
import { startModbusServer } from '../sim/modbus-server.js';
import { RegisterBank } from '../sim/register-bank.js';
import type { BenchOptions, BenchResult } from './run.js';

const REGISTERS = 120;

function request(tid: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(tid & 0xffff, 0);
  b.writeUInt16BE(6, 4);
  b[6] = 1;
  b[7] = 3;
  b.writeUInt16BE(0, 8);
  b.writeUInt16BE(REGISTERS, 10);
  return b;
}

const ANSWER_BYTES = 9 + REGISTERS * 2;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** Sends `n` requests keeping `depth` in flight; resolves with per-request latencies (ms) and the elapsed time. */
async function raw(port: number, n: number, depth: number): Promise<{ elapsedMs: number; latencies: number[] }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise((r) => socket.once('connect', r));
  socket.setNoDelay(true);
  const sentAt = new Float64Array(n);
  const latencies: number[] = [];
  let sent = 0;
  let received = 0;
  let pending = 0;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const send = () => {
      while (sent < n && sent - received < depth) {
        sentAt[sent] = performance.now();
        socket.write(request(sent));
        sent++;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.length;
      const now = performance.now();
      while (pending >= ANSWER_BYTES) {
        pending -= ANSWER_BYTES;
        latencies.push(now - sentAt[received]!);
        received++;
      }
      if (received === n) resolve();
      else send();
    });
    send();
  });
  const elapsedMs = performance.now() - started;
  socket.destroy();
  return { elapsedMs, latencies };
}

async function viaDriver(port: number, n: number): Promise<{ elapsedMs: number; latencies: number[] }> {
  const points = Array.from({ length: REGISTERS }, (_, i) => ({ name: `r${i}`, type: 'uint16' as const, address: { table: 'holding', register: i }, scale: 1, offset: 0, access: 'r' as const }));
  const profile: DeviceProfile = { id: 'bench/registers', name: 'bench', protocol: 'modbus', points, alarms: [], events: [], models: [], protocolOptions: {}, file: 'bench' };
  const device: DeviceConfig = { id: 'bench', profileRef: 'bench', profile, system: 'other', pollIntervalMs: 1000, enabled: true, connection: { protocol: 'modbus-tcp', host: '127.0.0.1', port, unitId: 1, timeoutMs: 2000 } };
  const driver = createModbusDriver(device, createLogger({ level: 'silent' }));
  await driver.connect();
  const block = { space: '1/holding', start: 0, count: REGISTERS, points: points.map((spec) => ({ spec, at: driver.locate(spec) })) };
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await driver.read(block);
    latencies.push(performance.now() - t0);
  }
  const elapsedMs = performance.now() - started;
  await driver.close();
  return { elapsedMs, latencies };
}

export async function run(options: BenchOptions): Promise<BenchResult> {
  const n = options.quick ? 20_000 : 100_000;
  const bank = new RegisterBank({ holding: REGISTERS });
  bank.setRegisters('holding', 0, Array.from({ length: REGISTERS }, (_, i) => i));
  const server = await startModbusServer({ units: bank });
  try {
    const rows: (string | number)[][] = [['scenario', 'requests', 'req/s', 'registers/s', 'p50 ms', 'p99 ms']];
    const figures: Record<string, number> = {};
    const scenarios: [string, () => Promise<{ elapsedMs: number; latencies: number[] }>][] = [
      ['raw-sequential', () => raw(server.port, n, 1)],
      ['raw-pipelined', () => raw(server.port, n, 100)],
      ['driver', () => viaDriver(server.port, Math.floor(n / 2))],
    ];
    for (const [name, scenario] of scenarios) {
      const { elapsedMs, latencies } = await scenario();
      const sorted = latencies.sort((a, b) => a - b);
      const perS = Math.round((latencies.length / elapsedMs) * 1000);
      rows.push([name, latencies.length, perS, perS * REGISTERS, percentile(sorted, 0.5), percentile(sorted, 0.99)]);
      const key = name.replace(/-/g, '_');
      figures[`${key}_req_per_s`] = perS;
      figures[`${key}_p99_ms`] = Math.round(percentile(sorted, 0.99) * 1000) / 1000;
    }
    return { table: rows, figures };
  } finally {
    await server.close();
  }
}
