/**
 * The uplink: sends the outbox to the cloud (`protocol/` v1) and marks items sent only
 * when the cloud has acknowledged them. Lane 0 (alarms, work-order operations) goes
 * first in every batch, then lane 1, then lane 2, so a telemetry backlog never delays an
 * alarm. Network failures back off exponentially with jitter; 429/503 are honoured with
 * their Retry-After; a refused credential is a lasting error, not a retry storm.
 * Reads only the store (DESIGN.md "Layout").
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { LANES, LIMITS, PROTOCOL_VERSION, type BatchAck, type EnrolReply, type Lane, type LaneMarks } from '../../../protocol/v1.js';
import type { SiteConfig } from '../core/config/load.js';
import { GatewayError, type GatewayErrorCode } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GatewayStore, LaneStatus } from '../store/store.js';
import type { DownlinkStatus } from './downlink.js';

const gzip = promisify(gzipCb);

export interface UplinkOptions {
  readonly store: GatewayStore;
  readonly cloud: NonNullable<SiteConfig['cloud']>;
  readonly site: string;
  /** Where the gateway's credential is kept (`cloud-credential.json`, mode 0600). */
  readonly dataDir: string;
  readonly log: Logger;
  /** How long to wait before looking at the outbox again when it was empty, ms. */
  readonly idleMs?: number;
  /** Longest backoff after failures, ms. */
  readonly maxBackoffMs?: number;
  /** How long to wait after the cloud refused the credential, ms. */
  readonly authRetryMs?: number;
  /** With nothing to send, check in with the cloud this often, ms. */
  readonly pingIntervalMs?: number;
}

export interface SyncStatus {
  readonly enabled: boolean;
  /** True while the last exchange with the cloud succeeded. */
  readonly online: boolean;
  readonly lanes: Readonly<Record<`${Lane}`, LaneStatus>>;
  readonly lastSuccessAt: number | null;
  readonly lastAttemptAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
  /** Cloud clock minus gateway clock, ms (from the last answer). */
  readonly clockOffsetMs: number | null;
  /** True while |clockOffsetMs| exceeds cloud.maxClockSkewMs: event timestamps of this gateway are off. */
  readonly clockSkewed: boolean;
  readonly enrolled: boolean;
  readonly counters: Readonly<{ batches: number; itemsSent: number; failures: number }>;
  /** The downlink's state (work orders and desired config from the cloud), when it runs. */
  readonly downlink?: DownlinkStatus;
}

interface Credential {
  readonly gateway: string;
  readonly site: string;
  readonly url: string;
  readonly secret: string;
  /** Written before the enrolment request: the cloud may or may not know this secret yet. */
  readonly pending?: boolean;
}

/** A batch ready to send: its gzipped body and where it starts and ends in each lane. */
interface PreparedBatch {
  readonly body: Buffer;
  readonly count: number;
  readonly from: Record<Lane, number>;
  readonly to: Record<Lane, number>;
  /** True when the outbox holds more after it. */
  readonly more: boolean;
  readonly first: { lane: Lane; seq: number; kind: string } | undefined;
  /** Lane 0's last sequence when it was built: a newer alarm means building again. */
  readonly lane0Last: number;
}

/** Items in one batch stay under this many bytes of JSON (half the cloud's limit). */
const BATCH_BYTES = LIMITS.maxBatchBytes / 2;

export class Uplink {
  private timer: NodeJS.Timeout | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;
  private maxItems: number;
  private credential: Credential | undefined;
  private online = false;
  private lastSuccessAt: number | null = null;
  private lastAttemptAt: number | null = null;
  private lastError: SyncStatus['lastError'] = null;
  private clockOffsetMs: number | null = null;
  private clockSkewed = false;
  /** The item sent alone in the last batch, to recognise one the cloud refuses for itself. */
  private lastBatch: { lane: Lane; seq: number; kind: string } | undefined;
  /** The next batch, built while the last one was in flight. */
  private prepared: Promise<PreparedBatch> | undefined;
  private readonly counters = { batches: 0, itemsSent: 0, failures: 0 };
  private readonly credentialFile: string;
  private readonly base: string;

  constructor(private readonly options: UplinkOptions) {
    this.maxItems = Math.min(options.cloud.batchMaxItems, LIMITS.maxItems);
    this.credentialFile = path.join(options.dataDir, 'cloud-credential.json');
    this.base = options.cloud.url.replace(/\/+$/, '');
    this.credential = this.readCredential();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
    const every = this.options.cloud.snapshotIntervalMs;
    this.snapshotTimer = setInterval(() => this.snapshot(), every);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.snapshotTimer);
    await this.running;
  }

  /** The `Authorization` value for other calls to the cloud (the downlink), once enrolled. */
  bearer(): string | undefined {
    return this.credential === undefined || this.credential.pending === true ? undefined : `Bearer ${this.credential.secret}`;
  }

  /** Queues the latest values changed since the last snapshot (lane 2). */
  snapshot(): number {
    try {
      return this.options.store.queueTelemetrySnapshot();
    } catch (err) {
      this.options.log.error({ err }, 'telemetry snapshot failed');
      return 0;
    }
  }

  status(now: number = Date.now()): SyncStatus {
    const lanes = Object.fromEntries(LANES.map((l) => [String(l), this.options.store.laneStatus(l, now)])) as Record<`${Lane}`, LaneStatus>;
    return {
      enabled: true,
      online: this.online,
      lanes,
      lastSuccessAt: this.lastSuccessAt,
      lastAttemptAt: this.lastAttemptAt,
      lastError: this.lastError,
      clockOffsetMs: this.clockOffsetMs,
      clockSkewed: this.clockSkewed,
      enrolled: this.credential !== undefined && this.credential.pending !== true,
      counters: { ...this.counters },
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
      });
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let delay: number;
    try {
      const sent = await this.syncOnce();
      this.failures = 0;
      delay = sent > 0 ? 0 : (this.options.idleMs ?? 1000);
    } catch (err) {
      delay = this.onFailure(err);
    }
    this.schedule(delay);
  }

  /** Enrols if needed, then sends one batch. Returns how many items were acknowledged. */
  async syncOnce(): Promise<number> {
    if (this.credential === undefined || this.credential.pending === true) this.credential = await this.enrol(this.credential);
    const acked = this.acked();
    // The batch built while the last one was in flight, if it still starts where the cloud's
    // marks are and no alarm came in since (lane 0 always goes first).
    const ready = this.prepared !== undefined ? await this.prepared.catch(() => undefined) : undefined;
    this.prepared = undefined;
    const batch = ready !== undefined && LANES.every((l) => ready.from[l] === acked[l]) && ready.lane0Last === this.options.store.lane(0).lastSeq ? ready : await this.build(acked);
    this.lastBatch = batch.count === 1 ? batch.first : undefined;
    if (batch.count === 0) {
      const pingEvery = this.options.pingIntervalMs ?? 30_000;
      if (!this.online || this.lastSuccessAt === null || Date.now() - this.lastSuccessAt >= pingEvery) await this.ping();
      return 0;
    }
    const sentAt = Date.now();
    const answer = this.request(`/v1/gateways/${encodeURIComponent(this.options.cloud.gatewayId)}/batches`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip', authorization: `Bearer ${this.credential.secret}` },
      body: batch.body,
    });
    // While the cloud works on this batch, build the next one from where this one ends:
    // the gateway's CPU (reading, compressing) and the cloud's (validating, storing) overlap.
    if (batch.more) {
      this.prepared = this.build(batch.to);
      this.prepared.catch(() => undefined); // a failed build is simply built again
    }
    const res = await answer;
    if (res.status === 409) {
      const reply = (await res.json()) as { code?: string; acked?: LaneMarks; lane?: Lane; expected?: number; seq?: number };
      if ((reply.code === 'CS_ERR_BATCH_SEQ_GAP' || reply.code === 'CS_ERR_BATCH_SEQ_REUSED') && reply.acked !== undefined && reply.lane !== undefined) {
        // The cloud and the gateway disagree on a lane's numbering: the cloud's mark wins.
        // SEQ_REUSED: our database is newer than the cloud's history of us (replaced,
        // restored); SEQ_GAP: the cloud lost items it had acknowledged. Either way the
        // pending items are re-numbered to follow the cloud's mark — none is dropped.
        this.prepared = undefined;
        const shift = this.options.store.renumberLane(reply.lane, reply.acked[`${reply.lane}`]);
        this.options.log.error({ code: reply.code, lane: reply.lane, cloudAcked: reply.acked, shift }, 'cloud and gateway disagree on the outbox sequence: pending items re-numbered to follow the cloud');
        this.markSuccess(sentAt, Date.now(), undefined);
        return 0;
      }
    }
    try {
      await this.expectOk(res, 'sending a batch');
    } catch (err) {
      this.prepared = undefined;
      throw err;
    }
    const ack = (await res.json()) as BatchAck;
    const before = this.acked();
    this.applyMarks(ack.acked);
    this.markSuccess(sentAt, Date.now(), ack.serverTime);
    const advanced = LANES.reduce((n: number, l) => n + (this.options.store.lane(l).ackedSeq - before[l]), 0);
    this.counters.batches++;
    this.counters.itemsSent += advanced;
    // The batch went through: let it grow back towards the configured size.
    this.maxItems = Math.min(this.options.cloud.batchMaxItems, LIMITS.maxItems, this.maxItems * 2);
    return advanced;
  }

  /**
   * Builds and compresses the batch that follows `from` (per lane): lane 0 first, then 1,
   * then 2, within the item and byte budgets. Bodies go in as the JSON text the outbox
   * holds — the same bytes `JSON.stringify(batch)` would make, without parsing them first.
   */
  private async build(from: Record<Lane, number>): Promise<PreparedBatch> {
    const parts: string[] = [];
    const to = { ...from };
    let bytes = 0;
    let count = 0;
    let more = false;
    let first: PreparedBatch['first'];
    const lane0Last = this.options.store.lane(0).lastSeq;
    for (const lane of LANES) {
      if (count >= this.maxItems) {
        more = true;
        break;
      }
      // Sized in SQL and read only when taken: a backlog of big roll-up items is not all read for one batch.
      const part = this.options.store.peekRaw(lane, from[lane], this.maxItems - count, BATCH_BYTES - bytes, count === 0);
      for (const i of part.items) {
        parts.push(`{"lane":${i.lane},"seq":${i.seq},"id":${JSON.stringify(i.id)},"kind":${JSON.stringify(i.kind)},"ts":${i.ts},"body":${i.body}}`);
        first ??= { lane: i.lane, seq: i.seq, kind: i.kind };
        to[lane] = i.seq;
      }
      count += part.items.length;
      bytes += part.bytes;
      if (part.full) {
        more = true;
        break;
      }
    }
    if (count >= this.maxItems) more = true;
    if (count === 0) return { body: Buffer.alloc(0), count, from, to, more: false, first, lane0Last };
    const head = `{"v":${PROTOCOL_VERSION},"gateway":${JSON.stringify(this.options.cloud.gatewayId)},"site":${JSON.stringify(this.options.site)},"sentAt":${Date.now()},"items":[`;
    const body = await gzip(Buffer.from(`${head}${parts.join(',')}]}`), { level: this.options.cloud.gzipLevel ?? 1 });
    return { body, count, from, to, more, first, lane0Last };
  }

  private acked(): Record<Lane, number> {
    return { 0: this.options.store.lane(0).ackedSeq, 1: this.options.store.lane(1).ackedSeq, 2: this.options.store.lane(2).ackedSeq };
  }

  private applyMarks(marks: LaneMarks): void {
    for (const lane of LANES) this.options.store.ack(lane, marks[`${lane}`]);
  }

  /** With nothing to send, a cheap authenticated call keeps `online` and the clock offset true. */
  private async ping(): Promise<void> {
    const sentAt = Date.now();
    const res = await this.request(`/v1/gateways/${encodeURIComponent(this.options.cloud.gatewayId)}`, {
      method: 'GET',
      headers: { authorization: `Bearer ${this.credential?.secret ?? ''}` },
    });
    await this.expectOk(res, 'checking in');
    const reply = (await res.json()) as { serverTime?: number };
    this.markSuccess(sentAt, Date.now(), reply.serverTime);
  }

  private markSuccess(sentAt: number, receivedAt: number, serverTime: number | undefined): void {
    this.online = true;
    this.lastSuccessAt = receivedAt;
    this.lastAttemptAt = receivedAt;
    if (serverTime === undefined) return;
    this.clockOffsetMs = Math.round(serverTime - (sentAt + receivedAt) / 2);
    // Flag a wrong clock once per change (not on every answer), as an event the cloud and the panel see.
    const limit = this.options.cloud.maxClockSkewMs ?? 10_000;
    const skewed = Math.abs(this.clockOffsetMs) > limit + (receivedAt - sentAt) / 2;
    if (skewed !== this.clockSkewed) {
      this.clockSkewed = skewed;
      const body = { offsetMs: this.clockOffsetMs, limitMs: limit, skewed };
      try {
        this.options.store.recordEvent({ ts: receivedAt, type: skewed ? 'gateway.clock_skew' : 'gateway.clock_ok', severity: skewed ? 'warning' : 'info', body });
      } catch (err) {
        this.options.log.error({ err }, 'could not record the clock event');
      }
      this.options.log[skewed ? 'warn' : 'info'](body, skewed ? 'gateway clock is off: event timestamps are suspect; check NTP' : 'gateway clock agrees with the cloud again');
    }
  }

  private writeCredential(credential: Credential): void {
    mkdirSync(this.options.dataDir, { recursive: true });
    const tmp = `${this.credentialFile}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(credential, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.credentialFile); // atomic: never a half-written credential
  }

  /**
   * Trades the one-time enrolment token for the gateway's standing credential. The secret
   * is made here and stored (as pending) *before* the request, and sent with it: if the
   * process dies after the cloud spent the token but before it heard the answer, the next
   * attempt finds the token spent, checks in with the pending secret, and carries on.
   */
  private async enrol(pending?: Credential): Promise<Credential> {
    const id = this.options.cloud.gatewayId;
    const secret = pending?.secret ?? `stg_${randomBytes(32).toString('base64url')}`;
    const token = this.options.cloud.enrolmentTokenValue;
    if (token === undefined && pending === undefined) {
      throw new GatewayError('GW_ERR_SYNC_AUTH', `no credential in ${this.credentialFile} and no cloud.enrolmentToken in site.yaml: run \`steward cloud gateway add\` and put the token in site.yaml`);
    }
    this.writeCredential({ gateway: id, site: pending?.site ?? '', url: this.base, secret, pending: true });
    if (token !== undefined) {
      const res = await this.request(`/v1/gateways/${encodeURIComponent(id)}/enrol`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, secret }),
      });
      if (res.ok) {
        const reply = (await res.json()) as EnrolReply;
        return this.enrolled({ gateway: reply.gateway, site: reply.site, url: this.base, secret: reply.secret }, reply.acked);
      }
      if (pending === undefined) await this.expectOk(res, 'enrolling');
    }
    // The token is spent (or gone): did an earlier attempt get through with this secret?
    const check = await this.request(`/v1/gateways/${encodeURIComponent(id)}`, { method: 'GET', headers: { authorization: `Bearer ${secret}` } });
    await this.expectOk(check, 'enrolling (the token is spent and the pending secret is not known to the cloud)');
    const status = (await check.json()) as { site: string; lanes: Record<`${Lane}`, { ackedSeq: number }> };
    this.options.log.info({ gateway: id }, 'an earlier enrolment had gone through: using its secret');
    return this.enrolled({ gateway: id, site: status.site, url: this.base, secret }, { '0': status.lanes['0'].ackedSeq, '1': status.lanes['1'].ackedSeq, '2': status.lanes['2'].ackedSeq });
  }

  private enrolled(credential: Credential, acked: LaneMarks): Credential {
    this.writeCredential(credential);
    this.options.log.info({ gateway: credential.gateway, site: credential.site }, 'enrolled with the cloud');
    // Continue each lane after the cloud's mark (zero for a new gateway; a re-enrolled
    // gateway with a new database must not reuse numbers the cloud has seen).
    for (const lane of LANES) this.options.store.renumberLane(lane, acked[`${lane}`]);
    return credential;
  }

  private readCredential(): Credential | undefined {
    if (!existsSync(this.credentialFile)) return undefined;
    try {
      const c = JSON.parse(readFileSync(this.credentialFile, 'utf8')) as Credential;
      if (c.gateway !== this.options.cloud.gatewayId || c.url !== this.base) {
        this.options.log.warn({ file: this.credentialFile }, 'stored credential is for another gateway or cloud: enrolling again');
        return undefined;
      }
      return c;
    } catch (err) {
      this.options.log.warn({ err, file: this.credentialFile }, 'stored credential unreadable: enrolling again');
      return undefined;
    }
  }

  private async request(pathname: string, init: RequestInit): Promise<Response> {
    this.lastAttemptAt = Date.now();
    try {
      return await fetch(`${this.base}${pathname}`, { ...init, signal: AbortSignal.timeout(this.options.cloud.requestTimeoutMs) });
    } catch (cause) {
      const timeout = (cause as Error).name === 'TimeoutError';
      throw new GatewayError('GW_ERR_SYNC_HTTP', `cloud ${this.base} ${timeout ? 'did not answer in time' : `unreachable: ${(cause as Error).message}`}`, { cause });
    }
  }

  /** Maps a non-2xx answer to the error whose kind decides what happens next. */
  private async expectOk(res: Response, doing: string): Promise<void> {
    if (res.ok) return;
    let detail = '';
    try {
      const body = (await res.json()) as { code?: string; message?: string };
      detail = `${body.code ?? ''} ${body.message ?? ''}`.trim();
    } catch {
      detail = res.statusText;
    }
    const code: GatewayErrorCode =
      res.status === 401 || res.status === 403 ? 'GW_ERR_SYNC_AUTH' : res.status === 429 || res.status === 503 ? 'GW_ERR_SYNC_RATE' : res.status >= 500 ? 'GW_ERR_SYNC_HTTP' : 'GW_ERR_SYNC_REFUSED';
    const retryAfter = Number(res.headers.get('retry-after'));
    throw new GatewayError(code, `cloud refused ${doing}: HTTP ${res.status} ${detail}`, {
      details: { status: res.status, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) },
    });
  }

  /** Decides the wait before the next attempt from the error's kind (CONVENTIONS §3). */
  private onFailure(err: unknown): number {
    const now = Date.now();
    this.failures++;
    this.counters.failures++;
    this.online = false;
    const e = err instanceof GatewayError ? err : new GatewayError('GW_ERR_SYNC_HTTP', (err as Error).message ?? String(err), { cause: err });
    this.lastError = { code: e.code, message: e.message, at: now };
    const maxBackoff = this.options.maxBackoffMs ?? 60_000;
    const backoff = Math.min(maxBackoff, 1000 * 2 ** Math.min(this.failures - 1, 16)) * (0.5 + Math.random() * 0.5);
    switch (e.kind) {
      case 'auth': {
        const wait = this.options.authRetryMs ?? 600_000;
        this.options.log.error({ code: e.code, retryInMs: wait }, e.message);
        return wait;
      }
      case 'limit': {
        const after = typeof e.details.retryAfterMs === 'number' ? e.details.retryAfterMs : backoff;
        this.options.log.warn({ code: e.code, retryInMs: after }, e.message);
        return after;
      }
      case 'contract': {
        // A telemetry item the cloud refuses even alone would block lane 2 for ever:
        // replace it by an eviction stub (the sequence stays whole) and say so. An alarm or
        // event item is never dropped: it waits, and the error is reported.
        const alone = this.lastBatch;
        if (alone !== undefined && alone.lane === 2 && this.maxItems === 1) {
          const evicted = this.options.store.evictItem(2, alone.seq);
          if (evicted) {
            this.options.store.recordEvent({ ts: now, type: 'buffer.evicted', severity: 'warning', body: { lane2Items: 1, seqFrom: alone.seq, seqTo: alone.seq, kind: alone.kind, reason: e.message } });
            this.options.log.error({ code: e.code, seq: alone.seq, kind: alone.kind }, 'the cloud refuses this telemetry item even alone: replaced by an eviction stub');
            this.maxItems = Math.min(this.options.cloud.batchMaxItems, LIMITS.maxItems);
            return 0;
          }
        }
        // The cloud found the batch malformed or too large: try a smaller one.
        this.maxItems = Math.max(1, Math.floor(this.maxItems / 2));
        this.options.log.error({ code: e.code, maxItems: this.maxItems, retryInMs: backoff }, e.message);
        return backoff;
      }
      default:
        if (this.failures === 1) this.options.log.warn({ code: e.code, retryInMs: Math.round(backoff) }, e.message);
        else this.options.log.debug({ code: e.code, failures: this.failures, retryInMs: Math.round(backoff) }, e.message);
        return backoff;
    }
  }
}
