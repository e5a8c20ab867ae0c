/**
 * `/metrics` in the Prometheus text exposition format (version 0.0.4), written by hand:
 * a few dozen series do not need a client library. Names follow Prometheus' conventions
 * (base units, `_total` for counters).
 */
import { LANES } from '../../../protocol/v1.js';
import type { ApiContext } from './server.js';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

class Exposition {
  private readonly lines: string[] = [];

  metric(name: string, type: 'gauge' | 'counter', help: string, samples: readonly { labels?: Record<string, string>; value: number }[]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of samples) {
      const labels = s.labels === undefined ? '' : `{${Object.entries(s.labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}`;
      this.lines.push(`${name}${labels} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }

  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

export function renderMetrics(ctx: ApiContext): string {
  const m = new Exposition();
  const now = Date.now();
  m.metric('steward_build_info', 'gauge', 'Build and site of this gateway.', [{ labels: { version: ctx.version, site: ctx.site.id }, value: 1 }]);
  m.metric('steward_uptime_seconds', 'gauge', 'Seconds since the gateway started.', [{ value: (now - ctx.startedAt) / 1000 }]);
  const mem = process.memoryUsage();
  m.metric('steward_process_resident_memory_bytes', 'gauge', 'Resident set size of the gateway process.', [{ value: mem.rss }]);
  const cpu = process.cpuUsage();
  m.metric('steward_process_cpu_seconds_total', 'counter', 'CPU time used by the gateway process.', [{ value: (cpu.user + cpu.system) / 1e6 }]);

  const statuses = ctx.devices.map((d) => ({ d, s: ctx.deviceStatus(d.id) }));
  const states = ['connecting', 'online', 'offline', 'disabled'] as const;
  m.metric(
    'steward_device_state',
    'gauge',
    'Device link state (1 for the current state).',
    statuses.flatMap(({ d, s }) => states.map((st) => ({ labels: { device: d.id, state: st }, value: (s?.state ?? 'disabled') === st ? 1 : 0 }))),
  );
  const stat = (name: string, type: 'gauge' | 'counter', help: string, pick: (s: NonNullable<(typeof statuses)[number]['s']>) => number) =>
    m.metric(name, type, help, statuses.filter((x) => x.s !== undefined).map(({ d, s }) => ({ labels: { device: d.id }, value: pick(s!) })));
  stat('steward_device_poll_cycles_total', 'counter', 'Poll cycles run.', (s) => s.stats.cycles);
  stat('steward_device_poll_failed_cycles_total', 'counter', 'Poll cycles that failed (device unreachable).', (s) => s.stats.failedCycles);
  stat('steward_device_requests_total', 'counter', 'Read requests sent to the device.', (s) => s.stats.requests);
  stat('steward_device_failed_requests_total', 'counter', 'Read requests that failed.', (s) => s.stats.failedRequests);
  stat('steward_device_points_read_total', 'counter', 'Point values read.', (s) => s.stats.pointsRead);
  stat('steward_device_points_suppressed_total', 'counter', 'Readings inside their deadband, not stored.', (s) => s.stats.pointsSuppressed);
  stat('steward_device_points_pushed_total', 'counter', 'Point values the device pushed (COV).', (s) => s.stats.pointsPushed);
  stat('steward_device_poll_lateness_seconds', 'gauge', 'How late the last poll cycle started against its schedule.', (s) => s.stats.lastLatenessMs / 1000);
  stat('steward_device_poll_duration_seconds', 'gauge', 'Duration of the last poll cycle.', (s) => s.stats.lastCycleMs / 1000);
  stat('steward_device_skipped_cycles_total', 'counter', 'Poll cycles skipped because the previous one overran.', (s) => s.stats.skippedCycles);

  for (const [name, value] of Object.entries(ctx.counters())) {
    m.metric(`steward_${name}`, name.endsWith('_total') ? 'counter' : 'gauge', `Gateway counter ${name}.`, [{ value }]);
  }
  m.metric('steward_store_failing', 'gauge', '1 while the gateway database cannot be written.', [{ value: ctx.storeError() === undefined ? 0 : 1 }]);

  const sync = ctx.syncStatus();
  const lanes = LANES.map((l) => ({ lane: String(l), st: sync?.lanes[`${l}`] ?? ctx.store.laneStatus(l, now) }));
  m.metric('steward_sync_enabled', 'gauge', '1 when a cloud is configured.', [{ value: sync === undefined ? 0 : 1 }]);
  m.metric('steward_sync_online', 'gauge', '1 while the last exchange with the cloud succeeded.', [{ value: sync?.online === true ? 1 : 0 }]);
  m.metric('steward_sync_backlog_items', 'gauge', 'Outbox items not yet acknowledged by the cloud.', lanes.map((l) => ({ labels: { lane: l.lane }, value: l.st.backlog })));
  m.metric('steward_sync_oldest_item_age_seconds', 'gauge', 'Age of the oldest unacknowledged outbox item.', lanes.map((l) => ({ labels: { lane: l.lane }, value: l.st.oldestMs / 1000 })));
  m.metric('steward_sync_acked_seq', 'gauge', 'Highest sequence acknowledged by the cloud.', lanes.map((l) => ({ labels: { lane: l.lane }, value: l.st.ackedSeq })));
  m.metric('steward_sync_last_seq', 'gauge', 'Highest sequence appended to the outbox.', lanes.map((l) => ({ labels: { lane: l.lane }, value: l.st.lastSeq })));
  if (sync !== undefined) {
    m.metric('steward_sync_last_success_timestamp_seconds', 'gauge', 'When the cloud last answered successfully.', [{ value: (sync.lastSuccessAt ?? 0) / 1000 }]);
    m.metric('steward_sync_batches_total', 'counter', 'Batches acknowledged by the cloud.', [{ value: sync.counters.batches }]);
    m.metric('steward_sync_items_sent_total', 'counter', 'Outbox items acknowledged by the cloud.', [{ value: sync.counters.itemsSent }]);
    m.metric('steward_sync_failures_total', 'counter', 'Failed exchanges with the cloud.', [{ value: sync.counters.failures }]);
    m.metric('steward_sync_clock_offset_seconds', 'gauge', 'Cloud clock minus gateway clock.', [{ value: (sync.clockOffsetMs ?? 0) / 1000 }]);
    m.metric('steward_sync_clock_skewed', 'gauge', '1 while the gateway clock is further from the cloud than cloud.maxClockSkewMs.', [{ value: sync.clockSkewed ? 1 : 0 }]);
    if (sync.downlink !== undefined) {
      const d = sync.downlink;
      m.metric('steward_downlink_online', 'gauge', '1 while the last long-poll for changes from the cloud succeeded.', [{ value: d.online ? 1 : 0 }]);
      m.metric('steward_downlink_cursor', 'gauge', 'Position in this gateway\'s change feed applied and acknowledged.', [{ value: d.cursor }]);
      m.metric('steward_downlink_changes_applied_total', 'counter', 'Changes from the cloud applied (work-order operations, verdicts, desired config).', [{ value: d.applied }]);
      m.metric('steward_downlink_changes_skipped_total', 'counter', 'Changes from the cloud that could not be applied (unknown kind, malformed).', [{ value: d.skipped }]);
      m.metric('steward_downlink_last_success_timestamp_seconds', 'gauge', 'When the downlink last heard from the cloud.', [{ value: (d.lastSuccessAt ?? 0) / 1000 }]);
    }
  }
  return m.toString();
}
