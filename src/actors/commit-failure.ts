/**
 * What a failed commit means, decided in one place:
 * - `stale`: the stored snapshot is ahead of this host's (a second writer, or a bug): the node's
 *   state here can no longer be trusted; it is not a database outage.
 * - `rejected`: the database answered and refused the batch (a data or constraint error): a bug
 *   to log, not an outage to wait out.
 * - `outage`: anything else (connection lost, timeout, server gone): wait for the database, then
 *   recover.
 */
import { StaleSnapshotError } from '../db/commit-batch.ts';
import { sqlState } from '../db/errors.ts';

export type CommitFailure = { kind: 'stale'; nodeIds: ReadonlySet<string> } | { kind: 'rejected' } | { kind: 'outage' };

/** SQLSTATE classes the database raises for a batch it understood and refused. */
const REFUSED_CLASSES = ['22', '23', '42'];

export function classifyCommitFailure(err: unknown): CommitFailure {
  if (err instanceof StaleSnapshotError) return { kind: 'stale', nodeIds: new Set(err.nodeIds) };
  const state = sqlState(err);
  if (state !== undefined && REFUSED_CLASSES.includes(state.slice(0, 2))) return { kind: 'rejected' };
  return { kind: 'outage' };
}
