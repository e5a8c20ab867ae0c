/**
 * Gateway credentials (DESIGN.md "Sync" → Auth): an admin registers a gateway and gets a
 * one-time enrolment token; the gateway trades it for its own secret. Both are 256-bit
 * random tokens stored as SHA-256 hashes. A memory-hard hash (scrypt, argon2) is for
 * low-entropy secrets people choose; against a 256-bit random secret a brute-force search
 * is hopeless whatever the hash, and a fast hash keeps every authenticated request cheap.
 */
import { ID_PATTERN, type EnrolReply } from '../../../protocol/v1.js';
import { hashToken, newToken, tokenMatches } from '../crypto/tokens.js';
import { lockGateway } from '../db/lock.js';
import type { CloudDatabase } from '../db/open.js';
import { CloudError } from '../plugins/errors.js';
import { initialLaneMarks, laneMarks } from './lane-marks.js';
import { Effects } from '../downlink/effects.js';
import { appendChange } from '../downlink/feed.js';

/** An enrolment token is valid for 7 days, then a new one must be issued. */
export const ENROLMENT_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Longest site or gateway id (they appear in MQTT topics and URLs). */
export const MAX_ID_LENGTH = 64;
const ID = new RegExp(ID_PATTERN);

export interface NewGateway {
  /** Site (community) id; the site is created if it does not exist. */
  site: string;
  /** Gateway id, unique across the cloud. */
  gateway: string;
  /** Display name of the site; sets the name of an existing site too. Defaults to the id for a new site. */
  siteName?: string;
}

function checkId(what: string, id: string): void {
  if (!ID.test(id) || id.length > MAX_ID_LENGTH) {
    throw new CloudError('CS_ERR_CONFIG_INVALID', `${what} id "${id}" must match ${ID_PATTERN} and have at most ${MAX_ID_LENGTH} characters`);
  }
}

/**
 * Registers a gateway (or re-issues the token of an existing one, e.g. a replaced
 * gateway box) and returns its one-time enrolment token. The gateway's current secret
 * keeps working until the new token is used. Throws CS_ERR_GATEWAY_EXISTS if the
 * gateway belongs to another site.
 */
export async function createGateway(cdb: CloudDatabase, input: NewGateway, now = Date.now()): Promise<string> {
  checkId('site', input.site);
  checkId('gateway', input.gateway);
  const token = newToken('enrolment');
  await cdb.db.transaction().execute(async (trx) => {
    const site = await trx.selectFrom('sites').select('id').where('id', '=', input.site).executeTakeFirst();
    if (site === undefined) {
      await trx.insertInto('sites').values({ id: input.site, name: input.siteName ?? input.site, created_at: now }).execute();
    } else if (input.siteName !== undefined) {
      await trx.updateTable('sites').set({ name: input.siteName }).where('id', '=', input.site).execute();
    }
    const existing = await lockGateway(trx, cdb.dialect, input.gateway);
    if (existing !== undefined && existing.site_id !== input.site) {
      throw new CloudError('CS_ERR_GATEWAY_EXISTS', `gateway "${input.gateway}" is registered under site "${existing.site_id}", not "${input.site}"`);
    }
    const pending = { enrol_token_hash: hashToken(token), enrol_expires_at: now + ENROLMENT_TTL_MS };
    if (existing !== undefined) {
      await trx.updateTable('gateways').set(pending).where('id', '=', input.gateway).execute();
      return;
    }
    await trx
      .insertInto('gateways')
      .values({
        id: input.gateway,
        site_id: input.site,
        secret_hash: null,
        ...pending,
        enrolled_at: null,
        last_seen_at: null,
        clock_offset_ms: null,
        created_at: now,
      })
      .execute();
    await trx.insertInto('lane_marks').values(initialLaneMarks(input.gateway)).execute();
    // A new gateway of a site that already has work in progress (a second gateway, a replaced
    // box under a new id) starts its downlink with the accepted operations of the site's open
    // work orders, in order, so it knows them without waiting for their next change.
    const open = await trx.selectFrom('work_orders').select('id').where('site_id', '=', input.site).where('status', 'not in', ['closed', 'cancelled']).orderBy('created_at').execute();
    for (const wo of open) {
      const ops = await trx.selectFrom('work_order_ops').select(['id', 'work_order_id', 'op', 'actor', 'ts', 'data_json']).where('work_order_id', '=', wo.id).where('outcome', '=', 'accepted').orderBy('version').execute();
      for (const o of ops) {
        const body = { id: o.id, workOrder: o.work_order_id, op: o.op, actor: o.actor, ts: o.ts, data: JSON.parse(o.data_json) as Record<string, unknown> };
        await appendChange(trx, cdb.dialect, [input.gateway], { kind: 'workorder.op', ts: now, body }, new Effects());
      }
    }
  });
  return token;
}

/**
 * Trades a one-time enrolment token for the gateway's secret. The token is spent in the
 * same transaction, so it works once even when two requests race. The answer carries the
 * lane marks: a gateway enrolling with a fresh outbox continues each lane from there.
 */
export async function enrolGateway(cdb: CloudDatabase, gatewayId: string, token: string, now = Date.now(), chosenSecret?: string): Promise<EnrolReply> {
  // A secret the gateway made and stored before asking (protocol v1 EnrolRequest.secret) keeps enrolment crash-safe.
  const secret = chosenSecret ?? newToken('gateway');
  return cdb.db.transaction().execute(async (trx) => {
    const row = await lockGateway(trx, cdb.dialect, gatewayId);
    // One message for unknown gateway, wrong token and spent token: the caller has not
    // proved it holds a token, so it learns nothing about which gateways exist.
    if (row === undefined || !tokenMatches(token, row.enrol_token_hash)) {
      throw new CloudError('CS_ERR_ENROL_TOKEN', `the enrolment token for gateway "${gatewayId}" is wrong or already used; issue a new one with \`steward cloud gateway add\``);
    }
    if (row.enrol_expires_at === null || row.enrol_expires_at <= now) {
      throw new CloudError('CS_ERR_ENROL_TOKEN', `the enrolment token for gateway "${gatewayId}" has expired; issue a new one with \`steward cloud gateway add\``);
    }
    await trx
      .updateTable('gateways')
      .set({ secret_hash: hashToken(secret), enrol_token_hash: null, enrol_expires_at: null, enrolled_at: now, last_seen_at: now })
      .where('id', '=', gatewayId)
      .execute();
    return { gateway: row.id, site: row.site_id, secret, acked: await laneMarks(trx, gatewayId), serverTime: now };
  });
}

/** A gateway identified by its secret. */
export interface GatewayIdentity {
  id: string;
  site: string;
}

/**
 * The gateway a secret belongs to, or null. With `gatewayId` (the `:id` of the URL) the
 * secret is compared in constant time with that gateway's stored hash; otherwise (or if
 * it does not match) it is looked up by its hash, which is timing-safe because an
 * attacker cannot steer a SHA-256 — the second lookup tells a wrong secret (401) from
 * another gateway's secret (403).
 */
export async function gatewayOfSecret(cdb: CloudDatabase, secret: string, gatewayId?: string): Promise<GatewayIdentity | null> {
  if (gatewayId !== undefined) {
    const row = await cdb.db.selectFrom('gateways').select(['id', 'site_id', 'secret_hash']).where('id', '=', gatewayId).executeTakeFirst();
    if (row !== undefined && tokenMatches(secret, row.secret_hash)) return { id: row.id, site: row.site_id };
  }
  const other = await cdb.db.selectFrom('gateways').select(['id', 'site_id']).where('secret_hash', '=', hashToken(secret)).executeTakeFirst();
  return other === undefined ? null : { id: other.id, site: other.site_id };
}
