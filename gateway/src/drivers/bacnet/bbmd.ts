/**
 * Foreign-device registration (ASHRAE 135 Annex J.5.2, J.4.2): a gateway on another IP
 * subnet than its devices registers with a BBMD on theirs, so that its Who-Is can be
 * distributed there (Distribute-Broadcast-To-Network, J.2.11) and the broadcasts of that
 * subnet (I-Am) reach it as Forwarded-NPDUs.
 *
 * One registration per (local socket, BBMD, TTL), shared by the devices configured with
 * it and ref-counted like the socket. Registered through @bacnet-js/client's
 * registerForeignDevice (which waits for the BVLC-Result), under our own timeout, and
 * registered again at 80 % of the TTL — before the BBMD's entry ends (it keeps it for the
 * TTL plus a 30 s grace period, J.5.2.3). A refusal (a BVLC-Result NAK) or no answer is
 * logged and retried after at most 30 s; requests to devices are unicast and go on
 * regardless (only broadcasts need the registration).
 */
import { GatewayError, isGatewayError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { BacnetClient } from './link.js';

/** J.5.2.1 BVLC-Result codes, as the library reports a NAK (class communication, code register-foreign-device-failed, Result:n). */
const NAK = /Result:(\d+)/;
const RETRY_MAX_MS = 30_000;

export interface BbmdSettings {
  readonly host: string;
  readonly port: number;
  readonly ttlS: number;
}

export class ForeignDeviceRegistration {
  refs = 0;
  /** Whether the last registration was acknowledged by the BBMD. */
  registered = false;
  /** Registrations acknowledged so far. */
  acknowledged = 0;
  lastError: GatewayError | undefined;
  readonly address: string;
  private timer: NodeJS.Timeout | undefined;
  private attempt: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly client: () => BacnetClient | undefined,
    readonly settings: BbmdSettings,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    this.address = `${settings.host}:${settings.port}`;
  }

  /** Registers now (concurrent callers share the attempt); resolves whether it succeeded or not. */
  register(): Promise<void> {
    this.attempt ??= this.doRegister().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async doRegister(): Promise<void> {
    const client = this.client();
    if (client === undefined || this.stopped) return;
    const { ttlS } = this.settings;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.registerForeignDevice({ address: this.address }, ttlS),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new GatewayError('GW_ERR_BACNET_TIMEOUT', `Register-Foreign-Device with the BBMD ${this.address}: no BVLC-Result within ${this.timeoutMs} ms`, { details: { timeoutMs: this.timeoutMs } })), this.timeoutMs);
        }),
      ]);
      if (!this.registered) this.log.info({ bbmd: this.address, ttlS }, 'registered as a foreign device with the BBMD');
      this.registered = true;
      this.acknowledged++;
      this.lastError = undefined;
      this.schedule(ttlS * 800);
    } catch (err) {
      const error = isGatewayError(err) ? err : this.refused(err);
      if (this.registered || this.lastError?.message !== error.message) this.log.warn({ bbmd: this.address, err: error.message }, 'foreign-device registration failed; retrying');
      this.registered = false;
      this.lastError = error;
      this.schedule(Math.min(RETRY_MAX_MS, ttlS * 800));
    } finally {
      clearTimeout(timer);
    }
  }

  private refused(err: unknown): GatewayError {
    const message = err instanceof Error ? err.message : String(err);
    const nak = NAK.exec(message);
    if (nak !== null) {
      const code = Number(nak[1]);
      return new GatewayError('GW_ERR_BACNET_ERROR', `the BBMD ${this.address} refused the foreign-device registration (BVLC-Result 0x${code.toString(16).padStart(4, '0')})`, {
        details: { errorClass: 'communication', errorCode: 'register-foreign-device-failed', bvlcResult: code },
      });
    }
    return new GatewayError('GW_ERR_BACNET_SOCKET', `Register-Foreign-Device with the BBMD ${this.address}: ${message}`, { cause: err });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.register(), Math.max(100, ms));
    this.timer.unref();
  }

  /** Stops re-registering. The BBMD forgets the entry when its TTL (+30 s) ends. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
