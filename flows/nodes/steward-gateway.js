/**
 * `steward-gateway`: the config node of Steward's nodes — where the gateway's API and MQTT
 * broker are and how to log in. Left blank, every field comes from the environment the
 * gateway gives its Node-RED (STEWARD_GATEWAY_URL, STEWARD_SITE, STEWARD_MQTT_URL and the
 * logins made for Node-RED at each start), so the default flows need no setting.
 *
 * It holds one MQTT connection (MQTT 3.1.1: the gateway's aedes broker speaks no v5) shared
 * by every node using it, and one API session token, renewed on a 401.
 */
'use strict';

/** True when MQTT topic `topic` matches `filter` (`+` one level, `#` the rest: MQTT-4.7.1). */
function topicMatches(filter, topic) {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

module.exports = function (RED) {
  function StewardGatewayNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const creds = node.credentials || {};
    const env = process.env;
    node.url = String(config.url || env.STEWARD_GATEWAY_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
    node.site = config.site || env.STEWARD_SITE || '';
    node.mqttUrl = config.mqttUrl || env.STEWARD_MQTT_URL || '';
    const user = creds.user || env.STEWARD_GATEWAY_USER || '';
    const password = creds.password || env.STEWARD_GATEWAY_PASSWORD || '';
    const mqttUser = creds.mqttUser || env.STEWARD_MQTT_USER || '';
    const mqttPassword = creds.mqttPassword || env.STEWARD_MQTT_PASSWORD || '';
    const timeoutMs = Number(config.timeoutMs) > 0 ? Number(config.timeoutMs) : 10000;

    /** `steward/v1/<site>` */
    node.prefix = () => `steward/v1/${node.site}`;

    // ── The gateway's HTTP API ────────────────────────────────────────────────────────
    let token = null;
    let loggingIn = null;
    async function login() {
      if (user === '') return null;
      const res = await fetch(`${node.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: user, password }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw Object.assign(new Error(`gateway login as ${user} failed: ${body.message || res.status}`), { code: body.code, status: res.status });
      return body.token;
    }

    /**
     * Calls the gateway's API; resolves with the JSON answer, rejects with an Error that
     * carries the gateway's `code` and `status` (e.g. GW_ERR_WRITE_REFUSED, 422).
     */
    node.api = async function (method, path, body) {
      for (let attempt = 0; attempt < 2; attempt++) {
        if (token === null && user !== '') {
          loggingIn = loggingIn || login().finally(() => (loggingIn = null));
          token = await loggingIn;
        }
        const headers = { accept: 'application/json' };
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (token) headers.authorization = `Bearer ${token}`;
        const res = await fetch(`${node.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
        const text = await res.text();
        let answer;
        try {
          answer = text === '' ? null : JSON.parse(text);
        } catch {
          answer = text;
        }
        if (res.status === 401 && attempt === 0 && user !== '') {
          token = null; // expired or the gateway's key changed: log in again once
          continue;
        }
        if (!res.ok) {
          const message = answer && answer.message ? answer.message : `HTTP ${res.status}`;
          throw Object.assign(new Error(`${method} ${path}: ${message}`), { code: answer && answer.code, status: res.status, answer });
        }
        return answer;
      }
      throw new Error('unreachable');
    };

    // ── The gateway's MQTT broker ────────────────────────────────────────────────────
    let client = null;
    const handlers = new Map(); // filter → Set<fn(topic, payload)>
    const stateListeners = new Set();
    node.connected = false;

    function setState(connected, error) {
      node.connected = connected;
      for (const fn of stateListeners) fn(connected, error);
    }

    function mqtt() {
      if (client !== null) return client;
      if (node.mqttUrl === '') throw new Error('no MQTT broker: set the MQTT URL of the steward-gateway node or STEWARD_MQTT_URL');
      const { connect } = require('mqtt');
      client = connect(node.mqttUrl, {
        protocolVersion: 4,
        clientId: `steward-nr-${node.id}-${Math.random().toString(16).slice(2, 8)}`,
        username: mqttUser || undefined,
        password: mqttPassword || undefined,
        reconnectPeriod: 2000,
        connectTimeout: timeoutMs,
        clean: true,
      });
      client.on('connect', () => {
        setState(true);
        const filters = [...handlers.keys()];
        if (filters.length > 0) client.subscribe(filters, { qos: 1 });
      });
      client.on('close', () => setState(false));
      client.on('error', (err) => {
        node.warn(`MQTT ${node.mqttUrl}: ${err.message}`);
        setState(false, err);
      });
      client.on('message', (topic, payload, packet) => {
        for (const [filter, fns] of handlers) {
          if (!topicMatches(filter, topic)) continue;
          for (const fn of fns) {
            try {
              fn(topic, payload, packet);
            } catch (err) {
              node.error(err);
            }
          }
        }
      });
      return client;
    }

    /** Calls `fn(connected, error?)` on each change of the MQTT connection; returns the remover. */
    node.onState = function (fn) {
      stateListeners.add(fn);
      fn(node.connected);
      return () => stateListeners.delete(fn);
    };

    /** Subscribes `fn(topic, payload, packet)` to `filter`; returns the unsubscriber. */
    node.subscribe = function (filter, fn) {
      const c = mqtt();
      let set = handlers.get(filter);
      if (set === undefined) {
        set = new Set();
        handlers.set(filter, set);
        if (c.connected) c.subscribe(filter, { qos: 1 });
      }
      set.add(fn);
      return () => {
        const s = handlers.get(filter);
        if (s === undefined) return;
        s.delete(fn);
        if (s.size === 0) {
          handlers.delete(filter);
          if (client !== null && client.connected) client.unsubscribe(filter);
        }
      };
    };

    node.publish = function (topic, payload, options) {
      const c = mqtt();
      return new Promise((resolve, reject) => c.publish(topic, payload, { qos: 1, ...(options || {}) }, (err) => (err ? reject(err) : resolve())));
    };

    node.on('close', (done) => {
      stateListeners.clear();
      handlers.clear();
      if (client === null) return done();
      const c = client;
      client = null;
      c.end(true, {}, () => done());
    });
  }

  RED.nodes.registerType('steward-gateway', StewardGatewayNode, {
    credentials: { user: { type: 'text' }, password: { type: 'password' }, mqttUser: { type: 'text' }, mqttPassword: { type: 'password' } },
  });
};

module.exports.topicMatches = topicMatches;
