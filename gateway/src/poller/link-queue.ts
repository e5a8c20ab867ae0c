/**
 * One request at a time per physical link (a TCP socket, a serial bus): Modbus TCP
 * devices often serve one transaction at a time, and an RTU bus is half-duplex
 * (Modbus over Serial Line §2.5.1.1), so requests to devices sharing a link are queued
 * here; devices on different links run concurrently.
 */

export class LinkQueue {
  private tail: Promise<unknown> = Promise.resolve();
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

  /** Runs `task` after every task queued before it has settled. */
  run<T>(task: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(task);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.tail = this.gapMs > 0 ? settled.then(() => new Promise((r) => setTimeout(r, this.gapMs))) : settled;
    return result.finally(() => {
      this.waiting--;
    });
  }
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
