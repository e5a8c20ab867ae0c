/**
 * Writes through the gateway's API reach the device only past the guards — a login
 * whose role allows it, a writable point, a value of its type inside its range — and
 * every attempt lands in the audit log with who, what, old → new and the result.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startSimulator } from '../../../scripts/sim/sim.js';
import { hashPassword } from '../../src/api/auth.js';
import { loadSiteConfig } from '../../src/config.js';
import { createLogger } from '../../src/core/logger.js';
import { startGateway } from '../../src/main.js';
import { until } from '../../../test/support/until.js';


t.test('login, guarded write, audit', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'steward-write-'));
  const file = path.join(dir, 'site.yaml');
  const hash = await hashPassword('operator-pass');
  const yaml = (port: number) => `site: { id: s1, name: S }
gateway: { dataDir: ./data, logLevel: silent }
users:
  - { name: op, role: operator, passwordHash: "${hash}" }
  - { name: watcher, role: viewer, passwordEnv: WATCHER_PASSWORD }
devices:
  - { id: pump-1, profile: water/vfd-pump, system: water, pollIntervalMs: 200, connection: { protocol: modbus-tcp, host: 127.0.0.1, port: ${port} } }
`;
  writeFileSync(file, yaml(1));
  const env = { WATCHER_PASSWORD: 'watcher-pass' };
  const sim = await startSimulator(loadSiteConfig(file, env), { ports: { 'pump-1': 0 } });
  t.teardown(() => sim.close());
  writeFileSync(file, yaml(sim.devices[0]!.port));
  const gw = await startGateway(loadSiteConfig(file, env), { httpPort: 0, log: createLogger({ level: 'silent' }) });
  t.teardown(() => gw.close());

  const post = async (p: string, body: unknown, token?: string) => {
    const res = await fetch(`${gw.url}${p}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const login = async (name: string, password: string) => (await post('/api/v1/auth/login', { name, password })).body.token as string;

  await until('pump-1 online', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/devices`)).json()) as { state: string }[];
    return list[0]?.state === 'online' ? true : undefined;
  });

  // Logins.
  t.match(await post('/api/v1/auth/login', { name: 'op', password: 'wrong' }), { status: 401, body: { code: 'GW_ERR_AUTH_INVALID' } });
  t.match(await post('/api/v1/auth/login', { name: 'nobody', password: 'x' }), { status: 401, body: { code: 'GW_ERR_AUTH_INVALID' } });
  const op = await login('op', 'operator-pass');
  const viewer = await login('watcher', 'watcher-pass');
  t.match(op, /^sgw_/);

  // The guards.
  const write = (id: string, value: unknown, token?: string) => post(`/api/v1/points/${id}/write`, { value }, token);
  t.match(await write('pump-1.pressure_setpoint', 5), { status: 401, body: { code: 'GW_ERR_AUTH_REQUIRED' } });
  t.match(await write('pump-1.pressure_setpoint', 5, `${op}x`), { status: 401, body: { code: 'GW_ERR_AUTH_INVALID' } });
  t.match(await write('pump-1.pressure_setpoint', 5, viewer), { status: 403, body: { code: 'GW_ERR_FORBIDDEN', message: /watcher is viewer; this needs operator/ } });
  t.match(await write('pump-1.outlet_pressure', 5, op), { status: 422, body: { code: 'GW_ERR_WRITE_REFUSED', message: /read-only/ } });
  t.match(await write('pump-1.pressure_setpoint', 50, op), { status: 422, body: { code: 'GW_ERR_WRITE_REFUSED', message: /50 is outside the point's range \[0, 10\] bar/ } });
  t.match(await write('pump-1.pressure_setpoint', 'high', op), { status: 422, body: { message: /expected a number/ } });
  t.match(await write('pump-1.start_stop', 1, op), { status: 422, body: { message: /expected true or false/ } });
  t.match(await write('pump-1.nope', 1, op), { status: 404, body: { code: 'GW_ERR_DEVICE_NOT_FOUND' } });

  // A write that passes reaches the device, and the gateway reads the new value back.
  const ok = await write('pump-1.pressure_setpoint', 5.5, op);
  t.match(ok, { status: 200, body: { ok: true, point: 'pump-1.pressure_setpoint', value: 5.5, previous: 4.5 } });
  await until('the setpoint read back', async () => {
    const list = (await (await fetch(`${gw.url}/api/v1/points?device=pump-1`)).json()) as { point: string; value: unknown }[];
    return list.find((p) => p.point === 'pressure_setpoint')?.value === 5.5 ? true : undefined;
  });

  // The audit log, for a technician or above only.
  const auditRes = await fetch(`${gw.url}/api/v1/audit`, { headers: { authorization: `Bearer ${op}` } });
  t.equal(auditRes.status, 403, 'an operator may not read the audit log');
  const audit = gw.store.auditLog();
  t.match(audit[0], { actor: 'op', action: 'point.write', target: 'pump-1.pressure_setpoint', detail: { old: 4.5, new: 5.5 }, result: 'ok' });
  t.ok(
    audit.some((a) => a.target === 'pump-1.outlet_pressure' && a.result === 'refused'),
    'refused writes are audited too',
  );
});
