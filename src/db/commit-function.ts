/**
 * The write rules, in one place: `switchboard_commit_batch` (db/migrations/0003) holds them for
 * snapshots (a seq not above the stored one refuses the whole call), ops (the merge below) and
 * events (ids in order, the node must exist). Every write of those three tables goes through
 * callCommitFunction: the group commit (commit-batch.ts) and the repositories' writes alike.
 *
 * The op merge, for a write of an op already stored:
 *   state, error  := as given (error null clears it)
 *   attempts      := the larger of stored and given
 *   started_at    := the first one recorded
 *   finished_at   := the given one, else the stored one
 *
 * One statement cannot touch a row twice, so several writes of one node's snapshot or of one op
 * in a call are folded first, by the same rules: per node the highest seq, per op the merge.
 */
import { sql } from 'kysely';
import type { Executor } from './executor.ts';
import type { OpWrite } from './repositories/ops.ts';
import type { SnapshotWrite } from './repositories/snapshots.ts';

export const EMPTY_PAYLOAD = '[]';

export class StaleSnapshotError extends Error {
  constructor(readonly nodeIds: string[]) {
    super(`snapshot seq is not above the stored one for ${nodeIds.length} node(s): ` +
      `${nodeIds.slice(0, 5).join(', ')}${nodeIds.length > 5 ? ', …' : ''}; the batch was rolled back`);
    this.name = 'StaleSnapshotError';
  }
}

/** The SQLSTATE the commit function raises for a snapshot that would go backwards. */
const STALE_SNAPSHOT = 'SB409';

function staleNodeIds(err: unknown): string[] | null {
  if (typeof err !== 'object' || err === null || (err as { code?: unknown }).code !== STALE_SNAPSHOT) return null;
  const detail = (err as { detail?: unknown }).detail;
  const ids: unknown = typeof detail === 'string' ? JSON.parse(detail) : null;
  return Array.isArray(ids) ? ids.map(String) : [];
}

/**
 * One call of the function with the JSON payloads the repositories build (one row per node and
 * per op: fold first). Returns the new event ids in payload order; a stale snapshot is a
 * StaleSnapshotError and nothing of the call lands.
 */
export async function callCommitFunction(db: Executor, snapshots: string, ops: string, events: string): Promise<number[]> {
  try {
    const { rows } = await sql<{ event_id: string | number }>`
      select event_id from switchboard_commit_batch(${snapshots}::json, ${ops}::json, ${events}::json)`.execute(db);
    return rows.map((r) => Number(r.event_id));
  } catch (err) {
    const stale = staleNodeIds(err);
    if (stale) throw new StaleSnapshotError(stale);
    throw err;
  }
}

/** Keeps the highest seq per node. */
export function latestPerNode(rows: readonly SnapshotWrite[]): SnapshotWrite[] {
  const byNode = new Map<string, SnapshotWrite>();
  for (const row of rows) {
    const seen = byNode.get(row.nodeId);
    if (seen === undefined || row.seq > seen.seq) byNode.set(row.nodeId, row);
  }
  return [...byNode.values()];
}

/** Folds several writes of one op into one, in order, by the merge above. */
export function foldOps(rows: readonly OpWrite[]): OpWrite[] {
  const byId = new Map<string, OpWrite>();
  for (const later of rows) {
    const earlier = byId.get(later.id);
    byId.set(later.id, earlier === undefined ? later : {
      ...later,
      attempts: Math.max(earlier.attempts ?? 0, later.attempts ?? 0),
      startedAt: earlier.startedAt ?? later.startedAt ?? null,
      finishedAt: later.finishedAt ?? earlier.finishedAt ?? null,
    });
  }
  return [...byId.values()];
}
