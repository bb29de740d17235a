/**
 * The initial schema. Check constraints mirror the unions in src/db/schema.ts so the
 * database refuses values the code could never mean, whichever client wrote them.
 */
import { sql, type Kysely } from 'kysely';

// Migrations see the database as it was then, not as src/db/schema.ts says it is now.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'jsonb', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('nodes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name <> '' and length(name) <= 253`))
    .addColumn('driver', 'text', (c) => c.notNull())
    .addColumn('bmc', 'text', (c) => c.notNull())
    .addColumn('params', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('drift_policy', 'text', (c) =>
      c.notNull().defaultTo('adopt').check(sql`drift_policy in ('adopt', 'enforce')`))
    .addColumn('soft_off_escalate', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('deleted_at', 'timestamptz')
    .addCheckConstraint('nodes_params_is_object', sql`jsonb_typeof(params) = 'object'`)
    .execute();
  // Names are unique among live nodes; a deleted node's name can be reused.
  await db.schema.createIndex('nodes_name_live_key').on('nodes').column('name').unique()
    .where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('nodes_bmc_idx').on('nodes').column('bmc').execute();

  await db.schema
    .createTable('node_snapshots')
    .addColumn('node_id', 'text', (c) => c.primaryKey().references('nodes.id').onDelete('cascade'))
    .addColumn('machine_version', 'integer', (c) => c.notNull().check(sql`machine_version > 0`))
    .addColumn('seq', 'bigint', (c) => c.notNull().check(sql`seq >= 0`))
    .addColumn('snapshot', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('observed', 'text', (c) =>
      c.notNull().check(sql`observed in ('on', 'off', 'unknown', 'error')`))
    .addColumn('desired', 'text', (c) => c.check(sql`desired in ('on', 'off')`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('node_snapshots_status_idx').on('node_snapshots').columns(['status', 'node_id']).execute();
  await db.schema.createIndex('node_snapshots_observed_idx').on('node_snapshots').columns(['observed', 'node_id']).execute();

  await db.schema
    .createTable('power_ops')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('node_id', 'text', (c) => c.notNull().references('nodes.id'))
    .addColumn('action', 'text', (c) =>
      c.notNull().check(sql`action in ('on', 'off', 'cycle', 'soft_off', 'query')`))
    .addColumn('origin', 'text', (c) =>
      c.notNull().check(sql`origin in ('user', 'lifecycle', 'sync', 'recovery')`))
    .addColumn('requested_by', 'text')
    .addColumn('state', 'text', (c) =>
      c.notNull().check(sql`state in ('pending', 'in_flight', 'succeeded', 'failed', 'refused', 'coalesced', 'superseded')`))
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('power_ops_node_requested_idx').on('power_ops')
    .columns(['node_id', 'requested_at', 'id']).execute();
  // Recovery and dashboards look for unfinished ops; they are few, so a partial index stays small.
  await db.schema.createIndex('power_ops_open_idx').on('power_ops').column('node_id')
    .where(sql.ref('state'), 'in', ['pending', 'in_flight']).execute();

  await db.schema
    .createTable('node_events')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('node_id', 'text', (c) => c.notNull().references('nodes.id'))
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind <> ''`))
    .addColumn('origin', 'text', (c) => c.check(sql`origin in ('user', 'lifecycle', 'sync', 'recovery')`))
    .addColumn('actor', 'text')
    .addColumn('op_id', 'text')
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addCheckConstraint('node_events_detail_is_object', sql`jsonb_typeof(detail) = 'object'`)
    .execute();
  await db.schema.createIndex('node_events_node_idx').on('node_events').columns(['node_id', 'id']).execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().check(sql`name <> ''`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique().check(sql`token_hash ~ '^[0-9a-f]{64}$'`))
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('viewer', 'operator', 'admin')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const table of ['api_tokens', 'node_events', 'power_ops', 'node_snapshots', 'nodes', 'meta']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
