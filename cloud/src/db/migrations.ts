/**
 * Schema migrations, in order, run by Kysely's Migrator at start (its `kysely_migration`
 * table records what ran; its lock table keeps two cloud instances from migrating at once).
 * Written once for both dialects with Kysely's schema builder; the only dialect-specific
 * choice is passed in. Add a new entry for every change; never edit a shipped one.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';

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

/**
 * Issue 5: tenancy (regions, user scopes), the downlink change feed, work orders and their
 * operation log, alarms, SLA policy and escalations, dispatch (technicians, shifts,
 * assignments), attachments, residents' links and ratings, webhooks and their delivery
 * queue, telemetry roll-ups, and fleet configuration.
 */
function operations(dialect: Dialect): Migration {
  const REAL = 'double precision';
  const BLOB = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('regions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema.alterTable('sites').addColumn('region_id', 'text').execute();
      await db.schema.alterTable('sites').addColumn('lat', REAL).execute();
      await db.schema.alterTable('sites').addColumn('lon', REAL).execute();
      // The roles of issue 5: an `operator` of the first release is a dispatcher now.
      await db.updateTable('users' as never).set({ role: 'dispatcher' } as never).where('role' as never, '=', 'operator' as never).execute();
      await db.schema
        .createTable('user_scopes')
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('scope_kind', 'text', (c) => c.notNull())
        .addColumn('scope_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('user_scopes_pk', ['user_id', 'scope_kind', 'scope_id'])
        .execute();

      await db.schema
        .createTable('downlink')
        .addColumn('gateway_id', 'text', (c) => c.primaryKey().references('gateways.id'))
        .addColumn('last_seq', BIG, (c) => c.notNull())
        .addColumn('cursor', BIG, (c) => c.notNull())
        .addColumn('polled_at', BIG)
        .execute();
      await db.schema
        .createTable('changes')
        .addColumn('gateway_id', 'text', (c) => c.notNull())
        .addColumn('seq', BIG, (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('ts', BIG, (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('changes_pk', ['gateway_id', 'seq'])
        .execute();

      await db.schema
        .createTable('work_orders')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('category', 'text', (c) => c.notNull())
        .addColumn('assignee', 'text')
        .addColumn('device_id', 'text')
        .addColumn('alarm_id', 'text')
        .addColumn('source', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .addColumn('updated_at', BIG, (c) => c.notNull())
        .addColumn('due_at', BIG, (c) => c.notNull())
        .addColumn('response_due_at', BIG, (c) => c.notNull())
        .addColumn('responded_at', BIG)
        .addColumn('resolved_at', BIG)
        .addColumn('closed_at', BIG)
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('state_json', 'text', (c) => c.notNull())
        .addColumn('response_escalated_at', BIG)
        .addColumn('resolve_escalated_at', BIG)
        .addColumn('resident_token_hash', 'text')
        .addColumn('rating', 'integer')
        .addColumn('rating_comment', 'text')
        .addColumn('rated_at', BIG)
        .execute();
      await db.schema.createIndex('work_orders_site_created').on('work_orders').columns(['site_id', 'created_at', 'id']).execute();
      await db.schema.createIndex('work_orders_created').on('work_orders').columns(['created_at', 'id']).execute();
      await db.schema.createIndex('work_orders_assignee').on('work_orders').columns(['assignee', 'status']).execute();
      await db.schema.createIndex('work_orders_status').on('work_orders').columns(['status', 'due_at']).execute();
      await db.schema.createIndex('work_orders_resident').on('work_orders').column('resident_token_hash').execute();

      await db.schema
        .createTable('work_order_ops')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('work_order_id', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text')
        .addColumn('op', 'text', (c) => c.notNull())
        .addColumn('actor', 'text', (c) => c.notNull())
        .addColumn('ts', BIG, (c) => c.notNull())
        .addColumn('data_json', 'text', (c) => c.notNull())
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('reason', 'text')
        .addColumn('version', 'integer')
        .addColumn('gateway_id', 'text')
        .addColumn('explain_json', 'text')
        .addColumn('received_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('work_order_ops_wo').on('work_order_ops').columns(['work_order_id', 'received_at']).execute();

      await db.schema
        .createTable('alarms')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('device_id', 'text')
        .addColumn('rule', 'text', (c) => c.notNull())
        .addColumn('system', 'text')
        .addColumn('severity', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('acked_at', BIG)
        .addColumn('acked_by', 'text')
        .addColumn('raised_at', BIG, (c) => c.notNull())
        .addColumn('cleared_at', BIG)
        .addColumn('shelved_until', BIG)
        .addColumn('raise_count', 'integer', (c) => c.notNull())
        .addColumn('last_event_id', 'text', (c) => c.notNull())
        .addColumn('updated_at', BIG, (c) => c.notNull())
        .addColumn('work_order_id', 'text')
        .execute();
      await db.schema.createIndex('alarms_site').on('alarms').columns(['site_id', 'raised_at']).execute();

      await db.schema
        .createTable('wo_rules')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('match_json', 'text', (c) => c.notNull())
        .addColumn('priority', 'text', (c) => c.notNull())
        .addColumn('category', 'text')
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('sla_policies')
        .addColumn('priority', 'text', (c) => c.primaryKey())
        .addColumn('response_ms', BIG, (c) => c.notNull())
        .addColumn('resolve_ms', BIG, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('escalations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('work_order_id', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('due_at', BIG, (c) => c.notNull())
        .addColumn('at', BIG, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('escalations_wo').on('escalations').column('work_order_id').execute();

      await db.schema
        .createTable('technicians')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('skills_json', 'text', (c) => c.notNull())
        .addColumn('phone', 'text')
        .addColumn('lat', REAL)
        .addColumn('lon', REAL)
        .addColumn('site_id', 'text')
        .addColumn('located_at', BIG)
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('shifts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('technician', 'text', (c) => c.notNull())
        .addColumn('start_at', BIG, (c) => c.notNull())
        .addColumn('end_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('shifts_technician').on('shifts').columns(['technician', 'end_at']).execute();
      await db.schema
        .createTable('assignments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('work_order_id', 'text', (c) => c.notNull())
        .addColumn('technician', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('offered_at', BIG, (c) => c.notNull())
        .addColumn('accept_by', BIG, (c) => c.notNull())
        .addColumn('answered_at', BIG)
        .addColumn('explain_json', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('assignments_wo').on('assignments').columns(['work_order_id', 'offered_at']).execute();
      await db.schema.createIndex('assignments_status').on('assignments').columns(['status', 'accept_by']).execute();

      await db.schema
        .createTable('attachments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('work_order_id', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('bytes', 'integer', (c) => c.notNull())
        .addColumn('data', BLOB, (c) => c.notNull())
        .addColumn('uploaded_by', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('webhooks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('events_json', 'text', (c) => c.notNull())
        .addColumn('site_id', 'text')
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('webhook_id', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_at', BIG, (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('created_at', BIG, (c) => c.notNull())
        .addColumn('delivered_at', BIG)
        .execute();
      await db.schema.createIndex('webhook_deliveries_due').on('webhook_deliveries').columns(['status', 'next_at']).execute();

      await db.schema
        .createTable('rollups')
        .addColumn('site_id', 'text', (c) => c.notNull())
        .addColumn('point_id', 'text', (c) => c.notNull())
        .addColumn('minute', BIG, (c) => c.notNull())
        .addColumn('min', REAL, (c) => c.notNull())
        .addColumn('max', REAL, (c) => c.notNull())
        .addColumn('avg', REAL, (c) => c.notNull())
        .addColumn('count', 'integer', (c) => c.notNull())
        .addColumn('last', REAL, (c) => c.notNull())
        .addPrimaryKeyConstraint('rollups_pk', ['site_id', 'point_id', 'minute'])
        .execute();

      await db.schema
        .createTable('config_releases')
        .addColumn('version', 'integer', (c) => c.primaryKey())
        .addColumn('checksum', 'text', (c) => c.notNull())
        .addColumn('parts_json', 'text', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', BIG, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('gateway_config')
        .addColumn('gateway_id', 'text', (c) => c.primaryKey())
        .addColumn('desired_version', 'integer')
        .addColumn('previous_version', 'integer')
        .addColumn('desired_at', BIG)
        .addColumn('applied_version', 'integer')
        .addColumn('applied_checksum', 'text')
        .addColumn('applied_status', 'text')
        .addColumn('applied_error', 'text')
        .addColumn('applied_at', BIG)
        .execute();
    },
  };
}

/**
 * Roll-ups projected after the acknowledgement (sync/projector.ts): the projector's cursor
 * per gateway and lane — the highest sequence whose items it has projected, advanced in the
 * same transaction as the rows it wrote, so a restart neither loses nor repeats one.
 * Gateways that exist already were projected inside their batches: their cursor starts at
 * their acknowledged mark.
 */
function projection(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('projection_marks')
        .addColumn('gateway_id', 'text', (c) => c.notNull().references('gateways.id'))
        .addColumn('lane', 'integer', (c) => c.notNull())
        .addColumn('projected_seq', BIG, (c) => c.notNull())
        .addPrimaryKeyConstraint('projection_marks_pk', ['gateway_id', 'lane'])
        .execute();
      await sql`insert into projection_marks (gateway_id, lane, projected_seq) select gateway_id, lane, acked_seq from lane_marks where lane = 2`.execute(db);
      if (dialect === 'postgres') {
        // Item bodies of roll-ups are ~250 KB of JSON each: with PostgreSQL's default TOAST
        // compression (pglz) one took 14–18 ms of the server to insert, with lz4 4–7 ms
        // (8 % more bytes). lz4 where the server has it (PostgreSQL 14+ built with lz4);
        // otherwise the default stays.
        const lz4 = await sql<{ ok: number }>`select 1 as ok from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)`.execute(db);
        if (lz4.rows.length > 0) await sql`alter table items alter column body_json set compression lz4`.execute(db);
      }
    },
  };
}

/** The migrations of a dialect, keyed so that their names sort in the order they run. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return { '0001-initial': initial(), '0002-operations': operations(dialect), '0003-projection': projection(dialect) };
}

/** A Kysely MigrationProvider over the list above (no files read at run time). */
export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
