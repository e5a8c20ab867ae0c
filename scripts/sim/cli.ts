/**
 * `steward sim --config site.yaml [--seed N] [--only id,id] [--tick-ms N] [--control-port N]`:
 * serves the site's Modbus, BACnet/IP and ONVIF devices from simulators until SIGINT/SIGTERM, with the
 * fault-injection control API (control.ts) when `--control-port` is given.
 */
import { parseArgs } from 'node:util';
import { loadSiteConfig } from '../../gateway/src/config.js';
import { startSimControl, type SimControl } from './control.js';
import { startCommunity, type CommunityOptions } from './community.js';

const USAGE = `Usage: steward sim --config site.yaml [--seed N] [--only ID,ID…] [--tick-ms N] [--control-port N]

Serves every Modbus TCP (and RTU-over-TCP), BACnet/IP and ONVIF device of site.yaml on its connection's
host and port, with signals from a model of its profile, until Ctrl-C.

--control-port N   also serve the fault-injection control API on 127.0.0.1:N (0 = any
                   free port); its URL is printed (docs/modbus.md, "Control API")
`;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got "${value}"`);
  return n;
}

/** Runs the command; resolves with the exit code. `signal` stops it as SIGINT would (for tests). */
export async function simCommand(argv: string[], options: { signal?: AbortSignal } = {}): Promise<number> {
  let opts: CommunityOptions;
  let config: string;
  let controlPort: number | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        seed: { type: 'string' },
        only: { type: 'string' },
        'tick-ms': { type: 'string' },
        'control-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    if (values.help === true) {
      process.stdout.write(USAGE);
      return 0;
    }
    if (values.config === undefined) throw new Error('--config is required');
    config = values.config;
    const seed = integer('seed', values.seed);
    const tickMs = integer('tick-ms', values['tick-ms']);
    if (tickMs !== undefined && tickMs < 10) throw new Error('--tick-ms must be at least 10');
    controlPort = integer('control-port', values['control-port']);
    if (controlPort !== undefined && (controlPort < 0 || controlPort > 65535)) throw new Error(`--control-port must be 0–65535, got ${controlPort}`);
    opts = {
      ...(seed === undefined ? {} : { seed }),
      ...(tickMs === undefined ? {} : { tickMs }),
      ...(values.only === undefined ? {} : { only: values.only.split(',').map((s) => s.trim()).filter(Boolean) }),
    };
  } catch (err) {
    process.stderr.write(`steward sim: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 1;
  }

  let sim;
  try {
    // Secrets when the environment has them (cameras then accept the gateway's password), else none.
    let site;
    try {
      site = loadSiteConfig(config);
    } catch {
      site = loadSiteConfig(config, undefined, false);
    }
    sim = await startCommunity(site, opts);
  } catch (err) {
    process.stderr.write(`steward sim: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  let control: SimControl | undefined;
  if (controlPort !== undefined) {
    try {
      control = await startSimControl(sim, { port: controlPort });
    } catch (err) {
      await sim.close();
      process.stderr.write(`steward sim: cannot start the control API on 127.0.0.1:${controlPort}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
  }

  if (sim.devices.length === 0) process.stderr.write('steward sim: the site has no Modbus TCP, BACnet/IP or ONVIF device to simulate\n');
  const width = Math.max(0, ...sim.devices.map((d) => d.id.length));
  for (const d of sim.devices) process.stdout.write(`${d.id.padEnd(width)}  ${d.protocol} ${d.host}:${d.port}  ${d.profile}\n`);
  if (control !== undefined) process.stdout.write(`control API  ${control.url}/devices\n`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (options.signal?.aborted === true) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
  await control?.close();
  await sim.close();
  return 0;
}
