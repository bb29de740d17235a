/**
 * What the host needs at boot: every live node with its snapshot (null if it never had one),
 * streamed in batches in node id order so 100,000 nodes never sit in memory twice.
 */
import type { Executor } from './executor.ts';
import { toNodeRecord, type NodeRecord } from './repositories/nodes.ts';
import { snapshotsInIdRange, type SnapshotRecord } from './repositories/snapshots.ts';

export interface FleetEntry {
  readonly node: NodeRecord;
  readonly snapshot: SnapshotRecord | null;
}

export async function* loadFleet(db: Executor, options: { batchSize?: number } = {}): AsyncGenerator<FleetEntry[]> {
  const batchSize = options.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  let after: string | undefined;
  for (;;) {
    let query = db.selectFrom('nodes').selectAll().where('deleted_at', 'is', null);
    if (after !== undefined) query = query.where('id', '>', after);
    const nodes = await query.orderBy('id').limit(batchSize).execute();
    const last = nodes[nodes.length - 1]?.id;
    if (last === undefined) return;
    // Two bounded range scans instead of a join: with a join the planner may scan every
    // snapshot on each batch, which makes a boot quadratic in the fleet size.
    const snapshots = new Map((await snapshotsInIdRange(db, after, last)).map((s) => [s.nodeId, s]));
    yield nodes.map((row) => ({ node: toNodeRecord(row), snapshot: snapshots.get(row.id) ?? null }));
    if (nodes.length < batchSize) return;
    after = last;
  }
}
