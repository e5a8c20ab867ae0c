/**
 * The cloud's moving parts besides requests: the downlink notifier (wakes long-polls),
 * what happens after a commit (`app.afterCommit(effects)`), and the background loops —
 * the SLA/dispatch check and the webhook deliverer — started when the app is ready and
 * stopped before it closes. Every loop is also safe to run on several replicas at once
 * (each step is a transaction that re-reads what it acts on).
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { ChangeNotifier } from '../downlink/notifier.js';
import type { Effects } from '../downlink/effects.js';

/** A periodic job; `kick` runs it soon (e.g. after a commit queued work). */
export interface BackgroundJob {
  readonly name: string;
  readonly intervalMs: number;
  run(now: number): Promise<void>;
}

export interface RuntimeOptions {
  /** Start the background loops (default true; tests drive them by hand with `app.stewardRuntime.runJob`). */
  background?: boolean;
}

export class Runtime {
  readonly notifier = new ChangeNotifier();
  private readonly jobs = new Map<string, { job: BackgroundJob; timer?: NodeJS.Timeout; running?: Promise<void>; again: boolean }>();
  private started = false;
  private stopped = false;
  constructor(private readonly log: FastifyInstance['log']) {}

  add(job: BackgroundJob): void {
    this.jobs.set(job.name, { job, again: false });
    if (this.started) this.schedule(job.name, job.intervalMs);
  }

  /** Runs a job now and waits for it (tests, and `kick`). */
  async runJob(name: string, now = Date.now()): Promise<void> {
    const entry = this.jobs.get(name);
    if (entry === undefined) return;
    if (entry.running !== undefined) {
      entry.again = true;
      await entry.running;
      return;
    }
    entry.running = entry.job
      .run(now)
      .catch((err: unknown) => this.log.error({ err, job: name }, 'background job failed'))
      .finally(() => {
        entry.running = undefined;
      });
    await entry.running;
    if (entry.again && !this.stopped) {
      entry.again = false;
      await this.runJob(name);
    }
  }

  kick(name: string): void {
    if (!this.started || this.stopped) return;
    void this.runJob(name);
  }

  private schedule(name: string, ms: number): void {
    const entry = this.jobs.get(name);
    if (entry === undefined || this.stopped) return;
    entry.timer = setTimeout(() => {
      void this.runJob(name).finally(() => this.schedule(name, entry.job.intervalMs));
    }, ms);
    entry.timer.unref();
  }

  start(): void {
    this.started = true;
    for (const [name, e] of this.jobs) this.schedule(name, e.job.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.notifier.close();
    for (const e of this.jobs.values()) if (e.timer !== undefined) clearTimeout(e.timer);
    await Promise.all([...this.jobs.values()].map((e) => e.running));
  }

  /** After a commit: wake the long-polls of the gateways whose feeds grew; kick the webhook deliverer. */
  afterCommit(effects: Effects): void {
    if (effects.gateways.size > 0) this.notifier.notify(effects.gateways);
    if (effects.webhooks > 0) this.kick('webhooks');
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    stewardRuntime: Runtime;
  }
}

async function runtimePlugin(app: FastifyInstance, opts: RuntimeOptions): Promise<void> {
  const runtime = new Runtime(app.log);
  app.decorate('stewardRuntime', runtime);
  app.stewardMetrics.gauges.set('steward_cloud_downlink_polls_held', { help: 'Downlink long-polls held open now.', read: () => runtime.notifier.waiting });
  if (opts.background !== false) app.addHook('onReady', async () => runtime.start());
  // preClose: before the server stops accepting, so held long-polls answer at once instead of holding the shutdown for 30 s.
  app.addHook('preClose', async () => runtime.stop());
}

export default fp(runtimePlugin, { name: 'steward-runtime', fastify: '5.x', dependencies: ['steward-db', 'steward-metrics'] });
