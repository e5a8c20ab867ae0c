/**
 * The optional bridge to an upstream broker (the property company's): the gateway, as
 * an MQTT client, publishes its events and, if asked, its latest values and device
 * states under `bridge.topicPrefix`. Best effort and in memory — the cloud sync's outbox
 * stays the durable path — with a bounded queue while the upstream is unreachable:
 *
 * - events wait in order, at most `maxQueuedEvents`; past it the oldest non-alarm event
 *   is dropped first, an `alarm.*` event only when nothing else is left (the outbox's
 *   lane rule: alarms last to go);
 * - values wait one per topic (the newest replaces the older: the upstream wants the
 *   latest), at most `maxQueuedValues` topics; past it new topics are dropped;
 * - on reconnection events go first, then values.
 *
 * The upstream sees the gateway's liveness on `<prefix>/$state`: `online` (retained) on
 * connect, `offline` by the will (MQTT-3.1.2-8) when the link dies.
 *
 * The MQTT client library (mqtt.js) is imported when a bridge is made, not with the broker:
 * a gateway without `gateway.mqtt.bridge` does not carry it (issue 3). Until it has loaded,
 * the bridge is simply not connected yet and queues, as it does while the upstream is away.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { MqttConfig } from '../core/config/mqtt.js';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

type BridgeConfig = NonNullable<MqttConfig['bridge']>;

export interface BridgeStats {
  connected: boolean;
  queuedEvents: number;
  queuedValues: number;
  sentEvents: number;
  sentValues: number;
  droppedEvents: number;
  droppedValues: number;
  lastError: string | null;
}

export class MqttBridge {
  /** Undefined until mqtt.js has loaded (a moment after the constructor). */
  private client: MqttClient | undefined;
  private readonly loading: Promise<void>;
  private readonly events: { topic: string; payload: Buffer; alarm: boolean }[] = [];
  private readonly values = new Map<string, Buffer>();
  private readonly stateTopic: string;
  private readonly counters = { sentEvents: 0, sentValues: 0, droppedEvents: 0, droppedValues: 0 };
  private lastError: string | null = null;
  private closed = false;

  /**
   * @param localPrefix `steward/v1/<site>`, replaced by `config.topicPrefix` upstream.
   */
  constructor(
    private readonly config: BridgeConfig,
    private readonly localPrefix: string,
    site: string,
    private readonly log: Logger,
  ) {
    const prefix = config.topicPrefix ?? localPrefix;
    this.stateTopic = `${prefix}/$state`;
    const options: IClientOptions = {
      clientId: config.clientId ?? `gw-${site}`,
      protocolVersion: 4,
      clean: true,
      keepalive: config.keepaliveS,
      reconnectPeriod: config.reconnectPeriodMs,
      connectTimeout: 10_000,
      // We queue ourselves, with bounds; mqtt.js's own offline queue has none.
      queueQoSZero: false,
      will: { topic: this.stateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(config.caFile === undefined ? {} : { ca: readFileSync(config.caFile) }),
    };
    this.loading = import('mqtt').then(
      ({ connect }) => {
        if (this.closed) return;
        const client = connect(config.url, options);
        this.client = client;
        client.on('connect', () => {
          this.lastError = null;
          this.log.info({ url: config.url }, 'MQTT bridge connected');
          client.publish(this.stateTopic, 'online', { qos: 1, retain: true });
          this.drain();
        });
        client.on('error', (err) => {
          const e = new GatewayError('GW_ERR_MQTT_BRIDGE', `MQTT bridge to ${config.url}: ${err.message}`, { cause: err });
          if (this.lastError !== e.message) this.log.warn({ code: e.code, err: err.message }, e.message);
          this.lastError = e.message;
        });
        client.on('offline', () => {
          if (this.lastError === null) this.lastError = `MQTT bridge to ${config.url}: offline`;
        });
      },
      (err: unknown) => {
        const e = new GatewayError('GW_ERR_MQTT_BRIDGE', `MQTT bridge to ${config.url}: the MQTT client library did not load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        this.log.warn({ code: e.code }, e.message);
        this.lastError = e.message;
      },
    );
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** A local topic as the upstream sees it. */
  private upstream(topic: string): string {
    const prefix = this.config.topicPrefix;
    return prefix === undefined ? topic : `${prefix}${topic.slice(this.localPrefix.length)}`;
  }

  /** An event to bridge (dropped when `bridge.events` is off). */
  event(topic: string, payload: Buffer, alarm: boolean): void {
    if (!this.config.events || this.closed) return;
    if (this.connected && this.events.length === 0) {
      this.send(topic, payload, this.config.qos, false);
      this.counters.sentEvents++;
      return;
    }
    if (this.events.length >= this.config.maxQueuedEvents) {
      const i = this.events.findIndex((e) => !e.alarm);
      this.events.splice(i === -1 ? 0 : i, 1);
      this.counters.droppedEvents++;
    }
    this.events.push({ topic, payload, alarm });
  }

  /** A latest value or device state to bridge (dropped when `bridge.telemetry` is off). */
  value(topic: string, payload: Buffer): void {
    if (!this.config.telemetry || this.closed) return;
    if (this.connected && this.values.size === 0) {
      this.send(topic, payload, 0, true);
      this.counters.sentValues++;
      return;
    }
    if (!this.values.has(topic) && this.values.size >= this.config.maxQueuedValues) {
      this.counters.droppedValues++;
      return;
    }
    this.values.delete(topic);
    this.values.set(topic, payload);
  }

  stats(): BridgeStats {
    return { connected: this.connected, queuedEvents: this.events.length, queuedValues: this.values.size, ...this.counters, lastError: this.lastError };
  }

  /** Says `offline` upstream, then disconnects (what is still queued is lost: in memory only). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.loading;
    const client = this.client;
    if (client === undefined) return;
    if (client.connected) {
      await new Promise<void>((r) => client.publish(this.stateTopic, 'offline', { qos: 1, retain: true }, () => r()));
    }
    await client.endAsync(false).catch(() => undefined);
  }

  private send(topic: string, payload: Buffer, qos: 0 | 1, retain: boolean): void {
    this.client!.publish(this.upstream(topic), payload, { qos, retain });
  }

  /** Sends what waited: events first, in order, then the latest values. */
  private drain(): void {
    while (this.connected && this.events.length > 0) {
      const e = this.events.shift()!;
      this.send(e.topic, e.payload, this.config.qos, false);
      this.counters.sentEvents++;
    }
    for (const [topic, payload] of this.values) {
      if (!this.connected) break;
      this.values.delete(topic);
      this.send(topic, payload, 0, true);
      this.counters.sentValues++;
    }
  }
}
