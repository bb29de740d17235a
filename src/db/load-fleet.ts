/**
 * What the host needs at boot: every live node with its snapshot (null if it never had one),
 * streamed in batches in node id order so 100,000 nodes never sit in memory twice.
 */
import type { Executor } from './executor.ts';
import { toNodeRecord, type NodeRecord } from './repositories/nodes.ts';
import { toSnapshotRecord, type SnapshotRecord } from './repositories/snapshots.ts';

export interface FleetEntry {
  readonly node: NodeRecord;
  readonly snapshot: SnapshotRecord | null;
}

export async function* loadFleet(db: Executor, options: { batchSize?: number } = {}): AsyncGenerator<FleetEntry[]> {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  let after: string | undefined;
  for (;;) {
    let query = db
      .selectFrom('nodes as n')
      .leftJoin('node_snapshots as s', 's.node_id', 'n.id')
      .selectAll('n')
      .select([
        's.node_id as s_node_id', 's.machine_version as s_machine_version', 's.seq as s_seq', 's.snapshot as s_snapshot',
        's.status as s_status', 's.observed as s_observed', 's.desired as s_desired', 's.updated_at as s_updated_at',
      ])
      .where('n.deleted_at', 'is', null);
    if (after !== undefined) query = query.where('n.id', '>', after);
    const rows = await query.orderBy('n.id').limit(batchSize).execute();
    if (rows.length === 0) return;
    yield rows.map((row) => ({
      node: toNodeRecord(row),
      snapshot: row.s_node_id === null || row.s_machine_version === null || row.s_seq === null || row.s_status === null ||
        row.s_observed === null || row.s_updated_at === null
        ? null
        : toSnapshotRecord({
          node_id: row.s_node_id,
          machine_version: row.s_machine_version,
          seq: row.s_seq,
          snapshot: row.s_snapshot,
          status: row.s_status,
          observed: row.s_observed,
          desired: row.s_desired,
          updated_at: row.s_updated_at,
        }),
    }));
    if (rows.length < batchSize) return;
    after = rows[rows.length - 1]?.id;
  }
}
