/**
 * A site of real profiles (breaker, pumps, an elevator, a camera, a lux sensor) loaded
 * from YAML, an in-memory store, and an alarm engine on a clock the test moves by hand.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AlarmEngine } from '../../src/alarms/engine.js';
import { loadSiteConfig } from '../../src/config.js';
import type { SiteConfig } from '../../src/core/config/load.js';
import type { Reading, Value } from '../../src/core/model.js';
import { AlarmStore } from '../../src/store/alarms.js';
import { GatewayStore } from '../../src/store/store.js';

export const T0 = Date.UTC(2026, 10, 27, 8, 0, 0);

export const SITE = `site: { id: s1, name: S }
gateway:
  dataDir: ./data
  logLevel: silent
  alarms: { floodWindowMs: 60000, floodLookbackMs: 10000, deviceOffline: { delayMs: 10000 } }
devices:
  - { id: brk-1, profile: power/breaker, system: power, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
  - id: pump-1
    profile: water/vfd-pump
    system: water
    dependsOn: [brk-1]
    connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 }
    alarms:
      - { point: outlet_pressure, kind: low, limit: 2.0, deadband: 0.2, severity: major, delayMs: 5000, offDelayMs: 3000 }
      - { point: fault_code, kind: state, op: ne, value: 0, severity: major, name: fault_code.nonzero }
      - { point: motor_current, kind: rate, limit: 10, windowMs: 10000, severity: minor }
  - { id: pump-2, profile: water/vfd-pump, system: water, dependsOn: [brk-1], connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
  - { id: elev-1, profile: elevator/traction-elevator, system: elevator, dependsOn: [brk-1], connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
  - { id: pump-9, profile: water/vfd-pump, system: water, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
  - { id: cam-1, profile: camera/onvif-camera, system: camera, connection: { protocol: onvif, url: "http://127.0.0.1:1", username: admin } }
  - { id: light-1, profile: lighting/lighting-controller, system: lighting, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1 } }
`;

export function siteConfig(yaml: string = SITE): SiteConfig {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-alarms-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, yaml);
  return loadSiteConfig(file, {});
}

export interface Rig {
  readonly config: SiteConfig;
  readonly store: GatewayStore;
  readonly engine: AlarmEngine;
  /** The clock, ms epoch. */
  now: number;
  /** Moves the clock and ticks the engine. */
  advance(ms: number): void;
  /** One reading of `device.point` at the clock's time. */
  read(device: string, point: string, value: Value | null, quality?: Reading['quality']): void;
  /** A device event at the clock's time. */
  event(device: string, type: string, body?: Record<string, unknown>): void;
  /** Types of the alarm.* events recorded so far, oldest first. */
  events(): { type: string; alarm: string; state: string }[];
  /** A new engine on the same store (a restart). */
  restart(): Rig;
}

export function rig(options: { config?: SiteConfig; store?: GatewayStore; now?: number } = {}): Rig {
  const config = options.config ?? siteConfig();
  const store = options.store ?? new GatewayStore({ dataDir: ':memory:', site: config.site.id });
  const r: Rig = {
    config,
    store,
    now: options.now ?? T0,
    engine: undefined as unknown as AlarmEngine,
    advance(ms) {
      r.now += ms;
      r.engine.tick(r.now);
    },
    read(device, point, value, quality = 'good') {
      r.engine.readings(device, [{ point: `${device}.${point}`, ts: r.now, value, quality }]);
    },
    event(device, type, body = {}) {
      r.engine.event({ ts: r.now, device, type, body });
    },
    events() {
      return store
        .events({ type: 'alarm.*', limit: 1000 })
        .reverse()
        .map((e) => {
          const a = e.body.alarm as { id: string; state: string };
          return { type: e.type, alarm: a.id, state: a.state };
        });
    },
    restart() {
      return rig({ config, store, now: r.now });
    },
  };
  (r as { engine: AlarmEngine }).engine = new AlarmEngine({ store: new AlarmStore(store), devices: config.devices, settings: config.gateway.alarms, now: () => r.now });
  return r;
}
