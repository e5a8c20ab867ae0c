/**
 * The alarm routes of a running gateway: the list and history are open to read; every
 * action needs a login of the right role and a note; the errors say what is wrong. The
 * gateway's own wiring is exercised too: a device that does not answer raises its comm
 * alarm through the poller's device.offline event.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { until } from '../../../test/support/until.js';

t.test('alarm API: login, roles, notes, shelving, history', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-alarms-api-'));
  const file = path.join(dir, 'site.yaml');
  writeFileSync(
    file,
    `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent, alarms: { deviceOffline: { delayMs: 0 } } }
users:
  - { name: op, role: operator, passwordEnv: OP_PW }
  - { name: tech, role: technician, passwordEnv: TECH_PW }
  - { name: watcher, role: viewer, passwordEnv: VIEW_PW }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 200, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: 1, timeoutMs: 200 } }
`,
  );
  const env = { OP_PW: 'op-pass', TECH_PW: 'tech-pass', VIEW_PW: 'view-pass' };
  const gw = await startGateway(loadSiteConfig(file, env), { httpPort: 0, log: createLogger({ level: 'silent' }), backoff: { initialMs: 60_000, maxMs: 60_000 } });
  t.teardown(() => gw.close());

  const call = async (method: string, p: string, body?: unknown, token?: string) => {
    const res = await fetch(`${gw.url}${p}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & Record<string, unknown>[] };
  };
  const login = async (name: string, password: string) => (await call('POST', '/api/v1/auth/login', { name, password })).body.token as string;
  const op = await login('op', 'op-pass');
  const tech = await login('tech', 'tech-pass');
  const viewer = await login('watcher', 'view-pass');

  // The poller's device.offline reaches the engine: pump-1's comm alarm is listed.
  const comm = await until('the comm alarm of pump-1', async () => {
    const list = (await call('GET', '/api/v1/alarms?device=pump-1')).body as unknown as { id: string }[];
    return list.find((a) => a.id === 'pump-1:comm');
  });
  t.match(comm, { state: 'unack_active', kind: 'comm', severity: 'major', priority: 'P2', annunciated: true });

  // External alarms (Node-RED): operator or above.
  const ext = { source: 'nodered', name: 'lighting.override', active: true, severity: 'minor', message: 'lights left in manual' };
  t.match(await call('POST', '/api/v1/alarms/external', ext), { status: 401, body: { code: 'GW_ERR_AUTH_REQUIRED' } });
  t.match(await call('POST', '/api/v1/alarms/external', ext, viewer), { status: 403, body: { code: 'GW_ERR_FORBIDDEN' } });
  t.match(await call('POST', '/api/v1/alarms/external', ext, op), { status: 200, body: { id: 'nodered:lighting.override', state: 'unack_active', priority: 'P3' } });
  t.match(await call('POST', '/api/v1/alarms/external', { ...ext, source: 'pump-1', name: 'comm' }, op), { status: 409, body: { code: 'GW_ERR_ALARM_EXTERNAL_CONFLICT' } });
  t.match(await call('POST', '/api/v1/alarms/external', { ...ext, name: 'Bad Name!' }, op), { status: 400 });

  // Acknowledge: login, role, note.
  const id = 'nodered:lighting.override';
  t.match(await call('POST', `/api/v1/alarms/${id}/ack`, { note: 'seen' }), { status: 401, body: { code: 'GW_ERR_AUTH_REQUIRED', message: /login/ } });
  t.match(await call('POST', `/api/v1/alarms/${id}/ack`, { note: 'seen' }, viewer), { status: 403, body: { code: 'GW_ERR_FORBIDDEN' } });
  t.match(await call('POST', `/api/v1/alarms/${id}/ack`, {}, op), { status: 400, body: { code: 'GW_ERR_ALARM_NOTE_REQUIRED', message: /needs a note/ } });
  t.match(await call('POST', `/api/v1/alarms/nodered:nope/ack`, { note: 'x' }, op), { status: 404, body: { code: 'GW_ERR_ALARM_NOT_FOUND' } });
  t.match(await call('POST', `/api/v1/alarms/not-an-id/ack`, { note: 'x' }, op), { status: 400, body: { message: /not an alarm id/ } });
  t.match(await call('POST', `/api/v1/alarms/${id}/ack`, { note: 'switching back to auto' }, op), { status: 200, body: { state: 'ack_active', ackedBy: 'op', ackNote: 'switching back to auto' } });
  t.match(await call('POST', `/api/v1/alarms/${id}/ack`, { note: 'again' }, op), { status: 409, body: { code: 'GW_ERR_ALARM_STATE', message: /already acknowledged by op/ } });

  // Shelve and unshelve.
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/shelve', { durationMs: 3600_000 }, op), { status: 400, body: { code: 'GW_ERR_ALARM_NOTE_REQUIRED' } });
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/shelve', { note: 'x' }, op), { status: 400, body: { code: 'GW_ERR_ALARM_SHELVE_DURATION' } });
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/shelve', { durationMs: 3600_000, note: 'pump room rewired today' }, op), { status: 200, body: { shelvedBy: 'op', annunciated: false } });
  t.same(((await call('GET', '/api/v1/alarms?shelved=true')).body as unknown as { id: string }[]).map((a) => a.id), ['pump-1:comm']);
  t.same(((await call('GET', '/api/v1/alarms?shelved=false')).body as unknown as { id: string }[]).map((a) => a.id), [id]);
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/unshelve', {}, op), { status: 200, body: { shelvedUntil: null } });

  // Out of service: technician.
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/out-of-service', { note: 'decommissioned' }, op), { status: 403 });
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/out-of-service', { note: 'decommissioned' }, tech), { status: 200, body: { outOfService: true, annunciated: false } });
  t.match(await call('POST', '/api/v1/alarms/pump-1:comm/return-to-service', {}, tech), { status: 200, body: { outOfService: false } });

  // Filters.
  t.same(((await call('GET', '/api/v1/alarms?severity=minor')).body as unknown as { id: string }[]).map((a) => a.id), [id]);
  t.same(((await call('GET', '/api/v1/alarms?system=water')).body as unknown as { id: string }[]).map((a) => a.id), ['pump-1:comm']);
  t.match(await call('GET', '/api/v1/alarms?state=bogus'), { status: 400 });
  t.match(await call('GET', `/api/v1/alarms/${id}`), { status: 200, body: { id, state: 'ack_active' } });

  // History, a page at a time.
  const page1 = (await call('GET', '/api/v1/alarms/history?limit=3')).body as unknown as { items: { type: string; seq: number }[]; nextCursor: number };
  t.equal(page1.items.length, 3);
  t.ok(page1.nextCursor > 0);
  const page2 = (await call('GET', `/api/v1/alarms/history?limit=100&cursor=${page1.nextCursor}`)).body as unknown as { items: { type: string; seq: number }[]; nextCursor: number | null };
  t.equal(page2.nextCursor, null);
  const all = [...page1.items, ...page2.items].map((h) => h.type).reverse();
  t.same(all, ['alarm.raised', 'alarm.raised', 'alarm.acked', 'alarm.shelved', 'alarm.unshelved', 'alarm.out_of_service', 'alarm.in_service']);
  const acks = (await call('GET', `/api/v1/alarms/history?alarm=${id}&type=alarm.acked`)).body as unknown as { items: { actor: string; note: string }[] };
  t.match(acks.items, [{ actor: 'op', note: 'switching back to auto' }]);

  // Metrics.
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  t.match(metrics, /^steward_alarms_active 2$/m);
  t.match(metrics, /^steward_alarm_transitions_total 7$/m);

  // Every transition went to lane 0 of the outbox.
  const lane0 = gw.store.peek(0, 1000).filter((i) => String((i.body as { type: string }).type).startsWith('alarm.'));
  t.equal(lane0.length, all.length);
});
