/**
 * The host's group commit: the snapshots, ops and events of many node transitions, written in
 * one transaction with one multi-row statement per table. A 500-transition batch is five round
 * trips (begin, three statements, commit) however many nodes it touches.
 *
 * All or nothing: if any row is refused — a constraint, or a snapshot whose seq is not above the
 * stored one — nothing of the batch lands. A stale seq means another writer got there first
 * (a bug, or a second instance), so it fails loudly instead of being dropped quietly.
 */
import { inTransaction, type Executor } from './executor.ts';
import { insertEvents, type NewEvent } from './repositories/events.ts';
import { upsertOps, type OpWrite } from './repositories/ops.ts';
import { upsertSnapshots, type SnapshotWrite } from './repositories/snapshots.ts';

/** Plain data; build it with any number of nodes. Several entries for one node or op are fine. */
export interface CommitBatch {
  /** Per node the highest seq wins. */
  readonly snapshots: readonly SnapshotWrite[];
  /** New ops and state changes of known ones; several writes of one op fold in order. */
  readonly ops: readonly OpWrite[];
  readonly events: readonly NewEvent[];
}

export interface CommitResult {
  /** Ids of the inserted events, in batch order. */
  readonly eventIds: number[];
}

export class StaleSnapshotError extends Error {
  constructor(readonly nodeIds: string[]) {
    super(`snapshot seq is not above the stored one for ${nodeIds.length} node(s): ` +
      `${nodeIds.slice(0, 5).join(', ')}${nodeIds.length > 5 ? ', …' : ''}; the batch was rolled back`);
    this.name = 'StaleSnapshotError';
  }
}

export function isEmptyBatch(batch: CommitBatch): boolean {
  return batch.snapshots.length === 0 && batch.ops.length === 0 && batch.events.length === 0;
}

/** Writes the batch atomically. Pass a transaction to make it part of a larger one. */
export async function commitBatch(db: Executor, batch: CommitBatch): Promise<CommitResult> {
  if (isEmptyBatch(batch)) return { eventIds: [] };
  return inTransaction(db, async (trx) => {
    const { stale } = await upsertSnapshots(trx, batch.snapshots);
    if (stale.length > 0) throw new StaleSnapshotError(stale);
    await upsertOps(trx, batch.ops);
    const eventIds = await insertEvents(trx, batch.events);
    return { eventIds };
  });
}
