/**
 * The one call of `switchboard_commit_batch` (db/migrations/0002): it holds the write rules for
 * snapshots (seq guard), ops (the merge rules in repositories/ops.ts) and events (ids in order),
 * so the group commit and the single-table repository writes share them. Arguments are the JSON
 * payloads the repositories build; returns the new event ids in payload order.
 */
import { sql } from 'kysely';
import type { Executor } from './executor.ts';

export const EMPTY_PAYLOAD = '[]';

export async function callCommitFunction(db: Executor, snapshots: string, ops: string, events: string): Promise<number[]> {
  const { rows } = await sql<{ event_id: string | number }>`
    select event_id from switchboard_commit_batch(${snapshots}::json, ${ops}::json, ${events}::json)`.execute(db);
  return rows.map((r) => Number(r.event_id));
}
