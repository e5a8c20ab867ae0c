/**
 * A small TCP proxy for failure tests, between the gateway's uplink and the cloud, on
 * 127.0.0.1 (an ephemeral port). Modes:
 *
 * - `pass`: bytes flow both ways;
 * - `blackhole`: connections are accepted and what they send is swallowed, nothing is
 *   forwarded and nothing answers — a cut link whose packets vanish, so the client only
 *   learns by its own timeout;
 * - `refuse`: connections are reset as soon as they are accepted.
 *
 * Changing the mode cuts every open connection (a link flap): a keep-alive connection
 * from before a partition must not carry traffic across it.
 *
 * `dropAnswers(n)` loses the next n answers to matching requests (default: uplink
 * batches): the request reaches the cloud, and when the cloud's answer starts — it
 * answers only after its transaction committed — both sides are closed without a byte of
 * it reaching the client.
 */
import { createServer, Socket, type Server } from 'node:net';

export type ProxyMode = 'pass' | 'blackhole' | 'refuse';

/** Request lines look like `POST /v1/gateways/gw-1/batches HTTP/1.1`. */
const REQUEST_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP\/1\.[01]\r\n/;

export class TcpProxy {
  /** Counters the tests assert on. */
  readonly counters = { connections: 0, requests: 0, answersDropped: 0, blackholed: 0, refused: 0 };
  /** Called with each request line forwarded in `pass` mode (`POST /v1/…/batches`). */
  onRequest: ((method: string, url: string) => void) | undefined;
  private mode: ProxyMode = 'pass';
  private drops = 0;
  private dropMatch: RegExp = /\/batches$/;
  private readonly open = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly upstreamPort: number,
  ) {}

  /** Listens on 127.0.0.1 (a free port) and forwards to 127.0.0.1:upstreamPort. */
  static async start(upstreamPort: number): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const proxy = new TcpProxy(server, (server.address() as { port: number }).port, upstreamPort);
    server.on('connection', (socket) => proxy.accept(socket));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Switches mode, cutting every open connection. */
  setMode(mode: ProxyMode): void {
    this.mode = mode;
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  /** Loses the answers to the next `n` requests whose URL matches `match` (after the cloud has handled them). */
  dropAnswers(n: number, match: RegExp = /\/batches$/): void {
    this.drops = n;
    this.dropMatch = match;
  }

  async close(): Promise<void> {
    this.setMode('refuse');
    await new Promise((r) => this.server.close(r));
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.on('close', () => this.open.delete(s));
    // A reset from either side is expected here; it must not become an uncaught error.
    s.on('error', () => s.destroy());
  }

  private accept(client: Socket): void {
    this.counters.connections++;
    if (this.mode === 'refuse') {
      this.counters.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.track(client);
    if (this.mode === 'blackhole') {
      this.counters.blackholed++;
      client.on('data', () => undefined);
      return;
    }
    const upstream = new Socket();
    this.track(upstream);
    upstream.connect(this.upstreamPort, '127.0.0.1');
    // True while the answer to the request in flight on this connection is to be lost.
    let dropThis = false;
    client.on('data', (chunk: Buffer) => {
      const m = REQUEST_LINE.exec(chunk.subarray(0, 512).toString('latin1'));
      if (m !== null) {
        this.counters.requests++;
        const [, method, url] = m as unknown as [string, string, string];
        if (this.drops > 0 && this.dropMatch.test(url)) {
          this.drops--;
          dropThis = true;
        }
        this.onRequest?.(method, url);
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dropThis) {
        this.counters.answersDropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
