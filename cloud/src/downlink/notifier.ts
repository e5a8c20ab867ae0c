/**
 * Wakes long-polls of the downlink when a change is appended to a gateway's feed. In
 * process only: with several cloud replicas, a change committed by one replica does not
 * wake a poll held by another, so every held poll also re-checks the database every
 * {@link RECHECK_MS} (docs/scaling.md: PostgreSQL LISTEN/NOTIFY would make that instant).
 */

/** How often a held long-poll re-reads the database even without a wake-up, ms. */
export const RECHECK_MS = 1000;

type Waiter = () => void;

export class ChangeNotifier {
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed = false;

  /** Calls `wake` once when `gatewayId` gets a change; returns the unsubscribe function. */
  subscribe(gatewayId: string, wake: Waiter): () => void {
    if (this.closed) {
      wake();
      return () => undefined;
    }
    let set = this.waiters.get(gatewayId);
    if (set === undefined) {
      set = new Set();
      this.waiters.set(gatewayId, set);
    }
    set.add(wake);
    return () => {
      const s = this.waiters.get(gatewayId);
      s?.delete(wake);
      if (s?.size === 0) this.waiters.delete(gatewayId);
    };
  }

  /** After a commit that appended changes for these gateways. */
  notify(gatewayIds: Iterable<string>): void {
    for (const id of gatewayIds) {
      const set = this.waiters.get(id);
      if (set === undefined) continue;
      this.waiters.delete(id);
      for (const wake of set) wake();
    }
  }

  /** True once the cloud is shutting down: polls answer at once. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Number of held polls (for /metrics). */
  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  /** Shutdown: answer every held poll now, and any later one at once. */
  close(): void {
    this.closed = true;
    const all = [...this.waiters.values()];
    this.waiters.clear();
    for (const set of all) for (const wake of set) wake();
  }
}
