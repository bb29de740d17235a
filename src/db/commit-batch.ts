/**
 * The host's group commit: the snapshots, ops and events of many node transitions, written by
 * one call of the commit function (commit-function.ts, which holds the write rules): one
 * statement, one round trip, however many nodes the batch touches.
 *
 * All or nothing: if any row is refused — a constraint, or a snapshot whose seq is not above the
 * stored one — nothing of the batch lands. A stale seq means another writer got there first
 * (a bug, or a second instance), so it fails loudly instead of being dropped quietly.
 */
import { callCommitFunction, foldOps, latestPerNode, StaleSnapshotError } from './commit-function.ts';
import type { Executor } from './executor.ts';
import { eventPayload, type NewEvent } from './repositories/events.ts';
import { opPayload, type OpWrite } from './repositories/ops.ts';
import { snapshotPayload, type SnapshotWrite } from './repositories/snapshots.ts';

export { StaleSnapshotError };

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

export function isEmptyBatch(batch: CommitBatch): boolean {
  return batch.snapshots.length === 0 && batch.ops.length === 0 && batch.events.length === 0;
}

/** Writes the batch atomically; inside a caller's transaction when given one. */
export async function commitBatch(db: Executor, batch: CommitBatch): Promise<CommitResult> {
  if (isEmptyBatch(batch)) return { eventIds: [] };
  const eventIds = await callCommitFunction(db, snapshotPayload(latestPerNode(batch.snapshots)), opPayload(foldOps(batch.ops)), eventPayload(batch.events));
  return { eventIds };
}
