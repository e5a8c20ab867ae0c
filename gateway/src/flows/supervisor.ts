/**
 * Runs Node-RED as a supervised child process (DESIGN.md "Node-RED, MQTT"; issue 6): a
 * runaway flow, a leak or a crash in Node-RED costs Node-RED alone, never the gateway's
 * polling, which lives in another process and event loop.
 *
 * - Started with `node --max-old-space-size=N red.js --settings … --userDir …` and an IPC
 *   channel, at a lower CPU priority than the gateway (nice 10) on a small box.
 * - Restarted when it dies, after restartMinMs, doubling up to restartMaxMs; the wait goes
 *   back to the minimum once a life has lasted stableMs.
 * - A watchdog: the settings file sends a heartbeat every heartbeatMs; a running Node-RED
 *   silent for watchdogMs (an event loop stuck in a synchronous loop) is killed and
 *   restarted, and so is one whose flows have not started within startTimeoutMs.
 * - Its logs arrive over IPC as records and go to the gateway's pino logger (child
 *   `part: node-red`); anything on its stdout/stderr (a crash's stack) too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { GatewayError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export type NodeRedState = 'stopped' | 'starting' | 'running' | 'backoff';

/** What GET /api/v1/flows/status and /metrics show of Node-RED. */
export interface NodeRedStatus {
  readonly enabled: true;
  readonly state: NodeRedState;
  readonly url: string;
  readonly pid: number | null;
  /** When the current life began (ms epoch), null when none. */
  readonly since: number | null;
  /** When its flows last started, ms epoch. */
  readonly flowsStartedAt: number | null;
  /** Lives begun since the gateway started (the first counts). */
  readonly starts: number;
  /** Restarts after a death or a watchdog kill. */
  readonly restarts: number;
  readonly watchdogKills: number;
  readonly lastExit: { readonly code: number | null; readonly signal: string | null; readonly at: number } | null;
  readonly lastError: string | null;
  /** When the next start is due while in backoff, ms epoch. */
  readonly nextStartAt: number | null;
}

export interface SupervisorOptions {
  /** node_modules/node-red/red.js. */
  readonly redJs: string;
  readonly settingsFile: string;
  readonly userDir: string;
  /** Environment of the child (the supervisor adds nothing of the gateway's own). */
  readonly env: Readonly<Record<string, string>>;
  readonly url: string;
  readonly log: Logger;
  readonly maxHeapMb?: number;
  readonly restartMinMs?: number;
  readonly restartMaxMs?: number;
  /** A life this long resets the backoff, ms. */
  readonly stableMs?: number;
  /** Silence (no heartbeat, no log) past this kills the running child, ms; 0 turns the watchdog off. */
  readonly watchdogMs?: number;
  /**
   * A child whose flows have not started this long after its spawn is killed, ms. Node-RED
   * loads its modules synchronously (no heartbeat meanwhile): seconds on a busy small box.
   */
  readonly startTimeoutMs?: number;
  /** Niceness of the child (0 = as the gateway); failures to set it are ignored. */
  readonly nice?: number;
}

/** Node-RED's numeric log levels (@node-red/util log.js) → pino's. */
function levelOf(n: number): 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' {
  if (n <= 10) return 'fatal';
  if (n <= 20) return 'error';
  if (n <= 30) return 'warn';
  if (n <= 40) return 'info';
  if (n <= 50) return 'debug';
  return 'trace';
}

/** Warnings Node-RED gives at every start under the gateway: nothing to act on. */
const EXPECTED_WARNINGS = /^(Projects disabled|Encrypted credentials not found|Your flow credentials file is encrypted using a system-generated key)/;

/** A message of the settings file (flows/runtime/settings.cjs). */
export type NodeRedMessage =
  | { type: 'heartbeat'; ts: number }
  | { type: 'flows-started'; ts: number }
  | { type: 'flows-saved'; ts: number; user: string | null; flows: unknown }
  | { type: 'log'; level: number; msg: string; node?: string; nodeType?: string; name?: string };

/** Emits `flows-started`, `exit`, and `flows-saved` ({ ts, user, flows }) for each deploy. */
export class NodeRedSupervisor extends EventEmitter {
  private child: ChildProcess | undefined;
  private state: NodeRedState = 'stopped';
  private since: number | null = null;
  private flowsStartedAt: number | null = null;
  private starts = 0;
  private restarts = 0;
  private watchdogKills = 0;
  private lastExit: NodeRedStatus['lastExit'] = null;
  private lastError: string | null = null;
  private nextStartAt: number | null = null;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastSign = 0;
  private wanted = false;
  private exited: Promise<void> = Promise.resolve();
  private readonly o: Required<Omit<SupervisorOptions, 'log'>> & { log: Logger };

  constructor(options: SupervisorOptions) {
    super();
    this.o = { maxHeapMb: 256, restartMinMs: 1000, restartMaxMs: 60_000, stableMs: 60_000, watchdogMs: 30_000, startTimeoutMs: 120_000, nice: 10, ...options };
  }

  /** Starts Node-RED (returns at once; it comes up in the background). */
  start(): void {
    if (this.wanted) return;
    this.wanted = true;
    this.spawn();
  }

  /** Stops Node-RED: SIGTERM, then SIGKILL after graceMs. Idempotent. */
  async stop(graceMs = 5000): Promise<void> {
    this.wanted = false;
    clearTimeout(this.timer);
    this.nextStartAt = null;
    await this.kill(graceMs);
    this.state = 'stopped';
  }

  /** Stops and starts at once, without backoff (a rollback rewrote the flows file). */
  async restart(): Promise<void> {
    this.wanted = false;
    clearTimeout(this.timer);
    await this.kill(5000);
    this.failures = 0;
    this.wanted = true;
    this.spawn();
  }

  status(): NodeRedStatus {
    return {
      enabled: true,
      state: this.state,
      url: this.o.url,
      pid: this.child?.pid ?? null,
      since: this.since,
      flowsStartedAt: this.flowsStartedAt,
      starts: this.starts,
      restarts: this.restarts,
      watchdogKills: this.watchdogKills,
      lastExit: this.lastExit,
      lastError: this.lastError,
      nextStartAt: this.nextStartAt,
    };
  }

  /** The pid of the running child (tests kill it to see it come back). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  private spawn(): void {
    const log = this.o.log;
    this.nextStartAt = null;
    this.state = 'starting';
    this.flowsStartedAt = null;
    this.starts++;
    const args = [`--max-old-space-size=${this.o.maxHeapMb}`, this.o.redJs, '--settings', this.o.settingsFile, '--userDir', this.o.userDir];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { env: { ...this.o.env }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], windowsHide: true });
    } catch (err) {
      this.onExit(null, null, err instanceof Error ? err.message : String(err));
      return;
    }
    this.child = child;
    this.since = Date.now();
    this.lastSign = Date.now();
    if (child.pid !== undefined && this.o.nice !== 0) {
      try {
        setPriority(child.pid, this.o.nice);
      } catch {
        // Not allowed here: it runs at the gateway's priority.
      }
    }
    log.info({ pid: child.pid, url: this.o.url }, 'node-red starting');
    for (const stream of [child.stdout, child.stderr]) {
      if (stream === null) continue;
      createInterface({ input: stream }).on('line', (line) => {
        if (line.trim() !== '') log.warn({ out: line }, `node-red: ${line}`);
      });
    }
    child.on('message', (m: NodeRedMessage) => this.onMessage(m));
    child.on('error', (err) => {
      this.lastError = err.message;
      log.error({ err }, 'node-red process error');
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        this.onExit(code, signal, null);
        resolve();
      });
    });
    if (this.o.watchdogMs > 0) {
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => this.checkWatchdog(child), Math.min(1000, this.o.watchdogMs / 4));
      this.watchdog.unref();
    }
  }

  private checkWatchdog(child: ChildProcess): void {
    if (this.child !== child || child.exitCode !== null) return;
    const now = Date.now();
    if (this.state !== 'running') {
      // Starting: no heartbeat is expected while Node-RED loads, only its flows in time.
      if (this.since === null || now - this.since < this.o.startTimeoutMs) return;
      this.lastError = `flows not started ${now - this.since} ms after the start: killed`;
      this.o.log.error({ pid: child.pid, ms: now - this.since }, 'node-red did not start its flows in time: killing it');
      child.kill('SIGKILL');
      return;
    }
    const silentMs = now - this.lastSign;
    if (silentMs < this.o.watchdogMs) return;
    this.watchdogKills++;
    this.lastError = `no heartbeat for ${silentMs} ms (a flow blocking its event loop?): killed`;
    this.o.log.error({ pid: child.pid, silentMs }, 'node-red stopped answering: killing it');
    child.kill('SIGKILL');
  }

  private onMessage(m: NodeRedMessage): void {
    this.lastSign = Date.now();
    switch (m.type) {
      case 'heartbeat':
        return;
      case 'flows-started':
        this.state = 'running';
        this.flowsStartedAt = m.ts;
        this.o.log.info({ pid: this.child?.pid, url: this.o.url, ms: this.since === null ? null : m.ts - this.since }, 'node-red flows started');
        this.emit('flows-started');
        return;
      case 'flows-saved':
        this.emit('flows-saved', { ts: m.ts, user: m.user, flows: m.flows });
        return;
      case 'log': {
        const level = levelOf(m.level);
        // Node-RED's info chatter (welcome banner, paths) and the warnings it always gives
        // as the gateway runs it (projects off, no credentials yet) are debug for the gateway.
        const gwLevel = level === 'info' || (level === 'warn' && EXPECTED_WARNINGS.test(m.msg)) ? 'debug' : level;
        this.o.log[gwLevel]({ node: m.node, nodeType: m.nodeType, nodeName: m.name }, `node-red: ${m.msg}`);
        return;
      }
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, error: string | null): void {
    clearInterval(this.watchdog);
    const now = Date.now();
    this.lastExit = { code, signal, at: now };
    this.emit('exit');
    if (!this.wanted) {
      this.state = 'stopped';
      return;
    }
    const lived = this.since === null ? 0 : now - this.since;
    this.failures = lived >= this.o.stableMs ? 1 : this.failures + 1;
    const delay = Math.min(this.o.restartMaxMs, this.o.restartMinMs * 2 ** (this.failures - 1));
    const err = new GatewayError('GW_ERR_FLOWS_START', error ?? `node-red exited (code ${code}, signal ${signal}) after ${lived} ms: restarting in ${delay} ms`, {
      details: { code, signal, livedMs: lived, restartInMs: delay },
    });
    this.lastError = err.message;
    this.o.log.error({ code: err.code, exitCode: code, signal, livedMs: lived, restartInMs: delay }, err.message);
    this.state = 'backoff';
    this.since = null;
    this.nextStartAt = now + delay;
    this.timer = setTimeout(() => {
      if (!this.wanted) return;
      this.restarts++;
      this.spawn();
    }, delay);
  }

  private async kill(graceMs: number): Promise<void> {
    const child = this.child;
    clearInterval(this.watchdog);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = this.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
