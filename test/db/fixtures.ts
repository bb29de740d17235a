/** Small builders for persistence tests. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { commitBatch } from '../../src/db/commit-batch.ts';
import type { Executor } from '../../src/db/executor.ts';
import { insertNode, toNodeRecord, type NewNode, type NodeRecord } from '../../src/db/repositories/nodes.ts';
import type { SnapshotWrite } from '../../src/db/repositories/snapshots.ts';
import type { OpWrite } from '../../src/db/repositories/ops.ts';
import type { Database } from '../../src/db/schema.ts';

export function newNode(overrides: Partial<NewNode> = {}): NewNode {
  const id = overrides.id ?? randomUUID();
  return { id, name: `node-${id}`, driver: 'sim', bmc: 'bmc-1', params: { latencyMs: 5 }, ...overrides };
}

export async function seedNodes(db: Kysely<Database>, count: number, prefix = 'n'): Promise<NodeRecord[]> {
  const nodes: NodeRecord[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(await insertNode(db, newNode({ name: `${prefix}-${String(i).padStart(5, '0')}` })));
  }
  return nodes;
}

export function snapshotFor(nodeId: string, seq: number, overrides: Partial<SnapshotWrite> = {}): SnapshotWrite {
  return {
    nodeId,
    machineVersion: 1,
    seq,
    snapshot: { value: { lifecycle: 'ready', power: 'idle' }, context: { seq, observed: 'off', nested: [1, { a: 'b' }] } },
    status: 'ready',
    observed: 'off',
    desired: null,
    ...overrides,
  };
}

export function opFor(nodeId: string, overrides: Partial<OpWrite> = {}): OpWrite {
  return {
    id: randomUUID(),
    nodeId,
    action: 'on',
    origin: 'user',
    requestedBy: 'alice',
    state: 'pending',
    requestedAt: new Date('2025-01-01T00:00:00.000Z'),
    ...overrides,
  };
}

/** Writes ops the way production does: through the commit function (new ones inserted, known ones merged). */
export async function writeOps(db: Executor, ops: readonly OpWrite[]): Promise<void> {
  await commitBatch(db, { snapshots: [], ops, events: [] });
}

/** A node as the repositories read it (nothing in production looks a node up in the database: the host keeps them). */
export async function nodeById(db: Executor, id: string, options: { includeDeleted?: boolean } = {}): Promise<NodeRecord | undefined> {
  let query = db.selectFrom('nodes').selectAll().where('id', '=', id);
  if (options.includeDeleted !== true) query = query.where('deleted_at', 'is', null);
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toNodeRecord(row);
}

export async function nodeByName(db: Executor, name: string): Promise<NodeRecord | undefined> {
  const row = await db.selectFrom('nodes').selectAll().where('name', '=', name).where('deleted_at', 'is', null).executeTakeFirst();
  return row === undefined ? undefined : toNodeRecord(row);
}

export async function countLiveNodes(db: Executor): Promise<number> {
  const row = await db.selectFrom('nodes').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
  return Number(row.n);
}
