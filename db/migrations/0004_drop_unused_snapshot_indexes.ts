/**
 * node_snapshots loses its (status, node_id) and (observed, node_id) indexes. No query of the
 * service uses them (the API lists and filters nodes from the host's memory), and every snapshot
 * write paid for them: most transitions change `observed` or `status`, so their updates could not
 * be HOT and went into all three indexes. Replaying real group commits: PostgreSQL CPU per
 * transition 48-58 -> 44 us. The repository's listNodes still filters by status and observed,
 * with a join, for scripts and tests.
 */
import { type Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.dropIndex('node_snapshots_status_idx').execute();
  await db.schema.dropIndex('node_snapshots_observed_idx').execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.createIndex('node_snapshots_status_idx').on('node_snapshots').columns(['status', 'node_id']).execute();
  await db.schema.createIndex('node_snapshots_observed_idx').on('node_snapshots').columns(['observed', 'node_id']).execute();
}
