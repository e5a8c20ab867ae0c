/**
 * Test helpers: a cloud on an in-memory (or given) database, an enrolled gateway, and
 * builders for outbox items and batches as a gateway would send them.
 */
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { uuidv7 } from '../../../protocol/uuid.js';
import type { Batch, EventBody, Lane, OutboxItem, WireReading } from '../../../protocol/v1.js';
import { addGateway, addUser, buildCloud } from '../../src/index.js';

/** The part of tap's Test the helpers use. */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A ready cloud whose database is closed when the test ends. */
export async function testCloud(t: Teardown, database = ':memory:'): Promise<FastifyInstance> {
  const app = await buildCloud({ database });
  t.teardown(() => app.close());
  return app;
}

export interface TestGateway {
  id: string;
  site: string;
  secret: string;
  auth: { authorization: string };
}

/** Registers and enrols a gateway; returns its secret. */
export async function enrolledGateway(app: FastifyInstance, site: string, id: string): Promise<TestGateway> {
  const token = await addGateway(app, { site, gateway: id });
  const res = await app.inject({ method: 'POST', url: `/v1/gateways/${id}/enrol`, payload: { token } });
  if (res.statusCode !== 200) throw new Error(`enrolment failed: ${res.statusCode} ${res.body}`);
  const secret = (res.json() as { secret: string }).secret;
  return { id, site, secret, auth: { authorization: `Bearer ${secret}` } };
}

/** Creates a user and logs in; returns the Authorization header. */
export async function loggedInUser(app: FastifyInstance, name = 'ops', password = 'correct horse battery'): Promise<{ authorization: string }> {
  await addUser(app, { name, password, role: 'admin' });
  const res = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { name, password } });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  return { authorization: `Bearer ${(res.json() as { token: string }).token}` };
}

/** A telemetry.latest item (lane 2). */
export function telemetryItem(seq: number, readings: WireReading[], id = uuidv7()): OutboxItem {
  return { lane: 2, seq, id, kind: 'telemetry.latest', ts: readings[0]?.ts ?? Date.now(), body: { readings } };
}

/** An event item: lane 0 for alarm.*, else lane 1 (protocol laneOf). */
export function eventItem(seq: number, site: string, event: Partial<EventBody> = {}, id = uuidv7()): OutboxItem {
  const body: EventBody = { id: uuidv7(), ts: 1_700_000_000_000, site, type: 'device.online', severity: 'info', body: {}, ...event };
  const lane: Lane = body.type.startsWith('alarm.') ? 0 : 1;
  return { lane, seq, id, kind: 'event', ts: body.ts, body };
}

/** `n` telemetry items with seqs from..from+n-1, one reading each. */
export function telemetryRun(from: number, n: number, device = 'pump-1'): OutboxItem[] {
  return Array.from({ length: n }, (_, k) => telemetryItem(from + k, [{ id: `${device}.outlet_pressure`, v: 3 + k / 10, ts: 1_700_000_000_000 + from + k, q: 'good' }]));
}

export function batchOf(gw: { id: string; site: string }, items: OutboxItem[]): Batch {
  return { v: 1, gateway: gw.id, site: gw.site, sentAt: Date.now(), items };
}

/** POSTs a batch as JSON (or gzip) with the gateway's secret. */
export function postBatch(app: FastifyInstance, gw: TestGateway, batch: unknown, opts: { gzip?: boolean } = {}): Promise<LightMyRequestResponse> {
  const json = JSON.stringify(batch);
  return app.inject({
    method: 'POST',
    url: `/v1/gateways/${gw.id}/batches`,
    headers: { ...gw.auth, 'content-type': 'application/json', ...(opts.gzip === true ? { 'content-encoding': 'gzip' } : {}) },
    payload: opts.gzip === true ? gzipSync(json) : json,
  });
}

/** Row counts of the tables an uplink writes. */
export async function rowCounts(app: FastifyInstance): Promise<Record<string, number>> {
  const db = app.stewardDb.db;
  const count = async (table: 'items' | 'events' | 'latest_readings'): Promise<number> =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { items: await count('items'), events: await count('events'), latest_readings: await count('latest_readings') };
}
