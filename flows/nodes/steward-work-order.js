/**
 * `steward-work-order`: opens a work order (工单) on the gateway (`POST /api/v1/work-orders`)
 * — an operation in lane 0 that reaches the cloud for dispatch, and works offline.
 *
 * The node's settings are defaults; `msg.workOrder = { title, priority, category,
 * description, device, alarm, dueAt }` overrides any of them; `msg.alarm.id` (from a
 * steward-alarm node before it) links the alarm. With a camera set (or
 * `msg.workOrder.camera`), the newest picture the gateway holds of that camera is
 * attached: a `note` operation with the attachment `{ kind: 'snapshot', camera, file,
 * url, ts }`, and its link in the description.
 * The created work order goes on as `msg.payload`. With an alarm and `dedupe` (the
 * default), an open work order of that alarm is passed on instead (`msg.existing = true`).
 */
'use strict';

module.exports = function (RED) {
  function StewardWorkOrderNode(config) {
    RED.nodes.createNode(this, config);
    const node = this;
    const gateway = RED.nodes.getNode(config.gateway);
    if (!gateway) {
      node.status({ fill: 'red', shape: 'ring', text: 'no gateway' });
      return;
    }

    /** The newest snapshot of `camera` the gateway keeps (with a camera event), or null. */
    async function latestSnapshot(camera) {
      const events = await gateway.api('GET', `/api/v1/events?device=${encodeURIComponent(camera)}&limit=50`);
      for (const e of Array.isArray(events) ? events : []) {
        const s = e.body && e.body.snapshot;
        if (s && typeof s.file === 'string') return { camera, file: s.file, ts: e.ts, event: e.id, url: `${gateway.url}/api/v1/snapshots/${encodeURIComponent(camera)}/${encodeURIComponent(s.file)}` };
      }
      return null;
    }

    /** Adds the picture to work order `id` as a note with an attachment (the create route takes none). */
    async function attach(id, snapshot) {
      const attachment = { kind: 'snapshot', camera: snapshot.camera, file: snapshot.file, url: snapshot.url, ts: snapshot.ts };
      await gateway.api('POST', `/api/v1/work-orders/${encodeURIComponent(id)}/ops`, { op: 'note', data: { text: `摄像机 Camera ${snapshot.camera} picture of ${new Date(snapshot.ts).toISOString()}`, attachments: [attachment] } });
    }

    node.on('input', async (msg, send, done) => {
      const w = msg.workOrder && typeof msg.workOrder === 'object' ? msg.workOrder : {};
      const camera = w.camera || config.camera || '';
      const body = {
        title: String(w.title || config.title || '').slice(0, 200),
        priority: w.priority || config.priority || 'P3',
        ...(w.category || config.category ? { category: w.category || config.category } : {}),
        ...(w.device || config.device || msg.device ? { device: w.device || config.device || msg.device } : {}),
        ...(w.alarm || (msg.alarm && msg.alarm.id) ? { alarm: String(w.alarm || msg.alarm.id) } : {}),
        ...(typeof w.dueAt === 'number' ? { dueAt: w.dueAt } : {}),
      };
      let description = String(w.description || config.description || '');
      if (body.title === '') return done(new Error('a work order needs a title (node settings or msg.workOrder.title)'));
      try {
        // One open work order per alarm: a flow that raises again (after a restart of
        // Node-RED, say) finds the one already open and passes it on.
        let snapshot = null;
        if (camera !== '') {
          try {
            snapshot = await latestSnapshot(camera);
          } catch (err) {
            node.warn(`no snapshot of ${camera}: ${err.message}`);
          }
        }
        // One open work order per alarm: a flow that raises again (after a restart of
        // Node-RED, say), or a gateway rule that opened one first, finds the one already
        // open and passes it on — with the picture added.
        if (body.alarm && config.dedupe !== false) {
          const open = await gateway.api('GET', `/api/v1/work-orders?open=true&alarm=${encodeURIComponent(body.alarm)}&limit=1`);
          const existing = open && Array.isArray(open.items) ? open.items[0] : undefined;
          if (existing) {
            if (snapshot) await attach(existing.id, snapshot);
            node.status({ fill: 'yellow', shape: 'dot', text: `already open: ${existing.title || existing.id}`.slice(0, 40) });
            send({ ...msg, payload: existing, existing: true, snapshot });
            return done();
          }
        }
        if (camera !== '') description += snapshot ? `\n\n摄像机 Camera ${camera}: ${snapshot.url} (${new Date(snapshot.ts).toISOString()})` : `\n\n摄像机 Camera ${camera}: no picture kept`;
        if (description.trim() !== '') body.description = description.trim().slice(0, 4000);
        const wo = await gateway.api('POST', '/api/v1/work-orders', body);
        if (snapshot) await attach(wo.id, snapshot);
        node.status({ fill: 'green', shape: 'dot', text: `${body.priority} ${body.title}`.slice(0, 40) });
        send({ ...msg, payload: wo, existing: false, snapshot });
        done();
      } catch (err) {
        node.status({ fill: 'red', shape: 'ring', text: err.code || err.message });
        done(err);
      }
    });
  }
  RED.nodes.registerType('steward-work-order', StewardWorkOrderNode);
};
