/**
 * The gateway's error registry: every error the gateway raises on purpose has a literal
 * code here, a kind that decides the policy (retry or not), and a one-line summary that
 * `docs/errors.md` repeats. A test checks that every code is unique and documented.
 *
 * Pattern after fastify's `lib/errors.js` and EdgeX's `errors/types.go`.
 */

/** What went wrong, in the terms that decide what to do about it. */
export type ErrorKind =
  | 'communication' // the peer could not be reached or hung up: retry with backoff
  | 'timeout' // the peer did not answer in time: retry with backoff
  | 'contract' // the input or the peer's answer breaks the contract: retrying cannot help
  | 'not_found' // the thing named does not exist
  | 'conflict' // the request clashes with the current state
  | 'limit' // a size, rate or space limit was reached: retry later, after backing off
  | 'auth'; // credentials missing, wrong or not allowed: a lasting error, never a retry storm

export interface ErrorSpec {
  readonly kind: ErrorKind;
  /** What the code means and what to do about it (docs/errors.md repeats this). */
  readonly summary: string;
}

export const gatewayErrors = {
  GW_ERR_CONFIG_INVALID: {
    kind: 'contract',
    summary: 'A site config or device profile breaks its schema. The message names the file, the path inside it and what was expected; fix the file and start again.',
  },
  GW_ERR_CONFIG_READ: {
    kind: 'not_found',
    summary: 'A config or profile file could not be read (missing, unreadable). Check the path given and its permissions.',
  },
  GW_ERR_CONFIG_YAML: {
    kind: 'contract',
    summary: 'A config or profile file is not valid YAML. The message gives the line and column of the first syntax error.',
  },
  GW_ERR_PROFILE_NOT_FOUND: {
    kind: 'not_found',
    summary: 'A device names a profile that is neither an id under device-profiles/ nor a readable .yaml path. Check `profile:` in site.yaml.',
  },
  GW_ERR_PROTOCOL_MISMATCH: {
    kind: 'contract',
    summary: "A device's connection protocol does not fit its profile's protocol (e.g. a bacnet-ip connection for a modbus profile).",
  },
  GW_ERR_SECRET_MISSING: {
    kind: 'contract',
    summary: 'A secret named by passwordEnv / passwordFile is not set or cannot be read. Set the variable or create the file.',
  },
  GW_ERR_MODBUS_TIMEOUT: {
    kind: 'timeout',
    summary: 'A Modbus device did not answer within connection.timeoutMs. The device is marked offline and retried with backoff.',
  },
  GW_ERR_MODBUS_CONNECT: {
    kind: 'communication',
    summary: 'The Modbus TCP connection could not be opened or was closed by the peer. Retried with backoff.',
  },
  GW_ERR_MODBUS_EXCEPTION: {
    kind: 'contract',
    summary: 'The Modbus device answered with an exception response (the code is named: 1 illegal function, 2 illegal data address, 3 illegal data value, 4 device failure, …). Check the profile against the device manual.',
  },
  GW_ERR_MODBUS_FRAME: {
    kind: 'communication',
    summary: 'A Modbus answer was malformed (wrong length, wrong function, wrong register count). The request is failed, the connection reset.',
  },
  GW_ERR_BACNET_TIMEOUT: {
    kind: 'timeout',
    summary: 'A BACnet device did not answer a confirmed request within connection.timeoutMs. The device is marked offline and retried with backoff; check its address, port and device instance.',
  },
  GW_ERR_BACNET_SOCKET: {
    kind: 'communication',
    summary: "The gateway's BACnet/IP UDP socket could not be opened (port in use, address not available) or was closed. Check connection.localPort; retried with backoff.",
  },
  GW_ERR_BACNET_ERROR: {
    kind: 'contract',
    summary: 'A BACnet device answered with an Error (the class and code are named, e.g. object/unknown-object, property/unknown-property, property/write-access-denied). Check the profile against the device’s object list.',
  },
  GW_ERR_BACNET_REJECT: {
    kind: 'contract',
    summary: 'A BACnet device rejected a request (the reason is named, e.g. unrecognized-service). An unsupported ReadPropertyMultiple makes the driver fall back to ReadProperty by itself.',
  },
  GW_ERR_BACNET_ABORT: {
    kind: 'communication',
    summary: 'A BACnet device aborted a request (the reason is named, e.g. segmentation-not-supported, out-of-resources). Lower bacnet.maxPropertiesPerRequest for the profile if it persists; retried with backoff.',
  },
  GW_ERR_BACNET_COV: {
    kind: 'communication',
    summary: 'A BACnet COV subscription was refused or could not be renewed (device rebooted or unreachable). The points are polled until the subscription is made again.',
  },
  GW_ERR_BACNET_BUSY: {
    kind: 'limit',
    summary: 'All 255 BACnet invoke ids of a local UDP port are waiting for answers. Requests are refused until some answer or time out; spread devices over more local ports or lower their timeouts.',
  },
  GW_ERR_ONVIF_AUTH: {
    kind: 'auth',
    summary: "An ONVIF device refused the username or password (SOAP fault ter:NotAuthorized or HTTP 401), on a SOAP call or on the snapshot URI. Fix connection.username or the password (passwordEnv / passwordFile) and restart; the driver does not retry in the meantime. Requests are dated by the device's own clock, so clock skew is not the cause.",
  },
  GW_ERR_ONVIF_FAULT: {
    kind: 'contract',
    summary: "An ONVIF device answered a call with a SOAP fault other than an authorization one; the message names the operation, the fault code, subcodes (e.g. ter:ActionNotSupported, ter:InvalidArgVal) and the reason. Check that the device supports the operation and the profile's onvif options.",
  },
  GW_ERR_ONVIF_HTTP: {
    kind: 'communication',
    summary: 'An ONVIF device could not be reached (refused, reset, DNS) or answered with an HTTP error and no SOAP fault (e.g. 404: check connection.url and connection.path). Retried with backoff.',
  },
  GW_ERR_ONVIF_TIMEOUT: {
    kind: 'timeout',
    summary: 'An ONVIF device did not answer within connection.timeoutMs (PullMessages: pullTimeoutS plus timeoutMs). Retried with backoff.',
  },
  GW_ERR_ONVIF_MALFORMED: {
    kind: 'communication',
    summary: "An ONVIF device's answer was not well-formed XML, not a SOAP envelope, or lacked the element the operation must return; the message says what was missing. Retried with backoff; if it persists the device firmware is at fault.",
  },
  GW_ERR_ONVIF_UNSUPPORTED: {
    kind: 'contract',
    summary: "An ONVIF device lacks what the profile needs: no event service (for events), no media profile or the configured onvif.profileToken, or no snapshot URI. Fix the profile's onvif block or use a device that supports it.",
  },
  GW_ERR_ONVIF_SUBSCRIPTION: {
    kind: 'communication',
    summary: 'An ONVIF pull-point subscription was dropped (device rebooted, subscription expired or unknown) and could not be created again after several attempts. The device is reconnected with backoff; events resume when it answers.',
  },
  GW_ERR_ONVIF_NO_VALUE: {
    kind: 'not_found',
    summary: 'An ONVIF event point has no value yet: the device has not sent a notification of its topic since the subscription began. It gets one with the first such event.',
  },
  GW_ERR_DECODE: {
    kind: 'contract',
    summary: "Registers could not be decoded as the point's data type (too few registers, a bit outside 0–15, an unsupported type).",
  },
  GW_ERR_WRITE_REFUSED: {
    kind: 'contract',
    summary: 'A write was refused before it reached the device: the point is read-only, or the value is outside its range or of the wrong type.',
  },
  GW_ERR_DEVICE_OFFLINE: {
    kind: 'communication',
    summary: 'The device is offline, so a write was not sent. It is retried by nobody: send it again when /api/v1/devices shows the device online.',
  },
  GW_ERR_AUTH_REQUIRED: {
    kind: 'auth',
    summary: 'The request needs a login: POST /api/v1/auth/login with a user of site.yaml, then send `Authorization: Bearer <token>`.',
  },
  GW_ERR_AUTH_INVALID: {
    kind: 'auth',
    summary: 'Wrong user name or password, or an expired or forged token. Log in again.',
  },
  GW_ERR_FORBIDDEN: {
    kind: 'auth',
    summary: "The user's role does not allow this (viewer < operator < technician < admin). Ask an admin to change the role in site.yaml.",
  },
  GW_ERR_RATE_LIMITED: {
    kind: 'limit',
    summary: 'Too many failed logins from this address; wait the Retry-After seconds.',
  },
  GW_ERR_DEVICE_NOT_FOUND: {
    kind: 'not_found',
    summary: 'No device or point with that id exists in this site.',
  },
  GW_ERR_STORE_IO: {
    kind: 'limit',
    summary: 'The gateway database could not be written (disk full, I/O error). Polling goes on; the error is reported on /healthz and /metrics.',
  },
  GW_ERR_STORE_CORRUPT: {
    kind: 'contract',
    summary: 'The gateway database file is damaged or not a Steward database. The gateway refuses to start and leaves the file untouched: move it aside (with -wal and -shm) to start empty.',
  },
  GW_ERR_STORE_MIGRATION: {
    kind: 'contract',
    summary: 'The gateway database has a schema version newer than this build knows. Run the newer build, or move the data folder aside.',
  },
  GW_ERR_WO_REFUSED: {
    kind: 'conflict',
    summary: "A work-order operation was refused by the state machine (e.g. resolve a work order that is not in progress, or an operation already applied); the message gives the reason and the statuses it is allowed from. Reload the work order and try what its status allows.",
  },
  GW_ERR_WO_NOT_FOUND: {
    kind: 'not_found',
    summary: 'No work order with that id is known to this gateway (created elsewhere and not yet synced down, or its creation was refused by the cloud).',
  },
  GW_ERR_DOWNLINK: {
    kind: 'communication',
    summary: "The gateway could not fetch or apply changes from the cloud (GET /v1/gateways/:id/changes). Work-order operations made in the cloud arrive late; the downlink retries with backoff and resumes from its stored cursor. A change the gateway cannot apply is skipped with an error in the log and /api/v1/sync's downlink.lastError.",
  },
  GW_ERR_SYNC_HTTP: {
    kind: 'communication',
    summary: 'The cloud could not be reached or answered with a server error. The outbox keeps everything; uplink retries with backoff and jitter.',
  },
  GW_ERR_SYNC_REFUSED: {
    kind: 'contract',
    summary: 'The cloud refused a batch as malformed (HTTP 400/413/422). The answer is logged; the batch is retried smaller or after the cause is fixed.',
  },
  GW_ERR_SYNC_AUTH: {
    kind: 'auth',
    summary: "The cloud refused the gateway's credential or enrolment token (HTTP 401/403). Issue a new enrolment token with `steward cloud gateway add` and put it in site.yaml; the gateway does not retry until restarted.",
  },
  GW_ERR_SYNC_RATE: {
    kind: 'limit',
    summary: 'The cloud asked the gateway to slow down (HTTP 429/503). Uplink waits for Retry-After before the next batch.',
  },
  GW_ERR_FLOWS_START: {
    kind: 'communication',
    summary: "Node-RED (the gateway's child process) could not start or died. Polling goes on; the gateway restarts it with backoff (gateway.nodeRed.restartMinMs…restartMaxMs) and shows its state at GET /api/v1/flows/status and in /metrics. Its last log lines are in the gateway's log (part node-red).",
  },
  GW_ERR_FLOWS_DISABLED: {
    kind: 'not_found',
    summary: "Node-RED is not enabled on this gateway, so there are no flows to show or roll back. Set gateway.nodeRed.enabled: true in site.yaml.",
  },
  GW_ERR_FLOWS_VERSION_NOT_FOUND: {
    kind: 'not_found',
    summary: "No flow version with that number is kept (GET /api/v1/flows/versions lists them; the oldest are dropped past gateway.nodeRed.keepVersions).",
  },
  GW_ERR_FLOWS_INVALID: {
    kind: 'contract',
    summary: "A flows file (a version to roll back to, or flows/ of this build) is not a JSON array of Node-RED nodes. It is left untouched; pick another version or fix the file.",
  },
  GW_ERR_MQTT_LISTEN: {
    kind: 'communication',
    summary: "The MQTT broker could not listen on gateway.mqtt host/port (or its tls port): the port is in use or the address is not on this machine. The gateway does not start; change the port or stop the other program (a system mosquitto often holds 1883).",
  },
  GW_ERR_MQTT_TLS: {
    kind: 'contract',
    summary: "The broker's TLS listener could not be set up: gateway.mqtt.tls keyFile / certFile / caFile are unreadable, not PEM, or the key does not match the certificate. Fix the files; the gateway does not start.",
  },
  GW_ERR_MQTT_FORBIDDEN: {
    kind: 'auth',
    summary: "An MQTT client published or subscribed outside its rights (its role, its acl, or a topic only the gateway publishes). A refused PUBLISH closes the client's connection (MQTT 3.1.1 has no negative PUBACK, MQTT-3.3.5-2); a refused SUBSCRIBE is answered with return code 0x80. See docs/mqtt.md for the role and ACL rules.",
  },
  GW_ERR_MQTT_BAD_PAYLOAD: {
    kind: 'contract',
    summary: 'A write on `…/<point>/set` did not carry a value: the payload must be a JSON number, boolean or string, or `{"v": value, "id": "…"}`. The refusal is published on `…/<point>/set/result`; nothing is written.',
  },
  GW_ERR_MQTT_BRIDGE: {
    kind: 'communication',
    summary: 'The upstream broker of gateway.mqtt.bridge could not be reached or refused the connection. Events and latest values are held in memory within maxQueuedEvents / maxQueuedValues and sent when it is back; the cloud sync is not affected.',
  },
  GW_ERR_MQTT_WORKER: {
    kind: 'communication',
    summary: 'The MQTT broker\'s worker thread (gateway.mqtt.worker: true) died. It is started again with backoff on the same ports and re-seeded with the latest values; its clients reconnect. Retained messages published by clients and persistent sessions are lost. Report it with the log line.',
  },
  GW_ERR_ML_MODEL_NOT_FOUND: {
    kind: 'not_found',
    summary: "A device profile lists a model under `models:` that has no folder models/<name>/ with a manifest.json. Train it (`npx steward ml train …`), copy its folder there, or remove it from the profile.",
  },
  GW_ERR_ML_MANIFEST: {
    kind: 'contract',
    summary: "A model's manifest.json is not valid JSON or lacks a required key (name, version, task, inputs, window, normalisation, files). The message names the key; regenerate the model with its training script.",
  },
  GW_ERR_ML_CHECKSUM: {
    kind: 'contract',
    summary: "A model file's sha256 differs from the one in its manifest.json (a partial copy, a corrupt disk, or weights swapped by hand). The model is not loaded; copy the model folder again or retrain it.",
  },
  GW_ERR_ML_SHAPE: {
    kind: 'contract',
    summary: "A model's network does not take what its manifest says (input shape ≠ [window, inputs] or [window × inputs]). The model is not loaded; the manifest belongs to another model or version — retrain or fix the folder.",
  },
  GW_ERR_ML_POINTS: {
    kind: 'contract',
    summary: "A device's profile lacks points a model needs as inputs (the message names them). The model is not run for that device; use a profile that has the points or drop the model from `models:`.",
  },
  GW_ERR_ML_BACKEND: {
    kind: 'contract',
    summary: "No TF.js backend could start (tfjs-node absent, the wasm files unreadable, and the cpu backend failed). The message lists why each failed; ML is off, polling goes on.",
  },
  GW_ERR_ML_WORKER: {
    kind: 'communication',
    summary: "The ML inference worker thread failed or exited. Scoring stops until it is restarted (with backoff); polling is not affected. The worker's error is logged.",
  },
  GW_ERR_HTTP_BAD_REQUEST: {
    kind: 'contract',
    summary: "A request to the gateway's HTTP API has a malformed query or body; the message names the field.",
  },
  GW_ERR_HTTP_NOT_FOUND: {
    kind: 'not_found',
    summary: "No route of the gateway's HTTP API matches the request. See docs/gateway-api.md.",
  },
  GW_ERR_ALARM_NOT_FOUND: {
    kind: 'not_found',
    summary: "No alarm with that id exists on this gateway. Alarm ids are `<source>:<rule>` (e.g. `pump-1:outlet_pressure.low`); GET /api/v1/alarms?all=true lists them.",
  },
  GW_ERR_ALARM_STATE: {
    kind: 'conflict',
    summary: "The alarm is not in a state that allows this (acknowledging an acknowledged or normal alarm, unshelving one that is not shelved, returning to service one in service). The message gives its state; reload it.",
  },
  GW_ERR_ALARM_NOTE_REQUIRED: {
    kind: 'contract',
    summary: "Acknowledging, shelving or taking an alarm out of service needs a note saying why (ISA-18.2: every acknowledgement is accountable). Send a non-empty `note`.",
  },
  GW_ERR_ALARM_SHELVE_DURATION: {
    kind: 'contract',
    summary: "A shelving request has no duration or a longer one than `gateway.alarms.maxShelveMs` allows (ISA-18.2 \u00a711.4: shelving is always time-limited). Ask for less, or raise the limit in site.yaml.",
  },
  GW_ERR_ALARM_RULE_INVALID: {
    kind: 'contract',
    summary: "An alarm rule of a profile or site.yaml cannot be evaluated: it names a point or device that does not exist, lacks the limit or value its kind needs, or two rules of a device share a name. The message names the device and the rule; the gateway does not start until it is fixed.",
  },
  GW_ERR_ALARM_EXTERNAL_CONFLICT: {
    kind: 'conflict',
    summary: "An external alarm (POST /api/v1/alarms/external) has the name of a rule the gateway evaluates itself for that source. Choose another name: a flow may not raise or clear the gateway's own alarms.",
  },
  GW_ERR_INTERNAL: {
    kind: 'communication',
    summary: 'An unexpected failure inside the gateway while answering a request. It is logged with its stack; please report it.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type GatewayErrorCode = keyof typeof gatewayErrors;

/** An error raised by the gateway on purpose. `code` is stable; match on it, not on the message. */
export class GatewayError extends Error {
  readonly code: GatewayErrorCode;
  readonly kind: ErrorKind;
  /** Structured context for logs and APIs (file, path, device, …). Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: GatewayErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.kind = gatewayErrors[code].kind;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

/** The retry policy, decided by kind alone (CONVENTIONS §3). */
export function isRetryable(kind: ErrorKind): boolean {
  return kind === 'communication' || kind === 'timeout' || kind === 'limit';
}

export function isGatewayError(err: unknown, code?: GatewayErrorCode): err is GatewayError {
  return err instanceof GatewayError && (code === undefined || err.code === code);
}
