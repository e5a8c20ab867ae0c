/**
 * Binds the default flows of flows/ to a site's devices: the environment variables the
 * flows read (`${STEWARD_PUMP_DEVICES}` in a node's property, `env.get('STEWARD_LIGHTING')`
 * in a function node). Taken from `gateway.nodeRed.lighting|pump|elevator` of site.yaml,
 * or, where a block is left out, derived from the devices' profiles — so the flows never
 * name a device of the demo.
 */
import type { SiteConfig } from '../core/config/load.js';

/** The channels a lighting controller's default flow switches, and when they may be on. */
const DEFAULT_CHANNELS = [
  { point: 'channel_1', from: '00:00', to: '24:00' }, // road lighting: all night, by illuminance
  { point: 'channel_2', from: '16:00', to: '23:00' }, // garden: evenings only
  { point: 'channel_3', from: '16:00', to: '22:30' }, // facade floodlights: evenings only
  { point: 'channel_6', from: '00:00', to: '24:00' }, // perimeter: all night
];

export interface FlowBindings {
  readonly lighting: { device: string; onBelowLux: number; offAboveLux: number; confirmMs: number; channels: { point: string; from: string; to: string }[] } | null;
  readonly pump: { devices: string[]; lowPressureBar: number; deadbandBar: number; delayMs: number } | null;
  readonly elevator: { devices: string[]; callPoint: string; cameras: Record<string, string> } | null;
}

export function flowBindings(config: SiteConfig): FlowBindings {
  const nr = config.gateway.nodeRed;
  const byProfile = (id: string) => config.devices.filter((d) => d.profile.id === id && d.enabled).map((d) => d.id);
  const lightingDevice = nr.lighting?.device ?? byProfile('lighting/lighting-controller')[0];
  const pumps = nr.pump?.devices ?? byProfile('water/vfd-pump');
  const lifts = nr.elevator?.devices ?? byProfile('elevator/traction-elevator');
  // Without a camera named per lift, the first camera of the lift's building, else none.
  const cameras: Record<string, string> = { ...(nr.elevator?.cameras ?? {}) };
  if (nr.elevator?.cameras === undefined || Object.keys(nr.elevator.cameras).length === 0) {
    const cams = config.devices.filter((d) => d.system === 'camera' && d.enabled);
    for (const id of lifts) {
      const lift = config.devices.find((d) => d.id === id);
      const cam = cams.find((c) => c.location?.building !== undefined && c.location.building === lift?.location?.building) ?? cams[0];
      if (cam !== undefined) cameras[id] = cam.id;
    }
  }
  return {
    lighting:
      lightingDevice === undefined
        ? null
        : {
            device: lightingDevice,
            onBelowLux: nr.lighting?.onBelowLux ?? 30,
            offAboveLux: nr.lighting?.offAboveLux ?? 80,
            confirmMs: nr.lighting?.confirmMs ?? 60_000,
            channels: nr.lighting?.channels.map((c) => ({ ...c })) ?? DEFAULT_CHANNELS,
          },
    pump: pumps.length === 0 ? null : { devices: [...pumps], lowPressureBar: nr.pump?.lowPressureBar ?? 1.5, deadbandBar: nr.pump?.deadbandBar ?? 0.2, delayMs: nr.pump?.delayMs ?? 10_000 },
    elevator: lifts.length === 0 ? null : { devices: [...lifts], callPoint: nr.elevator?.callPoint ?? 'entrapment', cameras },
  };
}

/** Device ids the bindings name that the site does not have (logged as a warning). */
export function unknownDevices(config: SiteConfig, b: FlowBindings): string[] {
  const ids = new Set(config.devices.map((d) => d.id));
  const named = [b.lighting?.device, ...(b.pump?.devices ?? []), ...(b.elevator?.devices ?? []), ...Object.keys(b.elevator?.cameras ?? {}), ...Object.values(b.elevator?.cameras ?? {})];
  return [...new Set(named.filter((d): d is string => d !== undefined && !ids.has(d)))];
}

/**
 * The environment of the flows. A device list is comma-separated (what steward-point-in
 * takes); a whole block is JSON (for function nodes). An unbound flow gets an empty list
 * and stays idle.
 */
export function bindingsEnv(b: FlowBindings): Record<string, string> {
  return {
    STEWARD_LIGHTING: JSON.stringify(b.lighting),
    STEWARD_LIGHTING_DEVICE: b.lighting?.device ?? '',
    STEWARD_LIGHTING_CHANNELS: (b.lighting?.channels ?? []).map((c) => c.point).join(','),
    STEWARD_PUMP: JSON.stringify(b.pump),
    STEWARD_PUMP_DEVICES: (b.pump?.devices ?? []).join(','),
    STEWARD_ELEVATOR: JSON.stringify(b.elevator),
    STEWARD_ELEVATOR_DEVICES: (b.elevator?.devices ?? []).join(','),
    STEWARD_ELEVATOR_POINTS: ['car_moving', 'door_zone', 'door_state', b.elevator?.callPoint ?? 'entrapment'].join(','),
  };
}
