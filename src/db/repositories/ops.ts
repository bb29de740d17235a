/**
 * The `power_ops` table: every requested power action and its life. An op's identity (node,
 * action, origin, requester, requested_at) never changes; its state fields do, by the merge
 * rule of the commit function (commit-function.ts), through which every op write goes.
 */
import { epochMs, toJson, type Executor } from '../executor.ts';
import { decodeCursor, encodeCursor, pageSize, toPage, type Page } from '../paging.ts';
import type { OpState, Origin, PowerAction } from '../../machines/types.ts';
import type { OpDbRow } from '../schema.ts';

export interface OpRecord {
  readonly id: string;
  readonly nodeId: string;
  readonly action: PowerAction;
  readonly origin: Origin;
  readonly requestedBy: string | null;
  readonly state: OpState;
  readonly error: string | null;
  readonly attempts: number;
  readonly requestedAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/** A full op as the host knows it; inserted if new, else its state fields are updated. */
export interface OpWrite {
  readonly id: string;
  readonly nodeId: string;
  readonly action: PowerAction;
  readonly origin: Origin;
  readonly requestedBy?: string | null;
  readonly state: OpState;
  readonly error?: string | null;
  readonly attempts?: number;
  /** Always set by the host (millisecond precision keeps paging cursors exact). */
  readonly requestedAt: Date;
  readonly startedAt?: Date | null;
  readonly finishedAt?: Date | null;
}

export function toOpRecord(row: OpDbRow): OpRecord {
  return {
    id: row.id,
    nodeId: row.node_id,
    action: row.action,
    origin: row.origin,
    requestedBy: row.requested_by,
    state: row.state,
    error: row.error,
    attempts: row.attempts,
    requestedAt: row.requested_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

/** The JSON array op writes go to the commit function as (one row per op: fold first); instants are epoch ms. */
export function opPayload(rows: readonly OpWrite[]): string {
  return toJson(rows.map((r) => ({
    id: r.id,
    node_id: r.nodeId,
    action: r.action,
    origin: r.origin,
    requested_by: r.requestedBy ?? null,
    state: r.state,
    error: r.error ?? null,
    attempts: r.attempts ?? 0,
    requested_at: r.requestedAt.getTime(),
    started_at: epochMs(r.startedAt),
    finished_at: epochMs(r.finishedAt),
  })));
}

export async function getOp(db: Executor, id: string): Promise<OpRecord | undefined> {
  const row = await db.selectFrom('power_ops').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toOpRecord(row);
}

/** A node's ops, newest first. */
export async function listOpsByNode(
  db: Executor,
  nodeId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<Page<OpRecord>> {
  const limit = pageSize(options.limit);
  let query = db.selectFrom('power_ops').selectAll().where('node_id', '=', nodeId);
  if (options.cursor !== undefined) {
    const [atMs, id] = decodeCursor(options.cursor, ['number', 'string'] as const);
    const at = new Date(atMs);
    query = query.where((eb) => eb.or([
      eb('requested_at', '<', at),
      eb.and([eb('requested_at', '=', at), eb('id', '<', id)]),
    ]));
  }
  const rows = await query.orderBy('requested_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  return toPage(rows, limit, toOpRecord, (row) => encodeCursor([row.requested_at.getTime(), row.id]));
}
