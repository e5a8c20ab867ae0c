/**
 * Bad input (issue 5 "Service quality"): a few thousand generated malformed or hostile
 * requests — wrong types, huge strings, deep JSON, bad UUIDs, SQL and HTML injection,
 * path traversal — against every route of the OpenAPI document, with an admin's token, a
 * gateway's, and none: every answer is a 4xx ErrorReply, never a 5xx, and nothing in the
 * database changes. Seeded, so a failure replays.
 */
import { createHash } from 'node:crypto';
import t from 'tap';
import { Value } from 'typebox/value';
import { ErrorReply } from '../../../protocol/v1.js';
import { buildCloud } from '../../src/index.js';
import { enrolledGateway, userWith } from '../fixtures/cloud.js';
import type { FastifyInstance } from 'fastify';

const REQUESTS = Number(process.env['STEWARD_FUZZ_REQUESTS'] ?? 3000);

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE work_orders; --",
  '" OR ""="',
  '1; SELECT pg_sleep(5)',
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '../../../../etc/passwd',
  '%2e%2e%2f%2e%2e%2f',
  '\u0000',
  '\ud800',
  '𝕊𝕥𝕖𝕨𝕒𝕣𝕕 🚒',
  '${jndi:ldap://x}',
  '{{7*7}}',
  'NaN',
  '-1',
  '1e309',
  '00000000-0000-0000-0000-00000000000g',
  '01900000-0000-7000-8000-0000000000011',
  'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ',
  'A'.repeat(70_000),
  ' ',
  '',
];

function hostileValue(r: () => number, depth = 0): unknown {
  const pick = Math.floor(r() * 14);
  switch (pick) {
    case 0:
      return HOSTILE_STRINGS[Math.floor(r() * HOSTILE_STRINGS.length)];
    case 1:
      return r() < 0.5 ? -1 : 1e308;
    case 2:
      return 2 ** 63;
    case 3:
      return null;
    case 4:
      return r() < 0.5;
    case 5:
      return depth > 3 ? [] : Array.from({ length: Math.floor(r() * 4) }, () => hostileValue(r, depth + 1));
    case 6:
      return depth > 3 ? {} : Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, (_, i) => [['__proto__', 'constructor', 'op', 'site', 'data', 'id', `k${i}`][Math.floor(r() * 7)]!, hostileValue(r, depth + 1)]));
    case 7:
      return 'x'.repeat(Math.floor(r() * 5000));
    case 8:
      return 3.5;
    default:
      return HOSTILE_STRINGS[Math.floor(r() * 19)];
  }
}

function hostileBody(r: () => number): { payload: string | Buffer; type: string } {
  const k = Math.floor(r() * 10);
  if (k === 0) return { payload: '['.repeat(20_000 + Math.floor(r() * 40_000)), type: 'application/json' };
  if (k === 1) return { payload: '{"a":'.repeat(5000) + '1' + '}'.repeat(5000), type: 'application/json' };
  if (k === 2) return { payload: Buffer.from(Array.from({ length: 300 }, () => Math.floor(r() * 256))), type: 'application/json' };
  if (k === 3) return { payload: '{"site":"s1"', type: 'application/json' };
  if (k === 4) return { payload: JSON.stringify(hostileValue(r)), type: r() < 0.5 ? 'text/plain' : 'application/x-www-form-urlencoded' };
  if (k === 5) return { payload: JSON.stringify({ op: 'assign', data: { assignee: hostileValue(r) }, id: hostileValue(r) }), type: 'application/json' };
  if (k === 6) return { payload: JSON.stringify({ site: hostileValue(r), title: hostileValue(r), category: 'elevator', priority: hostileValue(r) }), type: 'application/json' };
  return { payload: JSON.stringify(hostileValue(r)), type: 'application/json' };
}

/** encodeURIComponent, except that a lone surrogate becomes the invalid UTF-8 it would be on the wire. */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return '%ED%A0%80';
  }
}

async function snapshot(app: FastifyInstance): Promise<string> {
  const db = app.stewardDb.db;
  const tables = ['sites', 'gateways', 'lane_marks', 'items', 'events', 'latest_readings', 'users', 'user_scopes', 'regions', 'downlink', 'changes', 'work_orders', 'work_order_ops', 'alarms', 'wo_rules', 'sla_policies', 'escalations', 'technicians', 'shifts', 'assignments', 'attachments', 'webhooks', 'webhook_deliveries', 'rollups', 'config_releases', 'gateway_config'] as const;
  const h = createHash('sha256');
  for (const table of tables) {
    const rows = await db.selectFrom(table).selectAll().execute();
    // A gateway's last contact and a feed's polling time move on harmless reads.
    h.update(JSON.stringify(rows.map((r) => ({ ...r, last_seen_at: undefined, polled_at: undefined, cursor: undefined }))));
  }
  return h.digest('hex');
}

t.test(`${REQUESTS} hostile requests: 4xx, never 5xx, nothing changed`, async (t) => {
  const app = await buildCloud({ database: ':memory:', background: false, rateLimitPerMinute: false });
  t.teardown(() => app.close());
  const gw = await enrolledGateway(app, 's1', 'gw-1');
  const admin = await userWith(app, 'root', 'admin');
  const wo = await app.inject({ method: 'POST', url: '/v1/work-orders', headers: admin, payload: { site: 's1', title: 'seed', category: 'general', priority: 'P4' } });
  const woId = wo.json().workOrder.id as string;
  const before = await snapshot(app);

  const doc = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), path })));
  const r = rng(20261127);
  const statuses = new Map<number, number>();
  for (let i = 0; i < REQUESTS; i++) {
    const route = routes[Math.floor(r() * routes.length)]!;
    const url =
      route.path.replace(/\{(\w+)\}/g, () => enc(String(r() < 0.1 ? woId.toUpperCase() : HOSTILE_STRINGS[Math.floor(r() * (HOSTILE_STRINGS.length - 3))]))) +
      (r() < 0.6 ? `?${['site', 'after', 'limit', 'since', 'waitMs', 'type', 'status', 'from', 'to', 'bucket', 'text'][Math.floor(r() * 11)]}=${enc(String(hostileValue(r)).slice(0, 3000))}` : '');
    const who = r();
    const headers: Record<string, string> = who < 0.6 ? { ...admin } : who < 0.85 ? { ...gw.auth } : who < 0.95 ? {} : { authorization: `Bearer ${String(hostileValue(r)).slice(0, 600)}` };
    const body = route.method === 'GET' || route.method === 'DELETE' ? undefined : hostileBody(r);
    let res;
    try {
      res = await app.inject({ method: route.method as 'POST', url, headers: { ...headers, ...(body === undefined ? {} : { 'content-type': body.type }) }, ...(body === undefined ? {} : { payload: body.payload }) });
    } catch (err) {
      t.fail(`request ${i} ${route.method} ${url.slice(0, 120)} threw: ${String(err)}`);
      continue;
    }
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode >= 500 || res.statusCode < 400) {
      if (res.statusCode < 300 && route.method === 'GET') continue; // a read that happened to be valid (e.g. a list with a harmless filter)
      t.fail(`request ${i}: ${route.method} ${route.path} → ${res.statusCode} ${res.body.slice(0, 300)} (url ${url.slice(0, 200)})`);
    } else if (!Value.Check(ErrorReply, res.json())) {
      t.fail(`request ${i}: ${route.method} ${route.path} → ${res.statusCode} without an ErrorReply: ${res.body.slice(0, 200)}`);
    }
  }
  t.comment(`statuses: ${JSON.stringify(Object.fromEntries([...statuses.entries()].sort()))}`);
  t.equal(await snapshot(app), before, 'the database is unchanged');
  t.ok([...statuses.keys()].every((s) => s < 500), 'no 5xx');
});

t.test('logins are rate limited per address and name: the 11th attempt in a minute is 429', async (t) => {
  const app = await buildCloud({ database: ':memory:', background: false });
  t.teardown(() => app.close());
  const codes: number[] = [];
  for (let i = 0; i < 11; i++) codes.push((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'victim', password: `guess-${i}-xxxxx` } })).statusCode);
  t.same(codes.slice(0, 10), Array(10).fill(401));
  t.equal(codes[10], 429);
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'victim', password: 'another guess' } });
  t.equal(res.json().code, 'CS_ERR_RATE_LIMITED');
  t.ok(res.headers['retry-after'] !== undefined, 'retry-after');
  t.equal((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name: 'someone-else', password: 'a guess here' } })).statusCode, 401, 'another name is not locked out');
});
