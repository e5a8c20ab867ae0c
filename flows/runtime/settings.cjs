/**
 * Node-RED's settings when the Steward gateway runs it (gateway/src/flows/supervisor.ts).
 *
 * Static on purpose: everything that depends on the site is in the JSON file named by
 * STEWARD_NODE_RED_CONFIG, written by the gateway at each start (mode 0600) — the editor's
 * port, the users allowed into the editor (scrypt hashes only, never a password), the
 * credential secret, the folder of Steward's nodes. The gateway starts Node-RED as
 *
 *   node --max-old-space-size=N node_modules/node-red/red.js --settings flows/runtime/settings.cjs --userDir <dataDir>/node-red
 *
 * with an IPC channel, over which this file reports to the gateway: log records, a
 * heartbeat (the gateway's watchdog kills a Node-RED whose event loop is stuck in a
 * runaway flow), `flows:started`, and each deploy with the flows and who made it (the
 * gateway versions them: GET /api/v1/flows/versions).
 */
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');

const configFile = process.env.STEWARD_NODE_RED_CONFIG;
if (!configFile) throw new Error('STEWARD_NODE_RED_CONFIG is not set: this settings file is written for the Steward gateway');
/** @type {{ host: string, port: number, siteId: string, siteName: string, credentialSecret: string, nodesDir: string, heartbeatMs: number, users: { username: string, permissions: string, hash: string }[] }} */
const config = JSON.parse(fs.readFileSync(configFile, 'utf8'));

/** To the gateway, when it is listening (a Node-RED started by hand has no IPC channel). */
function tell(message) {
  if (typeof process.send === 'function' && process.connected) {
    try {
      process.send(message);
    } catch {
      // The gateway is going away: it will stop us too.
    }
  }
}

// Without its gateway, Node-RED has no reason to live (no orphan after a gateway crash).
process.on('disconnect', () => process.exit(0));
if (typeof process.send === 'function') setInterval(() => tell({ type: 'heartbeat', ts: Date.now() }), config.heartbeatMs).unref();

/** Checks a password against the gateway's `scrypt$N$r$p$salt$hash` (gateway/src/api/auth.ts). */
function verify(hash, password) {
  const [kind, n, r, p, salt, key] = String(hash).split('$');
  if (kind !== 'scrypt' || !n || !r || !p || !salt || !key) return Promise.resolve(false);
  const expected = Buffer.from(key, 'base64url');
  const N = Number(n);
  const R = Number(r);
  return new Promise((resolve) => {
    crypto.scrypt(String(password), Buffer.from(salt, 'base64url'), expected.length, { N, r: R, p: Number(p), maxmem: 128 * N * R * 2 }, (err, got) => {
      resolve(!err && got.length === expected.length && crypto.timingSafeEqual(got, expected));
    });
  });
}

const byName = new Map(config.users.map((u) => [u.username, u]));

// Flows are stored as Node-RED stores them (userDir/flows.json); each save is also told
// to the gateway with the user who deployed, for its versions and audit log.
const localfilesystem = require('@node-red/runtime/lib/storage/localfilesystem');
const storage = {
  ...localfilesystem,
  projects: undefined,
  init(settings, runtime) {
    runtime.events.on('flows:started', () => tell({ type: 'flows-started', ts: Date.now() }));
    return localfilesystem.init(settings, runtime);
  },
  async saveFlows(flows, user) {
    await localfilesystem.saveFlows(flows, user);
    tell({ type: 'flows-saved', ts: Date.now(), user: user && user.username ? String(user.username) : null, flows });
  },
};
delete storage.projects;

module.exports = {
  uiHost: config.host,
  uiPort: config.port,
  flowFile: 'flows.json',
  flowFilePretty: true,
  credentialSecret: config.credentialSecret,
  nodesDir: [config.nodesDir],
  storageModule: storage,

  // The editor behind the gateway's logins: technicians and admins may deploy, the other
  // roles may look (Node-RED's "custom user authentication").
  adminAuth: {
    type: 'credentials',
    // As long as a gateway login (12 h); the gateway also ends every session when it starts.
    sessionExpiryTime: 12 * 3600,
    users: async (username) => {
      const u = byName.get(username);
      return u ? { username: u.username, permissions: u.permissions } : null;
    },
    authenticate: async (username, password) => {
      const u = byName.get(username);
      // Same work for an unknown name as for a wrong password.
      const ok = await verify(u ? u.hash : 'scrypt$32768$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', password);
      return ok && u ? { username: u.username, permissions: u.permissions } : null;
    },
  },

  // The passwords Steward's nodes use come from the environment; flows cannot read them.
  envVarExcludes: ['STEWARD_GATEWAY_PASSWORD', 'STEWARD_MQTT_PASSWORD', 'STEWARD_NODE_RED_CONFIG'],

  logging: {
    console: { level: 'off' },
    steward: {
      level: 'info',
      metrics: false,
      audit: false,
      handler: () => (record) => tell({ type: 'log', level: record.level, msg: typeof record.msg === 'string' ? record.msg : String(record.msg && record.msg.stack ? record.msg.stack : JSON.stringify(record.msg)), node: record.id, nodeType: record.type, name: record.name }),
    },
  },

  // An offline gateway: no palette installs, no update checks, no telemetry.
  externalModules: { autoInstall: false, palette: { allowInstall: false, allowUpload: false }, modules: { allowInstall: false } },
  functionExternalModules: false,
  telemetry: { enabled: false, updateNotification: false },
  diagnostics: { enabled: false, ui: false },
  runtimeState: { enabled: false, ui: false },
  exportGlobalContextKeys: false,
  functionTimeout: 5,

  editorTheme: {
    page: { title: `Steward flows · ${config.siteName}` },
    header: { title: `Steward · ${config.siteName} (${config.siteId})` },
    projects: { enabled: false },
    tours: false,
    palette: { catalogues: [] },
  },
};
