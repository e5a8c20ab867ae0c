/**
 * The database plugin: opens and migrates the cloud database at registration, exposes it
 * as `app.stewardDb`, and closes it when the app closes.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { openCloudDatabase, type CloudDatabase } from '../db/open.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The cloud database (Kysely, SQLite or PostgreSQL), migrated. */
    stewardDb: CloudDatabase;
  }
}

export interface DbPluginOptions {
  /** A SQLite file path, `:memory:`, or a `postgres://` URL (optionally `?schema=NAME`). */
  database: string;
}

async function dbPlugin(app: FastifyInstance, opts: DbPluginOptions): Promise<void> {
  const cdb = await openCloudDatabase(opts.database);
  app.decorate('stewardDb', cdb);
  app.addHook('onClose', async () => cdb.close());
  app.log.info({ database: cdb.location, dialect: cdb.dialect }, 'database ready');
}

export default fp(dbPlugin, { name: 'steward-db', fastify: '5.x', dependencies: ['steward-errors'] });
