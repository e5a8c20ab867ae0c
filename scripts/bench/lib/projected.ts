/**
 * Waiting, from outside the cloud process, until its roll-up projector (cloud/src/sync/
 * projector.ts) has caught up with everything acknowledged: the ingest, drain and
 * cloud-load benchmarks time both the acknowledgement and the projection.
 * In lib/ so that bench/run.ts does not list it as a benchmark.
 */
import { openCloudDatabase, type CloudDatabase } from '../../../cloud/src/index.js';
import { RollupProjector } from '../../../cloud/src/sync/projector.js';

/** A read-only look at a cloud database's projection lag (the projector here never runs). */
export interface ProjectionWatch {
  /** Resolves when nothing acknowledged is left unprojected; polls every 50 ms. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

export async function watchProjection(database: string): Promise<ProjectionWatch> {
  const cdb: CloudDatabase = await openCloudDatabase(database);
  const probe = new RollupProjector(cdb);
  return {
    async caughtUp() {
      for (;;) {
        if ((await probe.status()).lagGateways === 0) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => cdb.close(),
  };
}
