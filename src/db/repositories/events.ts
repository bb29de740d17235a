/**
 * The `node_events` table: a node's history, append-only. Ids grow in insertion order, so a
 * node's history is ordered by id.
 */
import { callCommitFunction, EMPTY_PAYLOAD } from '../commit-function.ts';
import { toJson, type Executor } from '../executor.ts';
import { decodeCursor, encodeCursor, pageSize, toPage, type Page } from '../paging.ts';
import type { Origin } from '../../machines/types.ts';
import type { EventDbRow } from '../schema.ts';

export interface EventRecord {
  readonly id: number;
  readonly nodeId: string;
  readonly at: Date;
  readonly kind: string;
  readonly origin: Origin | null;
  /** Who caused it (the API caller), when a person or token did. */
  readonly actor: string | null;
  readonly opId: string | null;
  readonly detail: Record<string, unknown>;
}

export interface NewEvent {
  readonly nodeId: string;
  readonly at: Date;
  readonly kind: string;
  readonly origin?: Origin | null;
  readonly actor?: string | null;
  readonly opId?: string | null;
  readonly detail?: Record<string, unknown>;
}

export function toEventRecord(row: EventDbRow): EventRecord {
  return {
    id: row.id,
    nodeId: row.node_id,
    at: row.at,
    kind: row.kind,
    origin: row.origin,
    actor: row.actor,
    opId: row.op_id,
    detail: row.detail,
  };
}

/** The JSON array a batch of events goes to the database as; `ord` keeps their order, `at` is epoch ms. */
export function eventPayload(events: readonly NewEvent[]): string {
  return toJson(events.map((e, i) => ({
    ord: i,
    node_id: e.nodeId,
    at: e.at.getTime(),
    kind: e.kind,
    origin: e.origin ?? null,
    actor: e.actor ?? null,
    op_id: e.opId ?? null,
    detail: e.detail ?? {},
  })));
}

/** Appends events in one statement; returns their ids in the order given. */
export async function insertEvents(db: Executor, events: readonly NewEvent[]): Promise<number[]> {
  if (events.length === 0) return [];
  return callCommitFunction(db, EMPTY_PAYLOAD, EMPTY_PAYLOAD, eventPayload(events));
}

/** A node's events, newest first. */
export async function listEventsByNode(
  db: Executor,
  nodeId: string,
  options: { limit?: number; cursor?: string } = {},
): Promise<Page<EventRecord>> {
  const limit = pageSize(options.limit);
  let query = db.selectFrom('node_events').selectAll().where('node_id', '=', nodeId);
  if (options.cursor !== undefined) {
    const [beforeId] = decodeCursor(options.cursor, ['number'] as const);
    query = query.where('id', '<', beforeId);
  }
  const rows = await query.orderBy('id', 'desc').limit(limit + 1).execute();
  return toPage(rows, limit, toEventRecord, (row) => encodeCursor([row.id]));
}
