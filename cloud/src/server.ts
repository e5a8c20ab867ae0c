/** `startCloud`: build the cloud and listen on HTTP. */
import type { FastifyInstance } from 'fastify';
import { buildCloud } from './app.js';

export interface StartCloudOptions {
  /** Interface to bind; default 127.0.0.1 (put a TLS-terminating proxy in front for anything else). */
  host?: string;
  /** TCP port; default 8090; 0 picks a free one (read it from `url`). */
  port?: number;
  /** A SQLite file path, `:memory:`, or a `postgres://…` URL. */
  database: string;
  /** fastify's logger option; default false. */
  logger?: boolean | object;
}

export interface RunningCloud {
  /** Base URL, e.g. `http://127.0.0.1:8090`. */
  url: string;
  app: FastifyInstance;
  /** Stops listening, lets in-flight requests finish, closes the database. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8090;

/** Builds the cloud (database opened and migrated) and listens. */
export async function startCloud(opts: StartCloudOptions): Promise<RunningCloud> {
  const app = await buildCloud({ database: opts.database, ...(opts.logger === undefined ? {} : { logger: opts.logger }) });
  const host = opts.host ?? DEFAULT_HOST;
  try {
    await app.listen({ host, port: opts.port ?? DEFAULT_PORT });
  } catch (err) {
    await app.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : (opts.port ?? DEFAULT_PORT);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    app,
    close() {
      closing ??= app.close();
      return closing;
    },
  };
}
