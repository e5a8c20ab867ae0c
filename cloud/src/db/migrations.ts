/**
 * Schema migrations, in order, run by Kysely's Migrator at start (its `kysely_migration`
 * table records what ran; its lock table keeps two cloud instances from migrating at once).
 * Written once for both dialects with Kysely's schema builder; the only dialect-specific
 * choice is passed in. Add a new entry for every change; never edit a shipped one.
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** `bigint` is an 8-byte integer in PostgreSQL; in SQLite every INTEGER is already 8 bytes. */
const BIG = 'bigint';

function initial(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('sites')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('gateways')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull().references('sites.id'))
        .addColumn('secret_hash', 'text')
        .addColumn('enrol_token_hash', 'text')
        .addColumn('enrol_expires_at', BIG)
        .addColumn('enrolled_at', BIG)
        .addColumn('last_seen_at', BIG)
        .addColumn('clock_offset_ms', BIG)
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();
      // Read API calls authenticated with a gateway secret find the gateway by the hash.
      await db.schema.createIndex('gateways_secret_hash').unique().on('gateways').column('secret_hash').execute();
      await db.schema.createIndex('gateways_site').on('gateways').column('site_id').execute();

      await db.schema
        .createTable('lane_marks')
        .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
        .addColumn('lane', 'integer', (c) => c.notNull())
        .addColumn('acked_seq', BIG, (c) => c.notNull())
        .addPrimaryKeyConstraint('lane_marks_pk', ['gateway_id', 'lane'])
        .execute();

      await db.schema
        .createTable('items')
        .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
        .addColumn('lane', 'integer', (c) => c.notNull())
        .addColumn('seq', BIG, (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ts', BIG, (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('received_at', BIG, (c) => c.notNull())
        .addPrimaryKeyConstraint('items_pk', ['gateway_id', 'lane', 'seq'])
        .execute();

      await db.schema
        .createTable('events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('gateway_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text')
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('ts', BIG, (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('received_at', BIG, (c) => c.notNull())
        .execute();
      // The read API pages events by (ts, id), per site or across sites.
      await db.schema.createIndex('events_site_ts').on('events').columns(['site_id', 'ts', 'id']).execute();
      await db.schema.createIndex('events_ts').on('events').columns(['ts', 'id']).execute();

      await db.schema
        .createTable('latest_readings')
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('point_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text', (c) => c.notNull())
        .addColumn('point', 'text', (c) => c.notNull())
        .addColumn('value_json', 'text', (c) => c.notNull())
        .addColumn('quality', 'text', (c) => c.notNull())
        .addColumn('ts', BIG, (c) => c.notNull())
        .addColumn('gateway_id', 'text', (c) => c.notNull())
        .addColumn('received_at', BIG, (c) => c.notNull())
        .addPrimaryKeyConstraint('latest_readings_pk', ['site_id', 'point_id'])
        .execute();
      await db.schema.createIndex('latest_readings_device').on('latest_readings').columns(['site_id', 'device_id']).execute();

      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('sessions')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('created_at', BIG, (c) => c.notNull())
        .addColumn('expires_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();
    },
  };
}

/** The migrations of a dialect, keyed so that their names sort in the order they run. */
export function migrations(_dialect: Dialect): Record<string, Migration> {
  return { '0001-initial': initial() };
}

/** A Kysely MigrationProvider over the list above (no files read at run time). */
export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
