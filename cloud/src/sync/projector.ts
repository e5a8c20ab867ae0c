/**
 * The roll-up projector: fills the `rollups` table (KPIs, trends) from the `telemetry.rollup`
 * items the uplink stored, after the batch was acknowledged rather than inside it. A day's
 * backlog of 2,000 points is ~2.9 million roll-ups; writing them in the batch's transaction
 * made every acknowledgement wait for them (docs/benchmarks.md `drain`).
 *
 * Exactly once, across restarts: each gateway has a cursor (`projection_marks`, lane 2),
 * the highest sequence whose items are projected. One step reads the next items above it
 * (at most up to the acknowledged mark, which commits with its items), writes their rows
 * and advances the cursor in one transaction — a crash before the commit redoes the step,
 * never half of it. On PostgreSQL the cursor row is locked (`FOR UPDATE SKIP LOCKED`), so
 * two cloud instances never project the same items; each takes other gateways.
 *
 * Ingest kicks the projector after each commit; it also runs once at start (what a previous
 * process acknowledged but did not project). Readers that must see every acknowledged
 * roll-up (tests) `await flush()`.
 */
import { sql } from 'kysely';
import { Compile } from 'typebox/compile';
import { TelemetryRollupBody } from '../../../protocol/v1.js';
import type { CloudDatabase } from '../db/open.js';
import { insertRollups } from '../db/rollups.js';
import type { CloudSchema } from '../db/schema.js';

const ROLLUP_LANE = 2;
const rollupBody = Compile(TelemetryRollupBody);

/** Parsed bodies handed over by ingest, at most this many items (≈ 300 KB of objects each). */
const HANDOFF_ITEMS = 64;

export interface ProjectorOptions {
  /**
   * Items per step (each up to 256 KiB of JSON; 2,000 roll-ups in the gateway's). Default 32:
   * more minutes of each point per transaction write each index page fewer times.
   */
  stepItems?: number;
  /** Told of a step that failed (it is retried on the next kick, or after `retryMs`). */
  onError?: (err: unknown) => void;
  /** Retry after a failure, ms (default 1000). */
  retryMs?: number;
  /** PostgreSQL: gateways projected at once, each on its own pooled connection (default 3; the pool has 10). */
  parallel?: number;
}

/** What one gateway's step did. */
interface StepResult {
  /** Items projected (roll-up items; other lane-2 kinds are passed over). */
  items: number;
  rollups: number;
  /** True when the gateway's cursor reached its acknowledged mark. */
  caughtUp: boolean;
  /** The cursor after the step. */
  to: number;
}

export interface ProjectorStatus {
  /** Gateways whose cursor is behind their acknowledged lane-2 mark, and by how many sequences in all. */
  lagGateways: number;
  lagItems: number;
}

/** Roll-up rows from an item body, in order; the first of a (point, minute) repeated wins, malformed entries are passed over. */
export function rollupRows(site: string, body: unknown, seen: Set<string>, out: CloudSchema['rollups'][]): number {
  if (!rollupBody.Check(body)) return 0;
  let n = 0;
  for (const r of body.rollups) {
    const key = `${r.id}@${r.minute}`;
    if (seen.has(key) || !Number.isSafeInteger(r.minute) || !Number.isSafeInteger(r.count)) continue;
    if (!(Number.isFinite(r.min) && Number.isFinite(r.max) && Number.isFinite(r.avg) && Number.isFinite(r.last))) continue;
    seen.add(key);
    out.push({ site_id: site, point_id: r.id, minute: r.minute, min: r.min, max: r.max, avg: r.avg, count: r.count, last: r.last });
    n++;
  }
  return n;
}

export class RollupProjector {
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly stepItems: number;
  private readonly parallel: number;
  private readonly counters = { steps: 0, items: 0, rollups: 0, failures: 0 };
  /**
   * Bodies of just-stored roll-up items by gateway and seq, as ingest parsed them, so a step
   * need not read and parse the stored JSON again. Only a shortcut: what a step projects is
   * decided by the database (the items table and the cursor); an item not here is read.
   */
  private readonly handed = new Map<string, Map<number, unknown>>();
  private handedCount = 0;

  constructor(
    private readonly cdb: CloudDatabase,
    private readonly options: ProjectorOptions = {},
  ) {
    this.stepItems = options.stepItems ?? 32;
    this.parallel = Math.max(1, options.parallel ?? 3);
  }

  /**
   * Projects what is pending, in the background (coalesced: a kick while running means one
   * more pass). Ingest passes the roll-up items it just committed for `gateway`, parsed.
   */
  kick(gateway?: string, rollups: readonly { seq: number; body: unknown }[] = []): void {
    if (this.closed) return;
    if (gateway !== undefined) {
      for (const r of rollups) {
        if (this.handedCount >= HANDOFF_ITEMS) break;
        let mine = this.handed.get(gateway);
        if (mine === undefined) this.handed.set(gateway, (mine = new Map()));
        if (!mine.has(r.seq)) this.handedCount++;
        mine.set(r.seq, r.body);
      }
    }
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = undefined;
    });
  }

  /**
   * Resolves once every item acknowledged before the call is projected (on this instance;
   * gateways another instance holds are waited for). Rejects if a step fails.
   */
  async flush(): Promise<void> {
    for (;;) {
      if (this.running !== undefined) await this.running;
      if (this.closed) return;
      const status = await this.status();
      if (status.lagGateways === 0) return;
      // Run a pass here, not in the background, so its failure reaches the caller.
      if (!(await this.pass())) await new Promise((resolve) => setTimeout(resolve, 50)); // another instance holds them

    }
  }

  /** Stops after the step in progress; pending items stay for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.running?.catch(() => undefined);
  }

  /** Counters since start: steps, items and roll-ups projected, failed steps. */
  counts(): Readonly<{ steps: number; items: number; rollups: number; failures: number }> {
    return { ...this.counters };
  }

  /** How far the projection is behind the acknowledgements. */
  async status(): Promise<ProjectorStatus> {
    const rows = await this.lagging();
    return { lagGateways: rows.length, lagItems: rows.reduce((n, r) => n + (r.acked - r.projected), 0) };
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        await this.pass();
      } while (this.again && !this.closed);
    } catch (err) {
      this.counters.failures++;
      this.options.onError?.(err);
      if (!this.closed) {
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.kick(), this.options.retryMs ?? 1000);
        this.retry.unref();
      }
    }
  }

  /** Gateways behind, with their site. */
  private async lagging(): Promise<{ gateway: string; site: string; acked: number; projected: number }[]> {
    const rows = await this.cdb.db
      .selectFrom('lane_marks as l')
      .innerJoin('gateways as g', 'g.id', 'l.gateway_id')
      .leftJoin('projection_marks as p', (j) => j.onRef('p.gateway_id', '=', 'l.gateway_id').onRef('p.lane', '=', 'l.lane'))
      .select(['l.gateway_id as gateway', 'g.site_id as site', 'l.acked_seq as acked', sql<number>`coalesce(p.projected_seq, 0)`.as('projected')])
      .where('l.lane', '=', ROLLUP_LANE)
      .where(sql<boolean>`l.acked_seq > coalesce(p.projected_seq, 0)`)
      .execute();
    return rows.map((r) => ({ gateway: r.gateway, site: r.site, acked: Number(r.acked), projected: Number(r.projected) }));
  }

  /**
   * One round over the lagging gateways, a step each, until none lags (round-robin: one
   * gateway's backlog does not starve the others). Returns false when every lagging
   * gateway was held by another instance.
   */
  private async pass(): Promise<boolean> {
    let pending = await this.lagging();
    // A gateway that is not behind has nothing handed over left to use.
    const behind = new Set(pending.map((g) => g.gateway));
    for (const gateway of [...this.handed.keys()]) if (!behind.has(gateway)) this.forget(gateway, Infinity);
    let progressed = pending.length === 0;
    // PostgreSQL: several gateways' steps at once, each on its own pooled connection (their
    // cursors are separate rows; their roll-ups go in key order, so two steps of one site's
    // gateways wait for each other at worst, never deadlock). SQLite has one connection.
    const parallel = this.cdb.dialect === 'postgres' ? this.parallel : 1;
    while (pending.length > 0 && !this.closed) {
      const next: typeof pending = [];
      let i = 0;
      const worker = async (): Promise<void> => {
        while (i < pending.length && !this.closed) {
          const g = pending[i++]!;
          const r = await this.step(g.gateway, g.site);
          if (r !== undefined) progressed = true;
          if (r !== undefined && !r.caughtUp) next.push(g);
          // Let waiting requests (ingest) take the connection between steps.
          await new Promise((resolve) => setImmediate(resolve));
        }
      };
      await Promise.all(Array.from({ length: Math.min(parallel, pending.length) }, worker));
      pending = next;
    }
    return progressed;
  }

  /** Drops what was handed over for `gateway` up to `seq`. */
  private forget(gateway: string, seq: number): void {
    const mine = this.handed.get(gateway);
    if (mine === undefined) return;
    for (const s of [...mine.keys()]) {
      if (s <= seq) {
        mine.delete(s);
        this.handedCount--;
      }
    }
    if (mine.size === 0) this.handed.delete(gateway);
  }

  /** Projects the next items of one gateway; undefined when another instance holds its cursor. */
  private async step(gateway: string, site: string): Promise<StepResult | undefined> {
    const { cdb } = this;
    const result = await cdb.db.transaction().execute(async (trx) => {
      // No wait for the WAL flush at commit: a crash may lose the last steps, but rows and
      // cursor together (the commit stays atomic), and the items they came from are durable
      // — the next start projects them again. Exactly once still holds.
      if (cdb.dialect === 'postgres') await sql`set local synchronous_commit = off`.execute(trx);
      await trx.insertInto('projection_marks').values({ gateway_id: gateway, lane: ROLLUP_LANE, projected_seq: 0 }).onConflict((oc) => oc.columns(['gateway_id', 'lane']).doNothing()).execute();
      const cursorQuery = trx.selectFrom('projection_marks').select('projected_seq').where('gateway_id', '=', gateway).where('lane', '=', ROLLUP_LANE);
      const cursor = await (cdb.dialect === 'postgres' ? cursorQuery.forUpdate().skipLocked() : cursorQuery).executeTakeFirst();
      if (cursor === undefined) return undefined;
      const projected = Number(cursor.projected_seq);
      // Read after the cursor's lock: the mark commits with its items, so every item up to it is visible.
      const mark = await trx.selectFrom('lane_marks').select('acked_seq').where('gateway_id', '=', gateway).where('lane', '=', ROLLUP_LANE).executeTakeFirst();
      const acked = Number(mark?.acked_seq ?? 0);
      if (acked <= projected) return { items: 0, rollups: 0, caughtUp: true, to: projected };
      const items = await trx
        .selectFrom('items')
        .select('seq')
        .where('gateway_id', '=', gateway)
        .where('lane', '=', ROLLUP_LANE)
        .where('seq', '>', projected)
        .where('seq', '<=', acked)
        .where('kind', '=', 'telemetry.rollup')
        .orderBy('seq')
        .limit(this.stepItems)
        .execute();
      // Fewer than a step's worth: nothing else up to the mark is a roll-up item.
      const full = items.length === this.stepItems;
      const to = full ? Number(items[items.length - 1]!.seq) : acked;
      const mine = this.handed.get(gateway);
      const bodies = new Map<number, unknown>();
      const missing: number[] = [];
      for (const { seq } of items) {
        const s = Number(seq);
        if (mine?.has(s) === true) bodies.set(s, mine.get(s));
        else missing.push(s);
      }
      if (missing.length > 0) {
        const stored = await trx.selectFrom('items').select(['seq', 'body_json']).where('gateway_id', '=', gateway).where('lane', '=', ROLLUP_LANE).where('seq', 'in', missing).execute();
        for (const item of stored) {
          try {
            bodies.set(Number(item.seq), JSON.parse(item.body_json));
          } catch {
            // stored by ingest from parsed JSON: cannot happen, and must not block the lane
          }
        }
      }
      const rows: CloudSchema['rollups'][] = [];
      const seen = new Set<string>();
      for (const { seq } of items) {
        const body = bodies.get(Number(seq));
        if (body !== undefined) rollupRows(site, body, seen, rows);
      }
      await insertRollups(trx, cdb, rows);
      await trx.updateTable('projection_marks').set({ projected_seq: to }).where('gateway_id', '=', gateway).where('lane', '=', ROLLUP_LANE).execute();
      return { items: items.length, rollups: rows.length, caughtUp: to >= acked, to };
    });
    if (result !== undefined) {
      this.forget(gateway, result.to);
      this.counters.steps++;
      this.counters.items += result.items;
      this.counters.rollups += result.rollups;
    }
    return result;
  }
}
