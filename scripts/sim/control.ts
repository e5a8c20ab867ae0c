/**
 * The simulator's fault-injection control API: a small HTTP server (node:http) on
 * 127.0.0.1 that lists the simulated devices with their faults and turns faults on and
 * off while the simulation runs — for demos, for tests, and for recording training data
 * for the ML models (bearing wear, pressure loss, entrapment…).
 *
 * - `GET /devices` — every device: id, profile, protocol, address, the faults it can take
 *   (`available`, with the meaning and range of their values) and the faults on (`active`);
 *   for a Modbus device also `requests`, the requests its server has taken (a server
 *   shared by several units behind one port counts them all), so that benchmarks can
 *   count what a client sends without being in the simulator's process.
 * - `GET /devices/:id` — one device, the same shape.
 * - `POST /devices/:id/faults` — body `{ "fault": "entrapment", "on": true, "value"?: n }`;
 *   answers the device as `GET` would.
 * - `DELETE /devices/:id/faults` — turns every fault of the device off.
 *
 * Errors are `{ "error": "…" }`: 400 for a body that is not what is described above (the
 * message names the problem), 404 for an unknown device or a fault the device does not
 * have, 405 for a method a path does not take, 413 past 64 KiB.
 *
 * There is no authentication: it binds to 127.0.0.1 unless told otherwise, and is a
 * simulator's, never a gateway's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULT_NAMES, FaultError, isFaultName } from './faults.js';
import type { FaultControl } from './faults.js';

/** What the control API needs of a simulated device, whatever its protocol. */
export interface ControlledDevice {
  readonly id: string;
  readonly profile: string;
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  readonly faults: FaultControl;
  /** Requests the device's server has taken so far (Modbus devices; absent for others). */
  readonly requests?: () => number;
}

export interface SimControlOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port (see the result's `url`). */
  readonly port?: number;
}

export interface SimControl {
  /** Base URL, e.g. `http://127.0.0.1:18500`. */
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const BODY_KEYS = new Set(['fault', 'on', 'value']);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A device as the API shows it. */
function describe(d: ControlledDevice) {
  return {
    id: d.id,
    profile: d.profile,
    protocol: d.protocol,
    host: d.host,
    port: d.port,
    ...(d.requests === undefined ? {} : { requests: d.requests() }),
    faults: { available: d.faults.specs, active: d.faults.active() },
  };
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses and checks a fault request body; throws HttpError 400 naming the problem. */
function parseFaultBody(text: string): { fault: string; on: boolean; value?: number } {
  const example = 'expected a JSON object such as {"fault": "entrapment", "on": true}';
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, `body is not JSON: ${example}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, `body must be an object: ${example}`);
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !BODY_KEYS.has(k));
  if (unknown.length > 0) throw new HttpError(400, `unknown key ${unknown.map((k) => `"${k}"`).join(', ')} (keys: fault, on, value)`);
  if (typeof b.fault !== 'string' || b.fault.length === 0) throw new HttpError(400, `"fault" must be a fault name (${FAULT_NAMES.join(', ')}), got ${JSON.stringify(b.fault) ?? 'nothing'}`);
  if (typeof b.on !== 'boolean') throw new HttpError(400, `"on" must be true or false, got ${JSON.stringify(b.on) ?? 'nothing'}`);
  if (b.value !== undefined && (typeof b.value !== 'number' || !Number.isFinite(b.value))) throw new HttpError(400, `"value" must be a number, got ${JSON.stringify(b.value)}`);
  return { fault: b.fault, on: b.on, ...(b.value === undefined ? {} : { value: b.value }) };
}

/** Starts the control API of `sim`. Rejects when the port cannot be had. */
export function startSimControl(sim: { readonly devices: readonly ControlledDevice[] }, opts: SimControlOptions = {}): Promise<SimControl> {
  const host = opts.host ?? '127.0.0.1';
  const device = (id: string): ControlledDevice => {
    const d = sim.devices.find((x) => x.id === id);
    if (d === undefined) throw new HttpError(404, `no simulated device "${id}" (devices: ${sim.devices.map((x) => x.id).join(', ') || 'none'})`);
    return d;
  };

  const route = async (req: http.IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '') || '/';
    const allow = (methods: string) => {
      if (!methods.split(', ').includes(method)) throw Object.assign(new HttpError(405, `${method} is not allowed on ${path} (allowed: ${methods})`), { allow: methods });
    };
    if (path === '/devices') {
      allow('GET');
      return { status: 200, body: { devices: sim.devices.map(describe) } };
    }
    const one = /^\/devices\/([^/]+)$/.exec(path);
    if (one !== null) {
      allow('GET');
      return { status: 200, body: describe(device(decodeURIComponent(one[1]!))) };
    }
    const faults = /^\/devices\/([^/]+)\/faults$/.exec(path);
    if (faults !== null) {
      allow('POST, DELETE');
      const d = device(decodeURIComponent(faults[1]!));
      if (method === 'DELETE') {
        d.faults.clear();
        return { status: 200, body: describe(d) };
      }
      const { fault, on, value } = parseFaultBody(await readBody(req));
      if (!isFaultName(fault)) throw new HttpError(404, `unknown fault "${fault}" (faults: ${FAULT_NAMES.join(', ')})`);
      try {
        d.faults.setFault(fault, on, value);
      } catch (err) {
        if (!(err instanceof FaultError)) throw err;
        throw new HttpError(err.reason === 'unknown' ? 404 : 400, `${d.id} (${d.profile}): ${err.message}`);
      }
      return { status: 200, body: describe(d) };
    }
    throw new HttpError(404, `no route ${method} ${path} (routes: GET /devices, GET /devices/:id, POST|DELETE /devices/:id/faults)`);
  };

  const server = http.createServer((req, res) => {
    route(req).then(
      ({ status, body }) => send(res, status, body),
      (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500;
        const allow = (err as { allow?: string }).allow;
        if (allow !== undefined) res.setHeader('allow', allow);
        send(res, status, { error: err instanceof Error ? err.message : String(err) });
      },
    );
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0 }, () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const shown = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shown}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
