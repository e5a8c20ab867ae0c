/**
 * `steward-point-out`: writes a point through the gateway — which checks it (writable,
 * in range, right type, device online), writes it and records it in its audit log under
 * Node-RED's login — and sends the result on:
 * `msg.payload = { ok, point, value, previous }`. A refused or failed write is an error
 * of the node (a Catch node gets it, with `msg.error.code`, e.g. GW_ERR_WRITE_REFUSED).
 *
 * The point is the node's own (device + point) or `msg.topic` = `device.point` (or
 * `msg.device` + `msg.point`); the value is `msg.payload`. By MQTT (default) the node
 * publishes `{v, id}` on `…/<device>/<point>/set` and waits for the gateway's answer on
 * `…/set/result`; by API it POSTs /api/v1/points/:id/write.
 */
'use strict';

const crypto = require('node:crypto');

module.exports = function (RED) {
  function StewardPointOutNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    const via = config.via === 'api' ? 'api' : 'mqtt';
    const timeoutMs = Number(config.timeoutMs) > 0 ? Number(config.timeoutMs) : 10000;
    if (!gateway) {
      node.status({ fill: 'red', shape: 'ring', text: 'no gateway' });
      return;
    }

    /** Writes over MQTT: `{v, id}` on …/set, the answer with the same id on …/set/result. */
    function writeMqtt(device, point, value) {
      const topic = `${gateway.prefix()}/${device}/${point}/set`;
      const id = crypto.randomUUID();
      return new Promise((resolve, reject) => {
        let unsubscribe = () => {};
        const timer = setTimeout(() => {
          unsubscribe();
          reject(Object.assign(new Error(`no answer on ${topic}/result within ${timeoutMs} ms`), { code: 'GW_ERR_FLOWS_WRITE_TIMEOUT' }));
        }, timeoutMs);
        unsubscribe = gateway.subscribe(`${topic}/result`, (_t, payload) => {
          let r;
          try {
            r = JSON.parse(payload.toString('utf8'));
          } catch {
            return;
          }
          if (r.id !== id) return;
          clearTimeout(timer);
          unsubscribe();
          if (r.ok) resolve({ ok: true, point: `${device}.${point}`, value: r.v, previous: r.previous === undefined ? null : r.previous });
          else reject(Object.assign(new Error(r.message || 'write refused'), { code: r.code }));
        });
        // Subscribed first, so the answer cannot come before we listen.
        gateway.publish(topic, JSON.stringify({ v: value, id }), { qos: 1 }).catch((err) => {
          clearTimeout(timer);
          unsubscribe();
          reject(err);
        });
      });
    }

    async function writeApi(device, point, value) {
      const r = await gateway.api('POST', `/api/v1/points/${encodeURIComponent(`${device}.${point}`)}/write`, { value });
      return { ok: true, point: r.point, value: r.value, previous: r.previous === undefined ? null : r.previous };
    }

    node.on('input', async (msg, send, done) => {
      let device = config.device || msg.device;
      let point = config.point || msg.point;
      if ((!device || !point) && typeof msg.topic === 'string' && msg.topic.includes('.')) {
        const dot = msg.topic.indexOf('.');
        device = device || msg.topic.slice(0, dot);
        point = point || msg.topic.slice(dot + 1);
      }
      const value = msg.payload;
      if (!device || !point) return done(new Error('no point: set device and point on the node, or msg.topic = "device.point"'));
      if (!['number', 'boolean', 'string'].includes(typeof value)) return done(new Error(`msg.payload must be a number, boolean or string to write ${device}.${point}`));
      node.status({ fill: 'blue', shape: 'dot', text: `${device}.${point} ← ${value}` });
      try {
        const result = via === 'api' ? await writeApi(device, point, value) : await writeMqtt(device, point, value);
        node.status({ fill: 'green', shape: 'dot', text: `${device}.${point} = ${value}` });
        send({ ...msg, topic: `${device}.${point}`, payload: result });
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: err.code || err.message });
        msg.error = { message: err.message, code: err.code };
        done(err);
      }
    });
  }

  RED.nodes.registerType('steward-point-out', StewardPointOutNode);
};
