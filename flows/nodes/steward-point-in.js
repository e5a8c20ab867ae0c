/**
 * `steward-point-in`: watches points of the gateway over its MQTT bus — the retained
 * `steward/v1/<site>/<device>/<point>` values `{v, ts, q}` — and sends one message per new
 * reading: `{ topic: "pump-1.outlet_pressure", payload: 3.2, device, point, quality, ts }`.
 *
 * Devices and points are comma-separated lists (`pump-1,pump-2`; `+` is every device), and
 * may come from the environment (`${STEWARD_PUMP_DEVICES}`), so that a flow names no
 * device of its own. A message arriving at its input reads: it sends the latest value of
 * every watched point (or of `msg.topic` = `device.point` only), from the bus or, before
 * the bus has given one, from the gateway's API.
 */
'use strict';

const list = (s) =>
  String(s || '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

module.exports = function (RED) {
  function StewardPointInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    const devices = list(config.devices);
    const points = list(config.points);
    const changesOnly = config.changesOnly !== false;
    /** `device.point` → last reading. */
    const latest = new Map();
    const unsubscribers = [];

    if (!gateway) {
      node.status({ fill: 'red', shape: 'ring', text: 'no gateway' });
      node.error('steward-point-in: no steward-gateway configured');
      return;
    }
    if (devices.length === 0 || points.length === 0) {
      node.status({ fill: 'grey', shape: 'ring', text: 'no devices' });
      return; // an unbound default flow: idle, not an error
    }

    const toMsg = (device, point, r) => ({ topic: `${device}.${point}`, payload: r.v, device, point, quality: r.q, ts: r.ts });

    function onValue(topic, payload) {
      const parts = topic.split('/');
      const device = parts[parts.length - 2];
      const point = parts[parts.length - 1];
      let r;
      try {
        r = JSON.parse(payload.toString('utf8'));
      } catch {
        return node.warn(`${topic}: not a JSON value`);
      }
      if (r === null || typeof r !== 'object' || !('v' in r)) return;
      const key = `${device}.${point}`;
      const prev = latest.get(key);
      latest.set(key, r);
      if (changesOnly && prev !== undefined && prev.v === r.v && prev.q === r.q) return;
      node.status({ fill: r.q === 'good' ? 'green' : 'yellow', shape: 'dot', text: `${key} = ${r.v}` });
      node.send(toMsg(device, point, r));
    }

    try {
      const prefix = gateway.prefix();
      for (const d of devices) for (const p of points) unsubscribers.push(gateway.subscribe(`${prefix}/${d}/${p}`, onValue));
      unsubscribers.push(gateway.onState((up) => (up ? node.status({ fill: 'green', shape: 'dot', text: 'connected' }) : node.status({ fill: 'red', shape: 'ring', text: 'disconnected' }))));
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'no broker' });
      node.error(err.message);
    }

    node.on('input', async (msg, send, done) => {
      const wanted = typeof msg.topic === 'string' && /^[a-z0-9-]+\.[a-z0-9_]+$/.test(msg.topic) ? [msg.topic] : devices.filter((d) => d !== '+').flatMap((d) => points.map((p) => `${d}.${p}`));
      try {
        for (const key of wanted) {
          const [device, point] = key.split('.');
          let r = latest.get(key);
          if (r === undefined) {
            const rows = await gateway.api('GET', `/api/v1/points?device=${encodeURIComponent(device)}`);
            const row = Array.isArray(rows) ? rows.find((x) => x.point === point) : undefined;
            if (row === undefined) continue;
            r = { v: row.value, ts: row.ts, q: row.quality };
          }
          send({ ...msg, ...toMsg(device, point, r) });
        }
        done();
      } catch (err) {
        done(err);
      }
    });

    node.on('close', () => {
      for (const u of unsubscribers) u();
    });
  }

  RED.nodes.registerType('steward-point-in', StewardPointInNode);
};
