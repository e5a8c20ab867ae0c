/**
 * COV subscriptions of one device (ASHRAE 135 §13.1 change-of-value reporting,
 * §13.14 SubscribeCOV): one subscription per object that has a `cov: true` point,
 * unconfirmed notifications (§13.7: nothing to acknowledge, nothing for the device to
 * retry against a gateway that is busy or gone), a finite lifetime (`covLifetimeS`) so a
 * gateway that vanishes leaves no subscription behind, renewed at 80 % of it (§13.14.1.1.4:
 * a SubscribeCOV with the same process id and object replaces the subscription).
 *
 * A renewal that fails (refused, or the device is silent) reports the points `lost` to the
 * sink, which polls them until the poller subscribes again. An I-Am from the device while
 * subscribed renews at once: devices announce themselves with I-Am when they start
 * (§16.10), and a restart forgets subscriptions.
 */
import type { Logger } from '../../core/logger.js';
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { DriverSink } from '../driver.js';
import type { BacnetLink, CovNotification, IAm } from './link.js';
import { objectLabel, type ObjectTypeName } from './names.js';
import { toRaw } from './values.js';

const PRESENT_VALUE = 85;
/** Renew at this fraction of the lifetime. */
const RENEW_AT = 0.8;

export interface CovTarget {
  /** `host:port` of the device, as the link names senders. */
  readonly address: string;
  readonly deviceInstance: number;
  readonly timeoutMs: number;
  readonly lifetimeS: number;
}

/** A `cov: true` point and its object. */
export interface CovPoint {
  readonly name: string;
  readonly typeName: ObjectTypeName;
  readonly type: number;
  readonly instance: number;
}

interface Subscription {
  readonly type: number;
  readonly instance: number;
  readonly typeName: ObjectTypeName;
  readonly label: string;
  readonly processId: number;
  points: string[];
}

export class CovSubscriptions {
  private readonly subs = new Map<string, Subscription>();
  private sink: DriverSink | undefined;
  private timer: NodeJS.Timeout | undefined;
  private offIAm: (() => void) | undefined;
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly link: BacnetLink,
    private readonly target: CovTarget,
    private readonly log: Logger,
  ) {}

  /** The objects currently subscribed (for tests and status). */
  get active(): readonly string[] {
    return [...this.subs.keys()];
  }

  /**
   * Subscribes every object of `points` (replacing what was subscribed before) and
   * resolves with the names of the points now pushed. A refusal (Error/Reject) leaves an
   * object's points out; a timeout rejects, as for any request to a silent device.
   */
  async subscribe(points: readonly CovPoint[], sink: DriverSink): Promise<string[]> {
    this.closed = false;
    this.sink = sink;
    this.offIAm ??= this.link.onIAm((i) => this.onIAm(i));
    const wanted = new Map<string, CovPoint[]>();
    for (const p of points) {
      const label = objectLabel(p.type, p.instance);
      wanted.set(label, [...(wanted.get(label) ?? []), p]);
    }
    for (const [label, sub] of [...this.subs]) {
      if (!wanted.has(label)) await this.cancel(sub);
    }
    const pushed: string[] = [];
    for (const [label, group] of wanted) {
      const first = group[0]!;
      const existing = this.subs.get(label);
      const processId = existing?.processId ?? this.link.registerCov((n) => this.onNotification(n));
      const sub: Subscription = { type: first.type, instance: first.instance, typeName: first.typeName, label, processId, points: group.map((p) => p.name) };
      try {
        await this.send(sub, false);
        this.subs.set(label, sub);
        pushed.push(...sub.points);
      } catch (err) {
        this.subs.delete(label);
        this.link.unregisterCov(processId);
        if (!isGatewayError(err) || err.kind === 'timeout' || err.code === 'GW_ERR_BACNET_SOCKET') throw err;
        this.log.warn({ object: label, err: err.message }, 'COV subscription refused: the points are polled');
      }
    }
    this.schedule();
    return pushed;
  }

  private send(sub: Subscription, cancel: boolean, timeoutMs = this.target.timeoutMs): Promise<void> {
    const what = `${cancel ? 'cancel ' : ''}SubscribeCOV ${sub.label} of device ${this.target.deviceInstance}`;
    return this.link.request(what, timeoutMs, (client, invokeId) =>
      client.subscribeCov({ address: this.target.address }, { type: sub.type, instance: sub.instance }, sub.processId, cancel, false, cancel ? 0 : this.target.lifetimeS, { invokeId }),
    );
  }

  private onNotification(n: CovNotification): void {
    if (n.sender !== this.target.address || n.initiatingDevice !== this.target.deviceInstance) return;
    const sub = this.subs.get(objectLabel(n.object.type, n.object.instance));
    if (sub === undefined || this.sink === undefined) return;
    const pv = n.values.find((v) => v.property.id === PRESENT_VALUE);
    if (pv === undefined) return;
    const raw = toRaw(pv.value, sub.typeName, sub.type, sub.instance, PRESENT_VALUE);
    if (raw instanceof Error) {
      this.log.debug({ object: sub.label, err: raw.message }, 'COV notification without a usable value');
      return;
    }
    const ts = Date.now();
    for (const name of sub.points) this.sink.value(name, raw, ts);
  }

  private onIAm(i: IAm): void {
    if (i.sender !== this.target.address || i.deviceId !== this.target.deviceInstance || this.subs.size === 0 || this.closed) return;
    this.log.info({ device: this.target.deviceInstance }, 'device announced itself (restart?): renewing COV subscriptions');
    void this.renew();
  }

  private schedule(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.subs.size === 0 || this.closed) return;
    this.timer = setTimeout(() => void this.renew(), this.target.lifetimeS * 1000 * RENEW_AT);
    this.timer.unref();
  }

  /** Renews every subscription now; those that fail are reported lost. */
  renew(): Promise<void> {
    this.renewing ??= this.doRenew().finally(() => {
      this.renewing = undefined;
      this.schedule();
    });
    return this.renewing;
  }

  private async doRenew(): Promise<void> {
    const lost: string[] = [];
    let reason: unknown;
    for (const sub of [...this.subs.values()]) {
      if (this.closed) return;
      try {
        await this.send(sub, false);
      } catch (err) {
        reason ??= err;
        this.subs.delete(sub.label);
        this.link.unregisterCov(sub.processId);
        lost.push(...sub.points);
      }
    }
    if (lost.length > 0 && !this.closed) {
      const message = reason instanceof Error ? reason.message : String(reason);
      this.sink?.lost(lost, new GatewayError('GW_ERR_BACNET_COV', `COV subscription of device ${this.target.deviceInstance} could not be renewed: ${message}`, { cause: reason }));
    }
  }

  private async cancel(sub: Subscription): Promise<void> {
    this.subs.delete(sub.label);
    this.link.unregisterCov(sub.processId);
    // §13.14.1.1: a SubscribeCOV without lifetime and confirmation flag cancels. Best effort.
    if (this.link.open) await this.send(sub, true, Math.min(this.target.timeoutMs, 1000)).catch(() => undefined);
  }

  /** Cancels every subscription (best effort) and stops renewing. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.offIAm?.();
    this.offIAm = undefined;
    await Promise.all([...this.subs.values()].map((sub) => this.cancel(sub)));
  }
}
