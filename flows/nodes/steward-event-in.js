/**
 * `steward-event-in`: the gateway's events as they are recorded, from its MQTT bus
 * (`steward/v1/<site>/events/<type>`, the whole event as JSON): alarm transitions,
 * devices going online or offline, camera and access events, and what the gateway's
 * models decide — `anomaly.detected` (score, threshold, contributing points) and
 * `failure.predicted` — so that a flow can act on a model's score.
 *
 * Types are a comma list; `alarm.*` is every type of a family, `*` (or empty) every event.
 * Devices, if given, keep the events of those devices only (a comma list or `${ENV}`).
 * Each message: `{ topic: type, payload: event, device, severity, ts }`.
 */
'use strict';

const list = (s) =>
  String(s || '')
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

module.exports = function (RED) {
  function StewardEventInNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    const types = list(config.types);
    const devices = list(config.devices);
    const unsubscribers = [];
    if (!gateway) {
      node.status({ fill: 'red', shape: 'ring', text: 'no gateway' });
      return;
    }
    const wants = (type) => types.length === 0 || types.some((t) => t === '*' || t === type || (t.endsWith('.*') && type.startsWith(t.slice(0, -1))));

    function onEvent(_topic, payload) {
      let e;
      try {
        e = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (!e || typeof e.type !== 'string' || !wants(e.type)) return;
      if (devices.length > 0 && !devices.includes(e.device)) return;
      node.status({ fill: 'blue', shape: 'dot', text: `${e.type}${e.device ? ` ${e.device}` : ''}` });
      node.send({ topic: e.type, payload: e, device: e.device, severity: e.severity, ts: e.ts });
    }

    try {
      // One exact topic per plain type; the family or every event through the level wildcard.
      const exact = types.filter((t) => t !== '*' && !t.endsWith('.*'));
      const filters = exact.length === types.length && types.length > 0 ? exact.map((t) => `${gateway.prefix()}/events/${t}`) : [`${gateway.prefix()}/events/+`];
      for (const f of filters) unsubscribers.push(gateway.subscribe(f, onEvent));
      unsubscribers.push(gateway.onState((up) => (up ? node.status({ fill: 'green', shape: 'dot', text: 'connected' }) : node.status({ fill: 'red', shape: 'ring', text: 'disconnected' }))));
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'no broker' });
      node.error(err.message);
    }
    node.on('close', () => {
      for (const u of unsubscribers) u();
    });
  }
  RED.nodes.registerType('steward-event-in', StewardEventInNode);
};
