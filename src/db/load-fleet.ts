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

interface FetchedBatch {
  readonly entries: FleetEntry[];
  /** The id to page on from, or null when this was the last batch. */
  readonly next: string | null;
}

async function fetchBatch(db: Executor, after: string | undefined, batchSize: number): Promise<FetchedBatch> {
  let query = db.selectFrom('nodes').selectAll().where('deleted_at', 'is', null);
  if (after !== undefined) query = query.where('id', '>', after);
  const nodes = await query.orderBy('id').limit(batchSize).execute();
  const last = nodes[nodes.length - 1]?.id;
  if (last === undefined) return { entries: [], next: null };
  // Two bounded range scans instead of a join: with a join the planner may scan every
  // snapshot on each batch, which makes a boot quadratic in the fleet size.
  const snapshots = new Map((await snapshotsInIdRange(db, after, last)).map((s) => [s.nodeId, s]));
  return {
    entries: nodes.map((row) => ({ node: toNodeRecord(row), snapshot: snapshots.get(row.id) ?? null })),
    next: nodes.length < batchSize ? null : last,
  };
}

/**
 * The next batch is already being read while the caller restores the current one: with a
 * server database the boot then waits on the round trips only once, not once per batch.
 */
export async function* loadFleet(db: Executor, options: { batchSize?: number } = {}): AsyncGenerator<FleetEntry[]> {
  const batchSize = options.batchSize ?? 5000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive whole number, got ${batchSize}`);
  let pending: Promise<FetchedBatch> | null = fetchBatch(db, undefined, batchSize);
  try {
    while (pending) {
      const batch: FetchedBatch = await pending;
      pending = batch.next === null ? null : fetchBatch(db, batch.next, batchSize);
      if (batch.entries.length > 0) yield batch.entries;
    }
  } finally {
    // A caller that stops early leaves a read in flight; its outcome no longer matters.
    pending?.catch(() => {});
  }
}
