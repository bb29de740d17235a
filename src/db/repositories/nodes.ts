/**
 * The `nodes` table: a node's identity and driver configuration. Deleting is soft (deleted_at):
 * the node's ops and events stay as history, its snapshot goes, and its name becomes free.
 */
import { sql } from 'kysely';
import { inTransaction, toJson, type Executor } from '../executor.ts';
import { decodeCursor, encodeCursor, pageSize, toPage, type Page } from '../paging.ts';
import type { Desired, DriftPolicy, Observed } from '../../machines/types.ts';
import type { NodeRow } from '../schema.ts';

export interface NodeRecord {
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly bmc: string;
  /** As stored: secret fields are encrypted. Never hand this to a client as is. */
  readonly params: Record<string, unknown>;
  readonly driftPolicy: DriftPolicy;
  readonly softOffEscalate: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly deletedAt: Date | null;
}

export interface NewNode {
  readonly id: string;
  readonly name: string;
  readonly driver: string;
  readonly bmc: string;
  readonly params: Record<string, unknown>;
  readonly driftPolicy?: DriftPolicy;
  readonly softOffEscalate?: boolean;
}

export type NodePatch = Partial<Pick<NodeRecord, 'name' | 'driver' | 'bmc' | 'params' | 'driftPolicy' | 'softOffEscalate'>>;

/** A node with the state columns of its snapshot (null before its first snapshot). */
export interface NodeListItem extends NodeRecord {
  readonly state: { readonly status: string; readonly observed: Observed; readonly desired: Desired; readonly seq: number } | null;
}

export interface ListNodesOptions {
  readonly status?: string | readonly string[];
  readonly observed?: Observed | readonly Observed[];
  readonly bmc?: string;
  readonly driver?: string;
  /** Name prefix (case-sensitive). */
  readonly namePrefix?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export function toNodeRecord(row: NodeRow): NodeRecord {
  return {
    id: row.id,
    name: row.name,
    driver: row.driver,
    bmc: row.bmc,
    params: row.params,
    driftPolicy: row.drift_policy,
    softOffEscalate: row.soft_off_escalate,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deletedAt: row.deleted_at,
  };
}

/** Throws a unique violation (see isUniqueViolation, NODE_NAME_CONSTRAINT) for a taken name. */
export async function insertNode(db: Executor, node: NewNode): Promise<NodeRecord> {
  const row = await db
    .insertInto('nodes')
    .values({
      id: node.id,
      name: node.name,
      driver: node.driver,
      bmc: node.bmc,
      params: toJson(node.params),
      drift_policy: node.driftPolicy,
      soft_off_escalate: node.softOffEscalate,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toNodeRecord(row);
}

/** Returns the updated node, or undefined when there is no live node with that id. */
export async function updateNode(db: Executor, id: string, patch: NodePatch): Promise<NodeRecord | undefined> {
  const row = await db
    .updateTable('nodes')
    .set({
      ...(patch.name !== undefined && { name: patch.name }),
      ...(patch.driver !== undefined && { driver: patch.driver }),
      ...(patch.bmc !== undefined && { bmc: patch.bmc }),
      ...(patch.params !== undefined && { params: toJson(patch.params) }),
      ...(patch.driftPolicy !== undefined && { drift_policy: patch.driftPolicy }),
      ...(patch.softOffEscalate !== undefined && { soft_off_escalate: patch.softOffEscalate }),
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returningAll()
    .executeTakeFirst();
  return row === undefined ? undefined : toNodeRecord(row);
}

/** Soft-deletes a live node and drops its snapshot. False when there was no such live node. */
export async function deleteNode(db: Executor, id: string): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const gone = await trx
      .updateTable('nodes')
      .set({ deleted_at: sql<Date>`now()`, updated_at: sql<Date>`now()` })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (gone === undefined) return false;
    await trx.deleteFrom('node_snapshots').where('node_id', '=', id).execute();
    return true;
  });
}

function list<T>(value: T | readonly T[] | undefined): readonly T[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** Live nodes in name order, filtered, one page at a time. */
export async function listNodes(db: Executor, options: ListNodesOptions = {}): Promise<Page<NodeListItem>> {
  const limit = pageSize(options.limit);
  const statuses = list(options.status);
  const observed = list(options.observed);
  let query = db
    .selectFrom('nodes as n')
    .leftJoin('node_snapshots as s', 's.node_id', 'n.id')
    .selectAll('n')
    .select(['s.status', 's.observed', 's.desired', 's.seq'])
    .where('n.deleted_at', 'is', null);
  if (statuses !== undefined) query = statuses.length === 0 ? query.where(sql<boolean>`false`) : query.where('s.status', 'in', statuses);
  if (observed !== undefined) query = observed.length === 0 ? query.where(sql<boolean>`false`) : query.where('s.observed', 'in', observed);
  if (options.bmc !== undefined) query = query.where('n.bmc', '=', options.bmc);
  if (options.driver !== undefined) query = query.where('n.driver', '=', options.driver);
  if (options.namePrefix !== undefined && options.namePrefix !== '') {
    // starts_with needs no LIKE escaping; the >= bound lets the name index narrow the scan.
    query = query.where('n.name', '>=', options.namePrefix).where(sql<boolean>`starts_with(n.name, ${options.namePrefix})`);
  }
  if (options.cursor !== undefined) {
    const [afterName] = decodeCursor(options.cursor, ['string'] as const);
    query = query.where('n.name', '>', afterName);
  }
  const rows = await query.orderBy('n.name').limit(limit + 1).execute();
  return toPage(
    rows,
    limit,
    (row) => ({
      ...toNodeRecord(row),
      state: row.status === null || row.observed === null || row.seq === null
        ? null
        : { status: row.status, observed: row.observed, desired: row.desired, seq: row.seq },
    }),
    (row) => encodeCursor([row.name]),
  );
}
