/**
 * The host's group commit: the snapshots, ops and events of many node transitions, written by
 * one call of the `switchboard_commit_batch` function (db/migrations/0002): one statement, one
 * round trip, however many nodes the batch touches.
 *
 * All or nothing: if any row is refused — a constraint, or a snapshot whose seq is not above the
 * stored one — nothing of the batch lands. A stale seq means another writer got there first
 * (a bug, or a second instance), so it fails loudly instead of being dropped quietly.
 */
import { callCommitFunction } from './commit-function.ts';
import type { Executor } from './executor.ts';
import { eventPayload, type NewEvent } from './repositories/events.ts';
import { foldById, opPayload, type OpWrite } from './repositories/ops.ts';
import { latestPerNode, snapshotPayload, type SnapshotWrite } from './repositories/snapshots.ts';

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

/** The SQLSTATE the commit function raises for a snapshot that would go backwards. */
const STALE_SNAPSHOT = 'SB409';

function staleNodeIds(err: unknown): string[] | null {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== STALE_SNAPSHOT) return null;
  const detail = (err as { detail?: unknown }).detail;
  const ids: unknown = typeof detail === 'string' ? JSON.parse(detail) : null;
  return Array.isArray(ids) ? ids.map(String) : [];
}

/** Writes the batch atomically; inside a caller's transaction when given one. */
export async function commitBatch(db: Executor, batch: CommitBatch): Promise<CommitResult> {
  if (isEmptyBatch(batch)) return { eventIds: [] };
  try {
    const eventIds = await callCommitFunction(db, snapshotPayload(latestPerNode(batch.snapshots)), opPayload(foldById(batch.ops)), eventPayload(batch.events));
    return { eventIds };
  } catch (err) {
    const stale = staleNodeIds(err);
    if (stale) throw new StaleSnapshotError(stale);
    throw err;
  }
}
