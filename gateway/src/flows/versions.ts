/**
 * Versions of the Node-RED flows, kept by the gateway (issue 6: who, when, what changed,
 * and a rollback). One JSON file per version in `<dataDir>/flow-versions/` — `000042.json`
 * holds `{ n, ts, actor, action, sha256, diff, flows }` — written to a temporary file and
 * renamed, so a crash leaves whole versions only. The newest `keep` are kept.
 *
 * The diff is by node id: nodes added, removed and changed (with the keys that changed),
 * named by type and name so that a person can read it.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GatewayError } from '../core/errors.js';

/** A Node-RED node as stored in flows.json. */
export interface FlowNode {
  readonly id: string;
  readonly type: string;
  readonly name?: string;
  readonly z?: string;
  readonly [key: string]: unknown;
}

export interface NodeRef {
  readonly id: string;
  readonly type: string;
  readonly name: string | null;
  /** The tab (flow) the node is on, if any. */
  readonly z: string | null;
}

export interface FlowDiff {
  readonly added: readonly NodeRef[];
  readonly removed: readonly NodeRef[];
  readonly changed: readonly (NodeRef & { readonly keys: readonly string[] })[];
}

export type VersionAction = 'default' | 'deploy' | 'rollback' | 'found';

export interface FlowVersionInfo {
  readonly n: number;
  /** ms epoch. */
  readonly ts: number;
  /** The user who deployed (editor login), or `steward` for the gateway's own changes. */
  readonly actor: string;
  readonly action: VersionAction;
  /** For a rollback: the version restored. */
  readonly restored?: number;
  readonly sha256: string;
  readonly nodes: number;
  readonly diff: FlowDiff;
}

export interface FlowVersion extends FlowVersionInfo {
  readonly flows: readonly FlowNode[];
}

/** Throws GW_ERR_FLOWS_INVALID unless `flows` is an array of nodes with id and type. */
export function asFlows(flows: unknown, what: string): FlowNode[] {
  if (!Array.isArray(flows) || !flows.every((n) => typeof n === 'object' && n !== null && typeof (n as FlowNode).id === 'string' && typeof (n as FlowNode).type === 'string')) {
    throw new GatewayError('GW_ERR_FLOWS_INVALID', `${what} is not a JSON array of Node-RED nodes (each with an id and a type)`);
  }
  return flows as FlowNode[];
}

export function flowsSha(flows: readonly FlowNode[]): string {
  return createHash('sha256').update(JSON.stringify(flows)).digest('hex');
}

const ref = (n: FlowNode): NodeRef => ({ id: n.id, type: n.type, name: typeof n.name === 'string' && n.name !== '' ? n.name : typeof n.label === 'string' ? n.label : null, z: n.z ?? null });

/** What changed from `before` to `after`, by node id. */
export function diffFlows(before: readonly FlowNode[], after: readonly FlowNode[]): FlowDiff {
  const old = new Map(before.map((n) => [n.id, n]));
  const now = new Map(after.map((n) => [n.id, n]));
  const added = after.filter((n) => !old.has(n.id)).map(ref);
  const removed = before.filter((n) => !now.has(n.id)).map(ref);
  const changed: (NodeRef & { keys: string[] })[] = [];
  for (const n of after) {
    const o = old.get(n.id);
    if (o === undefined) continue;
    const keys = [...new Set([...Object.keys(o), ...Object.keys(n)])].filter((k) => JSON.stringify(o[k]) !== JSON.stringify(n[k])).sort();
    if (keys.length > 0) changed.push({ ...ref(n), keys });
  }
  return { added, removed, changed };
}

export class FlowVersions {
  private readonly dir: string;

  constructor(
    dataDir: string,
    private readonly keep = 100,
  ) {
    this.dir = path.join(dataDir, 'flow-versions');
    mkdirSync(this.dir, { recursive: true });
  }

  private numbers(): number[] {
    return readdirSync(this.dir)
      .map((f) => /^(\d{6,})\.json$/.exec(f)?.[1])
      .filter((m): m is string => m !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  private file(n: number): string {
    return path.join(this.dir, `${String(n).padStart(6, '0')}.json`);
  }

  /** Every kept version, newest first, without the flows. */
  list(): FlowVersionInfo[] {
    return this.numbers()
      .reverse()
      .map((n) => {
        const { flows: _f, ...info } = this.get(n);
        return info;
      });
  }

  /** The number of the newest version, 0 when none (cheap: /metrics asks at each scrape). */
  head(): number {
    return this.numbers().at(-1) ?? 0;
  }

  latest(): FlowVersion | undefined {
    const n = this.numbers().at(-1);
    return n === undefined ? undefined : this.get(n);
  }

  get(n: number): FlowVersion {
    try {
      return JSON.parse(readFileSync(this.file(n), 'utf8')) as FlowVersion;
    } catch (cause) {
      throw new GatewayError('GW_ERR_FLOWS_VERSION_NOT_FOUND', `no flow version ${n} is kept (GET /api/v1/flows/versions lists them)`, { cause });
    }
  }

  /**
   * Records `flows` as a new version unless they equal the newest; returns the new
   * version, or undefined when nothing changed.
   */
  record(flows: readonly FlowNode[], actor: string, action: VersionAction, ts = Date.now(), restored?: number): FlowVersion | undefined {
    const sha256 = flowsSha(flows);
    const prev = this.latest();
    if (prev !== undefined && prev.sha256 === sha256 && action !== 'rollback') return undefined;
    const n = (prev?.n ?? 0) + 1;
    const version: FlowVersion = { n, ts, actor, action, ...(restored === undefined ? {} : { restored }), sha256, nodes: flows.length, diff: diffFlows(prev?.flows ?? [], flows), flows };
    const tmp = `${this.file(n)}.tmp`;
    writeFileSync(tmp, JSON.stringify(version));
    renameSync(tmp, this.file(n));
    for (const old of this.numbers().slice(0, -this.keep)) rmSync(this.file(old), { force: true });
    return version;
  }
}
