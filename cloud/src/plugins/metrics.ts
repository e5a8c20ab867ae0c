/**
 * Counters for `/metrics` (Prometheus text exposition format 0.0.4), written by hand: a
 * handful of counters do not justify prom-client. Counters are per process; behind a load
 * balancer Prometheus scrapes each instance and sums.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { LANES, type Lane } from '../../../protocol/v1.js';
import type { IngestStats } from '../sync/ingest.js';

/** How a batch was answered, as a metric label: stored, refused for a sequence gap, refused otherwise (4xx), failed (5xx). */
export type BatchOutcome = 'accepted' | 'gap' | 'refused' | 'failed';

export class CloudMetrics {
  private readonly batches: Record<BatchOutcome, number> = { accepted: 0, gap: 0, refused: 0, failed: 0 };
  private readonly accepted: Record<Lane, number> = { 0: 0, 1: 0, 2: 0 };
  private readonly duplicates: Record<Lane, number> = { 0: 0, 1: 0, 2: 0 };
  private readonly startedAt = Date.now();
  private readonly responses: Record<string, number> = { '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  /** Gauges read when rendering (e.g. long-polls held now). */
  readonly gauges = new Map<string, { help: string; read: () => number }>();

  /** Counts one HTTP answer by status class. */
  response(statusCode: number): void {
    const k = `${Math.min(5, Math.max(2, Math.floor(statusCode / 100)))}xx`;
    this.responses[k] = (this.responses[k] ?? 0) + 1;
  }

  /** Counts one batch answer. */
  batch(outcome: BatchOutcome, stats?: IngestStats): void {
    this.batches[outcome]++;
    if (stats === undefined) return;
    for (const lane of LANES) {
      this.accepted[lane] += stats.accepted[lane];
      this.duplicates[lane] += stats.duplicates[lane];
    }
  }

  /** The exposition text. */
  render(): string {
    const lines: string[] = [
      '# HELP steward_cloud_batches_total Uplink batches answered, by outcome (accepted; gap = 409 sequence gap; refused = any other 4xx; failed = 5xx).',
      '# TYPE steward_cloud_batches_total counter',
      ...(Object.keys(this.batches) as BatchOutcome[]).map((o) => `steward_cloud_batches_total{outcome="${o}"} ${this.batches[o]}`),
      '# HELP steward_cloud_items_accepted_total Outbox items newly stored, by lane.',
      '# TYPE steward_cloud_items_accepted_total counter',
      ...LANES.map((l) => `steward_cloud_items_accepted_total{lane="${l}"} ${this.accepted[l]}`),
      '# HELP steward_cloud_items_duplicate_total Outbox items received again (replays), by lane.',
      '# TYPE steward_cloud_items_duplicate_total counter',
      ...LANES.map((l) => `steward_cloud_items_duplicate_total{lane="${l}"} ${this.duplicates[l]}`),
      '# HELP steward_cloud_gap_refusals_total Batches refused with 409 CS_ERR_BATCH_SEQ_GAP.',
      '# TYPE steward_cloud_gap_refusals_total counter',
      `steward_cloud_gap_refusals_total ${this.batches.gap}`,
      '# HELP steward_cloud_http_responses_total HTTP answers by status class.',
      '# TYPE steward_cloud_http_responses_total counter',
      ...Object.entries(this.responses).map(([k, v]) => `steward_cloud_http_responses_total{class="${k}"} ${v}`),
      ...[...this.gauges.entries()].flatMap(([name, g]) => [`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`]),
      '# HELP steward_cloud_start_time_seconds When this cloud process started (unix seconds).',
      '# TYPE steward_cloud_start_time_seconds gauge',
      `steward_cloud_start_time_seconds ${Math.floor(this.startedAt / 1000)}`,
    ];
    return lines.join('\n') + '\n';
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    stewardMetrics: CloudMetrics;
  }
}

async function metricsPlugin(app: FastifyInstance): Promise<void> {
  const metrics = new CloudMetrics();
  app.decorate('stewardMetrics', metrics);
  app.addHook('onResponse', async (_request, reply) => metrics.response(reply.statusCode));
}

export default fp(metricsPlugin, { name: 'steward-metrics', fastify: '5.x' });
