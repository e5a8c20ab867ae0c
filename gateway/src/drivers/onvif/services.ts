/**
 * The device and media operations the driver needs at connect, each one request and a
 * typed answer: GetSystemDateAndTime, GetDeviceInformation, GetServices (falling back to
 * GetCapabilities for devices older than ONVIF 2.0), GetProfiles, GetSnapshotUri.
 * References: ONVIF Core Specification §8.1.2 (GetServices), §8.3.1 (GetDeviceInformation),
 * §8.3.10 (GetSystemDateAndTime), §8.1.2.2 (GetCapabilities); Media Service §5.2.1
 * (GetProfiles), §5.11 (GetSnapshotUri).
 */
import { isGatewayError } from '../../core/errors.js';
import type { OnvifClient } from './client.js';
import { NS } from './soap.js';
import { at, attr, child, children, escapeXml, text, type XmlValue } from './xml.js';

export interface DeviceInformation {
  readonly manufacturer: string;
  readonly model: string;
  readonly firmwareVersion: string;
  readonly serialNumber: string;
  readonly hardwareId: string;
}

export interface ServiceAddresses {
  readonly media?: string;
  readonly events?: string;
}

export interface MediaProfile {
  readonly token: string;
  readonly name: string;
}

/**
 * The device's address as seen by the gateway, applied to an address the device gave
 * (XAddr, snapshot URI, subscription reference): devices report the address they know
 * themselves by, which NAT and port forwarding make unreachable. The path and query are
 * the device's; scheme, host and port are the configured URL's.
 */
export function rebase(address: string, base: string): string {
  try {
    const u = new URL(address);
    const b = new URL(base);
    return `${b.origin}${u.pathname}${u.search}`;
  } catch {
    return address;
  }
}

/** Device time minus our time (ms) from GetSystemDateAndTime; 0 when the device gives no UTC time. */
export async function getClockOffsetMs(client: OnvifClient, deviceUrl: string): Promise<number> {
  const body = await client.call(deviceUrl, 'GetSystemDateAndTime', `<GetSystemDateAndTime xmlns="${NS.tds}"/>`, { authenticate: false });
  const sentAt = Date.now();
  const utc = at(body, 'GetSystemDateAndTimeResponse', 'SystemDateAndTime', 'UTCDateTime');
  const n = (v: XmlValue | undefined, ...path: string[]) => Number(text(at(v, ...path)));
  const ms = Date.UTC(n(utc, 'Date', 'Year'), n(utc, 'Date', 'Month') - 1, n(utc, 'Date', 'Day'), n(utc, 'Time', 'Hour'), n(utc, 'Time', 'Minute'), n(utc, 'Time', 'Second'));
  // Whole seconds on the wire: an offset under 2 s is noise.
  if (!Number.isFinite(ms)) return 0;
  const offset = ms - sentAt;
  return Math.abs(offset) < 2000 ? 0 : offset;
}

export async function getDeviceInformation(client: OnvifClient, deviceUrl: string): Promise<DeviceInformation> {
  const body = await client.call(deviceUrl, 'GetDeviceInformation', `<GetDeviceInformation xmlns="${NS.tds}"/>`);
  const r = child(body, 'GetDeviceInformationResponse');
  if (r === undefined) throw client.malformed('GetDeviceInformation', deviceUrl, 'GetDeviceInformationResponse');
  const f = (name: string) => text(child(r, name)) ?? '';
  return { manufacturer: f('Manufacturer'), model: f('Model'), firmwareVersion: f('FirmwareVersion'), serialNumber: f('SerialNumber'), hardwareId: f('HardwareId') };
}

/** Where the media and event services are: GetServices, or GetCapabilities on devices that fault on it. */
export async function getServiceAddresses(client: OnvifClient, deviceUrl: string, base: string): Promise<ServiceAddresses> {
  try {
    const body = await client.call(deviceUrl, 'GetServices', `<GetServices xmlns="${NS.tds}"><IncludeCapability>false</IncludeCapability></GetServices>`);
    const services = children(child(body, 'GetServicesResponse'), 'Service');
    const find = (ns: string) => {
      const s = services.find((sv) => text(child(sv, 'Namespace')) === ns);
      const x = text(child(s, 'XAddr'));
      return x === undefined || x === '' ? undefined : rebase(x, base);
    };
    const media = find(NS.trt);
    const events = find(NS.tev);
    if (media !== undefined || events !== undefined) return { ...(media === undefined ? {} : { media }), ...(events === undefined ? {} : { events }) };
  } catch (err) {
    // ONVIF < 2.0 devices do not know GetServices; any other failure is real.
    if (!isGatewayError(err, 'GW_ERR_ONVIF_FAULT')) throw err;
  }
  const body = await client.call(deviceUrl, 'GetCapabilities', `<GetCapabilities xmlns="${NS.tds}"><Category>All</Category></GetCapabilities>`);
  const caps = at(body, 'GetCapabilitiesResponse', 'Capabilities');
  const x = (name: string) => {
    const v = text(at(caps, name, 'XAddr'));
    return v === undefined || v === '' ? undefined : rebase(v, base);
  };
  const media = x('Media');
  const events = x('Events');
  return { ...(media === undefined ? {} : { media }), ...(events === undefined ? {} : { events }) };
}

export async function getProfiles(client: OnvifClient, mediaUrl: string): Promise<MediaProfile[]> {
  const body = await client.call(mediaUrl, 'GetProfiles', `<GetProfiles xmlns="${NS.trt}"/>`);
  const r = child(body, 'GetProfilesResponse');
  if (r === undefined) throw client.malformed('GetProfiles', mediaUrl, 'GetProfilesResponse');
  return children(r, 'Profiles').flatMap((p) => {
    const token = attr(p, 'token');
    return token === undefined ? [] : [{ token, name: text(child(p, 'Name')) ?? token }];
  });
}

export async function getSnapshotUri(client: OnvifClient, mediaUrl: string, profileToken: string, base: string): Promise<string> {
  const body = await client.call(mediaUrl, 'GetSnapshotUri', `<GetSnapshotUri xmlns="${NS.trt}"><ProfileToken>${escapeXml(profileToken)}</ProfileToken></GetSnapshotUri>`);
  const uri = text(at(body, 'GetSnapshotUriResponse', 'MediaUri', 'Uri'));
  if (uri === undefined || uri === '') throw client.malformed('GetSnapshotUri', mediaUrl, 'MediaUri/Uri');
  return rebase(uri, base);
}
