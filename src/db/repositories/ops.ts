/**
 * The `power_ops` table: every requested power action and its life. An op's identity (node,
 * action, origin, requester, requested_at) never changes; its state fields do, with these rules
 * on every write so a replayed or partial write cannot erase history:
 *   state, error  := as given (error null clears it)
 *   attempts      := the larger of stored and given
 *   started_at    := the first one recorded
 *   finished_at   := the given one, else the stored one
 */
import { sql } from 'kysely';
import { callCommitFunction, EMPTY_PAYLOAD } from '../commit-function.ts';
import { epochMs, toJson, type Executor } from '../executor.ts';
import { decodeCursor, encodeCursor, pageSize, toPage, type Page } from '../paging.ts';
import type { OpDbRow, OpOrigin, OpState, PowerAction } from '../schema.ts';

export interface OpRecord {
  readonly id: string;
  readonly nodeId: string;
  readonly action: PowerAction;
  readonly origin: OpOrigin;
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
  readonly origin: OpOrigin;
  readonly requestedBy?: string | null;
  readonly state: OpState;
  readonly error?: string | null;
  readonly attempts?: number;
  /** Always set by the host (millisecond precision keeps paging cursors exact). */
  readonly requestedAt: Date;
  readonly startedAt?: Date | null;
  readonly finishedAt?: Date | null;
}

export interface OpStateUpdate {
  readonly id: string;
  readonly state: OpState;
  readonly error?: string | null;
  readonly attempts?: number;
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

function merge<T extends OpStateUpdate>(earlier: T, later: T): T {
  return {
    ...later,
    attempts: Math.max(earlier.attempts ?? 0, later.attempts ?? 0),
    startedAt: earlier.startedAt ?? later.startedAt ?? null,
    finishedAt: later.finishedAt ?? earlier.finishedAt ?? null,
  };
}

/** Folds several writes of one op in a batch into one, by the rules above. */
export function foldById<T extends OpStateUpdate>(rows: readonly T[]): T[] {
  const byId = new Map<string, T>();
  for (const row of rows) {
    const seen = byId.get(row.id);
    byId.set(row.id, seen === undefined ? row : merge(seen, row));
  }
  return [...byId.values()];
}

/** The JSON array a batch of op writes goes to the database as; instants are epoch ms. */
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

const OP_RECORDSET = sql`(
  id text, node_id text, action text, origin text, requested_by text, state text, error text,
  attempts integer, requested_at double precision, started_at double precision, finished_at double precision)`;

/** Inserts new ops in one statement; a duplicate id is a unique violation. */
export async function insertOps(db: Executor, rows: readonly OpWrite[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into power_ops (id, node_id, action, origin, requested_by, state, error, attempts, requested_at, started_at, finished_at)
    select id, node_id, action, origin, requested_by, state, error, attempts,
      to_timestamp(requested_at / 1000.0), to_timestamp(started_at / 1000.0), to_timestamp(finished_at / 1000.0)
    from jsonb_to_recordset(${opPayload(rows)}::jsonb) as r${OP_RECORDSET}`.execute(db);
}

/** Inserts or updates ops in one statement, by the rules above. Returns how many rows it wrote. */
export async function upsertOps(db: Executor, rows: readonly OpWrite[]): Promise<number> {
  const folded = foldById(rows);
  if (folded.length === 0) return 0;
  // Every folded row is inserted or updated (the update has no condition).
  await callCommitFunction(db, EMPTY_PAYLOAD, opPayload(folded), EMPTY_PAYLOAD);
  return folded.length;
}

/** Applies state transitions to existing ops in one statement. Returns the ids it found. */
export async function updateOpStates(db: Executor, updates: readonly OpStateUpdate[]): Promise<string[]> {
  const folded = foldById(updates);
  if (folded.length === 0) return [];
  const payload = toJson(folded.map((u) => ({
    id: u.id,
    state: u.state,
    error: u.error ?? null,
    attempts: u.attempts ?? 0,
    started_at: u.startedAt ?? null,
    finished_at: u.finishedAt ?? null,
  })));
  const result = await sql<{ id: string }>`
    update power_ops as p set
      state = u.state,
      error = u.error,
      attempts = greatest(p.attempts, u.attempts),
      started_at = coalesce(p.started_at, u.started_at),
      finished_at = coalesce(u.finished_at, p.finished_at)
    from jsonb_to_recordset(${payload}::jsonb) as u(
      id text, state text, error text, attempts integer, started_at timestamptz, finished_at timestamptz)
    where p.id = u.id
    returning p.id`.execute(db);
  return result.rows.map((r) => r.id);
}

export async function getOp(db: Executor, id: string): Promise<OpRecord | undefined> {
  const row = await db.selectFrom('power_ops').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toOpRecord(row);
}

/** Ops not yet finished (pending or in flight), oldest first: what recovery looks at. */
export async function listOpenOps(db: Executor, nodeId?: string): Promise<OpRecord[]> {
  let query = db.selectFrom('power_ops').selectAll().where('state', 'in', ['pending', 'in_flight']);
  if (nodeId !== undefined) query = query.where('node_id', '=', nodeId);
  const rows = await query.orderBy('requested_at').orderBy('id').execute();
  return rows.map(toOpRecord);
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
