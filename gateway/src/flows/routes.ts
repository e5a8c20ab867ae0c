/**
 * The gateway API's flow routes (docs/node-red.md):
 *
 * - `GET /api/v1/flows/status` — Node-RED's process: state, pid, restarts, editor URL.
 * - `GET /api/v1/flows/versions` — the kept versions, newest first: who, when, what changed
 *   (technician or above).
 * - `GET /api/v1/flows/versions/:n` — one version with its flows (technician or above).
 * - `POST /api/v1/flows/versions/:n/rollback` — puts version n back and restarts Node-RED
 *   on it; a new version records the rollback, the audit log who did it (technician or above).
 *
 * The login check is the API's own, handed in by main.ts (flows/ imports only core/).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { GatewayError } from '../core/errors.js';
import type { NodeRedRuntime } from './node-red.js';
import type { FlowVersion } from './versions.js';

type Role = 'viewer' | 'operator' | 'technician' | 'admin';

export interface FlowRoutesContext {
  /** Undefined when gateway.nodeRed.enabled is false. */
  readonly nodeRed: NodeRedRuntime | undefined;
  /** Records a rollback in the audit log. */
  audit(entry: { actor: string; action: string; target: string; detail: Record<string, unknown>; result: 'ok' | 'refused' | 'failed' }): void;
}

const Params = Type.Object({ n: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

/** The API's login check: the session, or a 401/403 GatewayError. */
export type Authorize = (req: FastifyRequest, role: Role) => { readonly name: string };

/** The routes, for buildApi's `routes` (registered before the API is ready). */
export function flowRoutes(ctx: FlowRoutesContext) {
  return async (app: FastifyInstance, authorize: Authorize): Promise<void> => {
    const runtime = (): NodeRedRuntime => {
      if (ctx.nodeRed === undefined) throw new GatewayError('GW_ERR_FLOWS_DISABLED', 'Node-RED is not enabled on this gateway: set gateway.nodeRed.enabled: true in site.yaml');
      return ctx.nodeRed;
    };

    app.get('/api/v1/flows/status', async () => {
      if (ctx.nodeRed === undefined) return { enabled: false };
      const head = ctx.nodeRed.versions.head();
      return { ...ctx.nodeRed.status(), version: head === 0 ? null : head };
    });

    app.get('/api/v1/flows/versions', async (req) => {
      authorize(req, 'technician');
      return runtime().versions.list();
    });

    app.get('/api/v1/flows/versions/:n', { schema: { params: Params } }, async (req) => {
      authorize(req, 'technician');
      return runtime().versions.get((req.params as { n: number }).n);
    });

    app.post('/api/v1/flows/versions/:n/rollback', { schema: { params: Params } }, async (req) => {
      const session = authorize(req, 'technician');
      const { n } = req.params as { n: number };
      const nr = runtime();
      let v: FlowVersion;
      try {
        v = await nr.rollback(n, session.name);
      } catch (err) {
        ctx.audit({ actor: session.name, action: 'flows.rollback', target: `flows@${n}`, detail: { error: err instanceof Error ? err.message : String(err) }, result: err instanceof GatewayError && err.kind !== 'communication' ? 'refused' : 'failed' });
        throw err;
      }
      ctx.audit({ actor: session.name, action: 'flows.rollback', target: `flows@${n}`, detail: { version: v.n, restored: n, sha256: v.sha256 }, result: 'ok' });
      const { flows: _f, ...info } = v;
      return { ok: true, ...info };
    });
  };
}
