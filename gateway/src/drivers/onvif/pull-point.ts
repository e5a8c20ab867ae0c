/**
 * One pull-point subscription and its lifecycle (ONVIF Core §9.1 Event Service, realtime
 * pull-point interface; WS-BaseNotification 1.3 §6 for Renew / Unsubscribe):
 *
 *   CreatePullPointSubscription → loop { Renew when the end is near; PullMessages (long
 *   poll up to pullTimeoutS, at most messageLimit) → messages } → Unsubscribe on close.
 *
 * When a call fails (the device rebooted and forgot the subscription, it expired, a
 * fault, an HTTP error, a timeout), the subscription is created again with exponential
 * backoff; only when that keeps failing is it reported lost. Refused credentials end it
 * at once: retrying cannot help and must not hammer the device.
 */
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { OnvifClient } from './client.js';
import { parseNotifications, type NotificationMessage } from './notifications.js';
import { rebase } from './services.js';
import { addressingHeaders, NS } from './soap.js';
import { at, child, text, type XmlValue } from './xml.js';

const ACTION = {
  pull: 'http://www.onvif.org/ver10/events/wsdl/PullPointSubscription/PullMessagesRequest',
  renew: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/RenewRequest',
  unsubscribe: 'http://docs.oasis-open.org/wsn/bw-2/SubscriptionManager/UnsubscribeRequest',
} as const;

export interface PullPointOptions {
  readonly client: OnvifClient;
  /** Event service address (rebased on the configured URL). */
  readonly eventsUrl: string;
  /** The configured device URL: subscription addresses are rebased on it. */
  readonly base: string;
  readonly pullTimeoutS: number;
  readonly messageLimit: number;
  readonly subscriptionTtlS: number;
  /** Timeout of the calls other than PullMessages (ms). */
  readonly timeoutMs: number;
  /** First wait before re-creating a dropped subscription (ms); doubles each attempt. */
  readonly retryInitialMs: number;
  /** Attempts to re-create before the subscription is reported lost. */
  readonly retryAttempts: number;
  readonly log: Logger;
  readonly onMessages: (messages: NotificationMessage[]) => void;
  /** The subscription is gone for good (auth refused, or re-creation kept failing). */
  readonly onLost: (reason: GatewayError) => void;
}

/** What the subscription did, for logs, metrics and tests. */
export interface PullPointStats {
  created: number;
  renewed: number;
  pulls: number;
  messages: number;
  recreated: number;
}

/** `PT60S` — xs:duration as WS-BaseNotification's relative termination time. */
function duration(s: number): string {
  return `PT${Math.max(1, Math.round(s))}S`;
}

export class PullPointSubscription {
  readonly stats: PullPointStats = { created: 0, renewed: 0, pulls: 0, messages: 0, recreated: 0 };
  private address: string | undefined;
  /** When the device will end the subscription, in our clock (ms epoch). */
  private endsAt = 0;
  private closed = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly o: PullPointOptions) {}

  /** Creates the subscription (rejects when the device refuses) and starts pulling. */
  async start(): Promise<void> {
    await this.create();
    this.loop = this.run();
  }

  /** The device's remaining lifetime of a subscription, from CurrentTime/TerminationTime (its clock on both sides). */
  private noteTermination(response: XmlValue | undefined): void {
    const current = Date.parse(text(child(response, 'CurrentTime')) ?? '');
    const termination = Date.parse(text(child(response, 'TerminationTime')) ?? '');
    const remaining = Number.isFinite(current) && Number.isFinite(termination) ? termination - current : this.o.subscriptionTtlS * 1000;
    this.endsAt = Date.now() + remaining;
  }

  private async create(): Promise<void> {
    const body = await this.o.client.call(
      this.o.eventsUrl,
      'CreatePullPointSubscription',
      `<CreatePullPointSubscription xmlns="${NS.tev}"><InitialTerminationTime>${duration(this.o.subscriptionTtlS)}</InitialTerminationTime></CreatePullPointSubscription>`,
      { timeoutMs: this.o.timeoutMs, signal: this.abort.signal },
    );
    const response = child(body, 'CreatePullPointSubscriptionResponse');
    const address = text(at(response, 'SubscriptionReference', 'Address'));
    if (address === undefined || address === '') throw this.o.client.malformed('CreatePullPointSubscription', this.o.eventsUrl, 'SubscriptionReference/Address');
    this.address = rebase(address, this.o.base);
    this.noteTermination(response);
    this.stats.created++;
    this.o.log.debug({ subscription: this.address, endsInMs: this.endsAt - Date.now() }, 'onvif pull-point subscription created');
  }

  /** Renew when less than half the lifetime, or less than one pull plus a request, is left. */
  private renewDue(now: number): boolean {
    const threshold = Math.max((this.o.subscriptionTtlS * 1000) / 2, this.pullWaitS() * 1000 + this.o.timeoutMs);
    return this.endsAt - now < threshold;
  }

  /** The long-poll wait: pullTimeoutS, but never most of a short lifetime. */
  private pullWaitS(): number {
    return Math.max(1, Math.min(this.o.pullTimeoutS, Math.floor(this.o.subscriptionTtlS / 2)));
  }

  private async renew(): Promise<void> {
    const address = this.address!;
    const body = await this.o.client.call(address, 'Renew', `<Renew xmlns="${NS.wsnt}"><TerminationTime>${duration(this.o.subscriptionTtlS)}</TerminationTime></Renew>`, {
      timeoutMs: this.o.timeoutMs,
      headers: addressingHeaders(ACTION.renew, address),
      signal: this.abort.signal,
    });
    this.noteTermination(child(body, 'RenewResponse'));
    this.stats.renewed++;
  }

  private async pull(): Promise<NotificationMessage[]> {
    const address = this.address!;
    const wait = this.pullWaitS();
    const body = await this.o.client.call(
      address,
      'PullMessages',
      `<PullMessages xmlns="${NS.tev}"><Timeout>${duration(wait)}</Timeout><MessageLimit>${this.o.messageLimit}</MessageLimit></PullMessages>`,
      { timeoutMs: wait * 1000 + this.o.timeoutMs, headers: addressingHeaders(ACTION.pull, address), signal: this.abort.signal },
    );
    const response = child(body, 'PullMessagesResponse');
    if (response === undefined) throw this.o.client.malformed('PullMessages', address, 'PullMessagesResponse');
    // A PullMessagesResponse carries the (possibly extended) termination time too.
    if (child(response, 'TerminationTime') !== undefined) this.noteTermination(response);
    this.stats.pulls++;
    return parseNotifications(response);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const signal = this.abort.signal;
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        if (this.renewDue(Date.now())) await this.renew();
        const started = Date.now();
        const messages = await this.pull();
        if (this.closed) return;
        this.stats.messages += messages.length;
        if (messages.length > 0) this.deliver(messages);
        // A device that ignores the Timeout and answers at once must not be polled in a tight loop.
        else if (Date.now() - started < 100) await this.sleep(1000);
      } catch (err) {
        if (this.closed) return;
        const e = isGatewayError(err) ? err : new GatewayError('GW_ERR_ONVIF_SUBSCRIPTION', `ONVIF event loop failed: ${String(err)}`, { cause: err });
        if (e.kind === 'auth') return this.lose(e);
        this.o.log.warn({ err: e }, 'onvif pull-point subscription dropped: creating it again');
        if (!(await this.recreate())) return;
      }
    }
  }

  /** Hands messages on; a failing consumer must not be taken for a failing subscription. */
  private deliver(messages: NotificationMessage[]): void {
    try {
      this.o.onMessages(messages);
    } catch (err) {
      this.o.log.error({ err }, 'onvif notification handler failed');
    }
  }

  /** Re-creates the subscription with backoff; false (and reported lost) when it cannot. */
  private async recreate(): Promise<boolean> {
    let last: GatewayError | undefined;
    for (let attempt = 0; attempt < this.o.retryAttempts && !this.closed; attempt++) {
      await this.sleep(this.o.retryInitialMs * 2 ** attempt);
      if (this.closed) return false;
      try {
        await this.create();
        this.stats.recreated++;
        this.o.log.info({ attempt: attempt + 1 }, 'onvif pull-point subscription created again');
        return true;
      } catch (err) {
        if (this.closed) return false;
        last = isGatewayError(err) ? err : new GatewayError('GW_ERR_ONVIF_SUBSCRIPTION', String(err), { cause: err });
        if (last.kind === 'auth') {
          this.lose(last);
          return false;
        }
      }
    }
    if (!this.closed) {
      this.lose(
        new GatewayError('GW_ERR_ONVIF_SUBSCRIPTION', `ONVIF pull-point subscription lost and not created again after ${this.o.retryAttempts} attempts: ${last?.message ?? 'closed'}`, {
          ...(last === undefined ? {} : { cause: last }),
        }),
      );
    }
    return false;
  }

  private lose(reason: GatewayError): void {
    this.closed = true;
    this.o.onLost(reason);
  }

  /** Stops pulling (aborting a pending long poll) and unsubscribes, best effort. Idempotent. */
  async close(): Promise<void> {
    const wasOpen = !this.closed;
    this.closed = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    const address = this.address;
    this.address = undefined;
    if (!wasOpen || address === undefined) return;
    try {
      await this.o.client.call(address, 'Unsubscribe', `<Unsubscribe xmlns="${NS.wsnt}"/>`, {
        timeoutMs: Math.min(this.o.timeoutMs, 2000),
        headers: addressingHeaders(ACTION.unsubscribe, address),
      });
    } catch (err) {
      this.o.log.debug({ err }, 'onvif unsubscribe failed (the device ends the subscription at its termination time)');
    }
  }
}
