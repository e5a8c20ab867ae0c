/**
 * The downlink (DESIGN.md "Sync"): long-polls `GET /v1/gateways/:id/changes?after=CURSOR`
 * for what the cloud decided — work-order operations made there (dispatch, reassignment),
 * verdicts on the operations made here, and desired configuration — and applies each
 * page of changes together with the new cursor in one durable transaction. So a crash
 * never applies a change twice or skips one, and asking with `after=CURSOR` is the
 * acknowledgement the cloud keeps (protocol/work-orders.ts `ChangesReply`).
 *
 * It uses the uplink's credential and does nothing until the uplink has enrolled.
 * Reads and writes only the store (DESIGN.md "Layout").
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Value } from 'typebox/value';
import { canonicalJson, ChangesReply, ConfigDesired, WorkOrderOp, WorkOrderRejected, type Change } from '../../../protocol/work-orders.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { GatewayStore } from '../store/store.js';
import type { WorkOrderStore, WorkOrderView } from '../store/work-orders.js';

const CURSOR_KEY = 'downlink.cursor';
const DESIRED_KEY = 'config.desired';

export interface DownlinkOptions {
  readonly store: GatewayStore;
  readonly workOrders: WorkOrderStore;
  readonly url: string;
  readonly gatewayId: string;
  /** The uplink's `Authorization` value; undefined until it has enrolled. */
  bearer(): string | undefined;
  /** Where desired configuration is written (`<dataDir>/config/desired/v<N>/`). */
  readonly dataDir: string;
  readonly log: Logger;
  /** How long the cloud may hold a poll with nothing new, ms. */
  readonly waitMs: number;
  /** Added to waitMs for the request's own timeout, ms. */
  readonly requestTimeoutMs: number;
  readonly maxBackoffMs?: number;
  /**
   * Applies parts of a desired configuration that can take effect live (e.g. `flows` to
   * Node-RED), after the page that brought it is committed. Returns each part's outcome;
   * parts it does not name stay `staged` (they take effect at the next restart on them).
   */
  applyDesired?(desired: ConfigDesired, dir: string): Promise<Record<string, 'applied' | 'staged' | { error: string }>>;
  /** Told about every work order a page of changes touched (live stream, MQTT). */
  onWorkOrder?(view: WorkOrderView, op: { kind: string; id: string; origin: 'cloud' | 'verdict' }): void;
}

export interface DownlinkStatus {
  readonly cursor: number;
  readonly online: boolean;
  readonly lastSuccessAt: number | null;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: number } | null;
  readonly applied: number;
  readonly skipped: number;
  /** The desired configuration last received: version and what became of it. */
  readonly desired: { readonly version: number; readonly status: string } | null;
}

export class Downlink {
  private stopped = true;
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private wake: (() => void) | undefined;
  private failures = 0;
  private online = false;
  private lastSuccessAt: number | null = null;
  private lastError: DownlinkStatus['lastError'] = null;
  private applied = 0;
  private skipped = 0;
  private readonly base: string;
  /** Desired configurations of the page being applied, to apply live once it commits. */
  private toApply: { desired: ConfigDesired; dir: string }[] = [];
  private applying: Promise<void> = Promise.resolve();

  constructor(private readonly options: DownlinkOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.running;
    await this.applying;
  }

  cursor(): number {
    return Number(this.options.store.getState(CURSOR_KEY) ?? 0);
  }

  status(): DownlinkStatus {
    const desired = this.options.store.getState(DESIRED_KEY);
    const d = desired === undefined ? null : (JSON.parse(desired) as { version: number; status: string });
    return {
      cursor: this.cursor(),
      online: this.online,
      lastSuccessAt: this.lastSuccessAt,
      lastError: this.lastError,
      applied: this.applied,
      skipped: this.skipped,
      desired: d === null ? null : { version: d.version, status: d.status },
    };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const bearer = this.options.bearer();
      if (bearer === undefined) {
        await this.sleep(500);
        continue;
      }
      try {
        await this.pollOnce(bearer);
        this.failures = 0;
      } catch (err) {
        if (this.stopped) break;
        this.failures++;
        this.online = false;
        const e = err instanceof GatewayError ? err : new GatewayError('GW_ERR_DOWNLINK', (err as Error).message, { cause: err });
        this.lastError = { code: e.code, message: e.message, at: Date.now() };
        const max = this.options.maxBackoffMs ?? 60_000;
        const wait = Math.min(max, 1000 * 2 ** Math.min(this.failures - 1, 16)) * (0.5 + Math.random() * 0.5);
        if (this.failures === 1) this.options.log.warn({ code: e.code, retryInMs: Math.round(wait) }, e.message);
        await this.sleep(wait);
      }
    }
  }

  /** One long-poll and, if it brought changes, their application. Returns how many were applied. */
  async pollOnce(bearer: string | undefined = this.options.bearer()): Promise<number> {
    if (bearer === undefined) return 0;
    const after = this.cursor();
    const url = `${this.base}/v1/gateways/${encodeURIComponent(this.options.gatewayId)}/changes?after=${after}&waitMs=${this.options.waitMs}`;
    this.abort = new AbortController();
    let res: Response;
    try {
      res = await fetch(url, {
        headers: { authorization: bearer },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.options.waitMs + this.options.requestTimeoutMs)]),
      });
    } catch (cause) {
      throw new GatewayError('GW_ERR_DOWNLINK', `cloud ${this.base} unreachable for changes: ${(cause as Error).message}`, { cause });
    }
    if (!res.ok) {
      const text = await res.text().catch(() => '');
      throw new GatewayError('GW_ERR_DOWNLINK', `cloud refused GET changes: HTTP ${res.status} ${text.slice(0, 300)}`, { details: { status: res.status } });
    }
    const reply: unknown = await res.json();
    if (!Value.Check(ChangesReply, reply)) {
      const first = [...Value.Errors(ChangesReply, reply)][0];
      throw new GatewayError('GW_ERR_DOWNLINK', `cloud's changes answer is malformed: ${first?.instancePath ?? ''} ${first?.message ?? ''}`);
    }
    this.online = true;
    this.lastSuccessAt = Date.now();
    if (reply.changes.length === 0) {
      if (reply.cursor > after) this.options.store.setState(CURSOR_KEY, String(reply.cursor));
      return 0;
    }
    return this.apply(reply.changes, reply.cursor);
  }

  /** Applies a page of changes and stores the cursor after it, in one durable transaction. */
  apply(changes: readonly Change[], cursor: number): number {
    const touched: { view: WorkOrderView; op: { kind: string; id: string; origin: 'cloud' | 'verdict' } }[] = [];
    this.toApply = [];
    let applied = 0;
    let skipped = 0;
    this.options.store.durably(() => {
      for (const change of changes) {
        const problem = this.applyOne(change, touched);
        if (problem === undefined) applied++;
        else {
          skipped++;
          this.lastError = { code: 'GW_ERR_DOWNLINK', message: `change ${change.seq} (${change.kind}) skipped: ${problem}`, at: Date.now() };
          this.options.log.error({ seq: change.seq, kind: change.kind }, `downlink change skipped: ${problem}`);
        }
      }
      this.options.store.setState(CURSOR_KEY, String(Math.max(cursor, this.cursor())));
    });
    this.applied += applied;
    this.skipped += skipped;
    for (const t of touched) this.options.onWorkOrder?.(t.view, t.op);
    const toApply = this.toApply;
    this.toApply = [];
    for (const d of toApply) this.applying = this.applying.then(() => this.applyLive(d.desired, d.dir));
    return applied;
  }

  /** Resolves when desired configuration received so far has been applied (tests, shutdown). */
  settled(): Promise<void> {
    return this.applying;
  }

  /** Applies what can be applied live and reports `config.applied` with each part's outcome. */
  private async applyLive(desired: ConfigDesired, dir: string): Promise<void> {
    let outcome: Record<string, 'applied' | 'staged' | { error: string }>;
    try {
      outcome = (await this.options.applyDesired?.(desired, dir)) ?? {};
    } catch (err) {
      outcome = { '*': { error: err instanceof Error ? err.message : String(err) } };
    }
    const parts: Record<string, string> = {};
    const errors: string[] = [];
    for (const name of Object.keys(desired.parts)) {
      const o = outcome[name] ?? outcome['*'] ?? 'staged';
      parts[name] = typeof o === 'string' ? o : 'failed';
      if (typeof o !== 'string') errors.push(`${name}: ${o.error}`);
    }
    const status = errors.length > 0 ? 'failed' : Object.values(parts).every((p) => p === 'applied') ? 'applied' : 'staged';
    const error = errors.length > 0 ? errors.join('; ') : undefined;
    try {
      this.report(desired.version, desired.checksum, status, error, parts);
    } catch (err) {
      this.options.log.error({ err, version: desired.version }, 'could not record config.applied');
    }
  }

  private report(version: number, checksum: string, status: 'applied' | 'staged' | 'failed', error?: string, parts?: Record<string, string>): void {
    const now = Date.now();
    const extra = { ...(error === undefined ? {} : { error }), ...(parts === undefined ? {} : { parts }) };
    this.options.store.setState(DESIRED_KEY, JSON.stringify({ version, checksum, status, at: now, ...extra }));
    this.options.store.recordEvent({ ts: now, type: 'config.applied', severity: status === 'failed' ? 'warning' : 'info', body: { version, checksum, status, ...extra } });
  }

  /** Returns why a change could not be applied, or undefined when it was. */
  private applyOne(change: Change, touched: { view: WorkOrderView; op: { kind: string; id: string; origin: 'cloud' | 'verdict' } }[]): string | undefined {
    switch (change.kind) {
      case 'workorder.op': {
        if (!Value.Check(WorkOrderOp, change.body)) return 'not a work-order operation';
        const view = this.options.workOrders.applyConfirmed(change.body, change.seq);
        if (view !== undefined) touched.push({ view, op: { kind: change.body.op, id: change.body.id, origin: 'cloud' } });
        return undefined;
      }
      case 'workorder.rejected': {
        if (!Value.Check(WorkOrderRejected, change.body)) return 'not a work-order rejection';
        const view = this.options.workOrders.applyRejected(change.body.opId, change.body.reason);
        if (view !== undefined) touched.push({ view, op: { kind: change.body.op, id: change.body.opId, origin: 'verdict' } });
        this.options.log.warn({ workOrder: change.body.workOrder, op: change.body.op, reason: change.body.reason }, 'the cloud refused a work-order operation made here');
        return undefined;
      }
      case 'config.desired':
        return this.stageConfig(change.body);
      default:
        // A newer cloud's kind: skipped, so an old gateway keeps going (forward compatibility).
        return `unknown kind ${change.kind}`;
    }
  }

  /**
   * Desired configuration: checked against its checksum, written to
   * `<dataDir>/config/desired/v<version>/`; what can take effect live (`applyDesired`:
   * Node-RED flows) is applied once the page is committed, and `config.applied` reports
   * each part: `applied` (flows; site and profiles on a gateway run from its file, which
   * then restarts on them: site-install.ts), `staged` (takes effect when the gateway
   * restarts on it: models, or a gateway embedded without its file) or failed
   * (docs/sync-protocol.md).
   */
  private stageConfig(body: Record<string, unknown>): string | undefined {
    if (!Value.Check(ConfigDesired, body)) {
      const version = typeof body.version === 'number' ? body.version : 0;
      const checksum = typeof body.checksum === 'string' ? body.checksum : '';
      this.report(version, checksum, 'failed', 'malformed config.desired');
      return undefined;
    }
    const actual = createHash('sha256').update(canonicalJson(body.parts)).digest('hex');
    if (actual !== body.checksum) {
      this.report(body.version, body.checksum, 'failed', `checksum mismatch: parts hash to ${actual}`);
      return undefined;
    }
    const dir = path.join(this.options.dataDir, 'config', 'desired', `v${body.version}`);
    for (const [name, text] of Object.entries(body.parts)) {
      const safe = name.split('/').filter((s) => /^[A-Za-z0-9._-]+$/.test(s) && s !== '..' && s !== '.');
      if (safe.length === 0 || safe.length !== name.split('/').length) {
        this.report(body.version, body.checksum, 'failed', `part name "${name}" is not a safe relative path`);
        return undefined;
      }
      const file = path.join(dir, ...safe);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
    if (this.options.applyDesired !== undefined) {
      // Recorded as staged now; config.applied follows once what can take effect live has.
      this.options.store.setState(DESIRED_KEY, JSON.stringify({ version: body.version, checksum: body.checksum, status: 'staged', at: Date.now() }));
      this.toApply.push({ desired: body, dir });
    } else this.report(body.version, body.checksum, 'staged');
    return undefined;
  }
}
