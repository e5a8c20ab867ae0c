/**
 * The whole simulated community of a site: every Modbus (TCP, RTU over TCP), BACnet/IP
 * and ONVIF device of its site.yaml, each served by its protocol's simulator, with one
 * fault-injection interface over all of them (for the control API). `steward sim` and
 * the demo run this.
 */
import type { SiteConfig } from '../../gateway/src/core/config/load.js';
import { startBacnetSimulator, type BacnetSimulator } from './bacnet/sim.js';
import { createFaultSet, NO_FAULTS, type FaultControl } from './faults.js';
import { startOnvifSimulator, type OnvifSimulator } from './onvif/onvif-sim.js';
import { startSimulator, type Simulator } from './sim.js';

export interface CommunityDevice {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
  readonly profile: string;
  readonly faults: FaultControl;
  /** Requests taken by the device's server (Modbus devices): the control API shows it. */
  readonly requests?: () => number;
}

export interface Community {
  readonly devices: readonly CommunityDevice[];
  readonly modbus: Simulator;
  readonly bacnet: BacnetSimulator;
  readonly onvif: OnvifSimulator;
  close(): Promise<void>;
}

export interface CommunityOptions {
  readonly seed?: number;
  readonly tickMs?: number;
  readonly host?: string;
  /** Port per device id instead of its connection's; 0 picks a free one. */
  readonly ports?: Readonly<Record<string, number>>;
  /** Only these devices (any protocol). */
  readonly only?: readonly string[];
  /** The password ONVIF devices accept when site.yaml's secret is not resolved (e.g. `steward sim` without the env). */
  readonly fallbackPassword?: string;
}

const MODBUS = new Set(['modbus-tcp', 'modbus-rtu-tcp']);

export async function startCommunity(site: SiteConfig, opts: CommunityOptions = {}): Promise<Community> {
  const wanted = (protocols: (p: string) => boolean) => {
    const ids = site.devices.filter((d) => protocols(d.connection.protocol) && (opts.only === undefined || opts.only.includes(d.id))).map((d) => d.id);
    return ids;
  };
  if (opts.only !== undefined) {
    const known = new Set(site.devices.map((d) => d.id));
    const unknown = opts.only.filter((id) => !known.has(id));
    if (unknown.length > 0) throw new Error(`no device ${unknown.join(', ')} in ${site.file}`);
  }
  const common = { ...(opts.seed === undefined ? {} : { seed: opts.seed }), ...(opts.host === undefined ? {} : { host: opts.host }), ...(opts.ports === undefined ? {} : { ports: opts.ports }) };
  const opened: { close(): Promise<void> }[] = [];
  try {
    const modbus = await startSimulator(site, { ...common, ...(opts.tickMs === undefined ? {} : { tickMs: opts.tickMs }), only: wanted((p) => MODBUS.has(p)) });
    opened.push(modbus);
    const bacnet = await startBacnetSimulator(site, { ...common, ...(opts.tickMs === undefined ? {} : { tickMs: opts.tickMs }), only: wanted((p) => p === 'bacnet-ip') });
    opened.push(bacnet);
    // ONVIF devices accept the user and password of their site.yaml connection.
    const onvifIds = wanted((p) => p === 'onvif');
    const users: Record<string, string> = {};
    for (const d of site.devices.filter((x) => onvifIds.includes(x.id))) {
      users[String(d.connection.username ?? 'admin')] = d.secret ?? opts.fallbackPassword ?? 'steward';
    }
    const onvif = await startOnvifSimulator(site, { ...common, only: onvifIds, users });
    opened.push(onvif);

    const devices: CommunityDevice[] = [
      ...modbus.devices.map((d) => ({ id: d.id, host: d.host, port: d.port, protocol: d.protocol, profile: d.profile, faults: d.faults, requests: () => d.server.stats.requests })),
      ...bacnet.devices.map((d) => ({
        id: d.id,
        host: d.host,
        port: d.port,
        protocol: d.protocol,
        profile: d.profile,
        faults: createFaultSet({ 'comms-loss': { description: 'the controller drops every request (a pegged CPU, a cable out)' } }, (_name, on) => d.device.stall(on)),
      })),
      ...onvif.devices.map((d) => ({
        id: d.id,
        host: d.host,
        port: d.port,
        protocol: d.protocol,
        profile: d.profile,
        faults: d.profile.startsWith('camera/')
          ? createFaultSet({ 'camera-tamper': { description: 'a tamper alarm now (lens covered, camera moved)' } }, (_name, on) => {
              if (on) d.control.tamper(5000);
            })
          : NO_FAULTS,
      })),
    ];
    return {
      devices,
      modbus,
      bacnet,
      onvif,
      async close() {
        await Promise.all(opened.map((o) => o.close()));
      },
    };
  } catch (err) {
    await Promise.all(opened.map((o) => o.close().catch(() => undefined)));
    throw err;
  }
}
