/**
 * `steward-alarm`: raises or clears an alarm of the gateway from a flow
 * (`POST /api/v1/alarms/external`), with the ISA-18.2 lifecycle of every other alarm —
 * acknowledgement in the control room, shelving, history, lane 0 to the cloud.
 *
 * An alarm is named by its source (a device id or a flow's name) and its name; raising it
 * again while active changes nothing, clearing it returns it to normal. The node's own
 * settings are defaults: `msg.alarm = { source, name, active, severity, priority, message }`
 * overrides any of them, and a boolean `msg.payload` says active (true) or clear (false).
 * The gateway's answer (the alarm) goes on as `msg.payload`; `msg.alarm.id` carries its id
 * for a work order further down the flow.
 */
'use strict';

module.exports = function (RED) {
  function StewardAlarmNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    if (!gateway) {
      node.status({ fill: 'red', shape: 'ring', text: 'no gateway' });
      return;
    }
    node.on('input', async (msg, send, done) => {
      const a = msg.alarm && typeof msg.alarm === 'object' ? msg.alarm : {};
      const active = typeof a.active === 'boolean' ? a.active : typeof msg.payload === 'boolean' ? msg.payload : config.action !== 'clear';
      const body = {
        source: a.source || config.source || msg.device || '',
        name: a.name || config.alarmName || '',
        active,
        severity: a.severity || config.severity || 'major',
        ...(a.priority || config.priority ? { priority: a.priority || config.priority } : {}),
        ...(a.message || config.message ? { message: String(a.message || config.message) } : {}),
      };
      if (body.source === '' || body.name === '') return done(new Error('an alarm needs a source and a name (node settings or msg.alarm)'));
      try {
        const alarm = await gateway.api('POST', '/api/v1/alarms/external', body);
        node.status(active ? { fill: 'red', shape: 'dot', text: `${body.source} ${body.name} raised` } : { fill: 'green', shape: 'dot', text: `${body.source} ${body.name} cleared` });
        send({ ...msg, payload: alarm, alarm: { ...body, id: alarm && alarm.id !== undefined ? alarm.id : null } });
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: err.code || err.message });
        done(err);
      }
    });
  }
  RED.nodes.registerType('steward-alarm', StewardAlarmNode);
};
