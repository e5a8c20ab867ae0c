/**
 * One request at a time per physical link (a TCP socket, a serial bus): Modbus TCP
 * devices often serve one transaction at a time, and an RTU bus is half-duplex
 * (Modbus over Serial Line §2.5.1.1), so requests to devices sharing a link are queued
 * here; devices on different links run concurrently.
 *
 * A plain FIFO of waiting tasks, not a chain of promises: on an idle link a task starts
 * at once, and the next one starts when the last settles — the poller hands every request
 * of a site through here, so a request costs one promise (the caller's), not four.
 */

export class LinkQueue {
  /** Tasks waiting for the link, oldest first. */
  private readonly queue: (() => void)[] = [];
  /** A task is running (or the gap after it is being kept). */
  private busy = false;
  private waiting = 0;

  constructor(
    readonly key: string,
    /** Silence kept between two requests on this link (e.g. RTU's 3.5 character times), ms. */
    private readonly gapMs = 0,
  ) {}

  /** Requests queued or running on this link. */
  get depth(): number {
    return this.waiting;
  }

  /** Runs `task` after every task queued before it has settled (and the link's gap after it). */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.waiting++;
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        let pending: Promise<T>;
        try {
          pending = task();
        } catch (err) {
          pending = Promise.reject(err);
        }
        pending.then(
          (value) => {
            this.settled();
            resolve(value);
          },
          (err: unknown) => {
            this.settled();
            reject(err);
          },
        );
      };
      if (this.busy) this.queue.push(start);
      else {
        this.busy = true;
        start();
      }
    });
  }

  /** The running task settled: after the gap, the next one starts (or the link is idle). */
  private settled(): void {
    this.waiting--;
    if (this.gapMs > 0) setTimeout(this.next, this.gapMs);
    else this.next();
  }

  private readonly next = (): void => {
    const start = this.queue.shift();
    if (start === undefined) this.busy = false;
    else start();
  };
}

/** The queues of all links, created on first use. */
export class LinkQueues {
  private readonly queues = new Map<string, LinkQueue>();

  get(key: string, gapMs = 0): LinkQueue {
    let q = this.queues.get(key);
    if (q === undefined) this.queues.set(key, (q = new LinkQueue(key, gapMs)));
    return q;
  }
}
