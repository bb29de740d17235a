/** Small builders for persistence tests. */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import { insertNode, type NewNode, type NodeRecord } from '../../src/db/repositories/nodes.ts';
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
