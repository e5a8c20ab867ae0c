/**
 * The roll-up projector as part of the app: `app.stewardProjector`, kicked by the uplink
 * route after each commit and once when the app is ready (what an earlier process
 * acknowledged but had not projected), closed before the database.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { RollupProjector } from './projector.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Projects acknowledged roll-up items into `rollups`; `await app.stewardProjector.flush()` to see all of them. */
    stewardProjector: RollupProjector;
  }
}

async function projectorPlugin(app: FastifyInstance): Promise<void> {
  const projector = new RollupProjector(app.stewardDb, { onError: (err) => app.log.error({ err }, 'roll-up projection failed; retrying') });
  app.decorate('stewardProjector', projector);
  app.addHook('onReady', async () => projector.kick());
  app.addHook('preClose', async () => projector.close());
}

export default fp(projectorPlugin, { name: 'steward-projector', fastify: '5.x', dependencies: ['steward-db'] });
