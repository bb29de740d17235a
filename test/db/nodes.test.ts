import { beforeEach, expect, it } from 'vitest';
import { commitBatch } from '../../src/db/commit-batch.ts';
import { isUniqueViolation, NODE_NAME_CONSTRAINT } from '../../src/db/errors.ts';
import { InvalidPageRequestError } from '../../src/db/paging.ts';
import {
  deleteNode, insertNode, listNodes, updateNode, type NodeListItem,
} from '../../src/db/repositories/nodes.ts';
import { getSnapshot } from '../../src/db/repositories/snapshots.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';
import { countLiveNodes, newNode, nodeById, nodeByName, seedNodes, snapshotFor } from './fixtures.ts';

describeEachBackend('nodes repository', (t) => {
  beforeEach(async () => {
    await truncateAll(t.db);
  });

  it('inserts a node with defaults and reads it by id and by name', async () => {
    const inserted = await insertNode(t.db, newNode({ id: 'n1', name: 'rack1-u01', bmc: 'chassis-7', params: { user: 'admin', password: { enc: 'x' } } }));
    expect(inserted).toMatchObject({
      id: 'n1', name: 'rack1-u01', driver: 'sim', bmc: 'chassis-7', driftPolicy: 'adopt', softOffEscalate: true, deletedAt: null,
      params: { user: 'admin', password: { enc: 'x' } },
    });
    expect(inserted.createdAt).toBeInstanceOf(Date);
    expect(await nodeById(t.db, 'n1')).toEqual(inserted);
    expect(await nodeByName(t.db, 'rack1-u01')).toEqual(inserted);
    expect(await nodeById(t.db, 'missing')).toBeUndefined();
    expect(await nodeByName(t.db, 'missing')).toBeUndefined();
  });

  it('refuses a taken name with a recognisable unique violation', async () => {
    await insertNode(t.db, newNode({ name: 'dup' }));
    const err: unknown = await insertNode(t.db, newNode({ name: 'dup' })).catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(err, NODE_NAME_CONSTRAINT)).toBe(true);
    expect(isUniqueViolation(err, 'some_other_index')).toBe(false);
    expect(isUniqueViolation(new Error('plain'))).toBe(false);
    expect(await countLiveNodes(t.db)).toBe(1);
  });

  it('refuses params that are not an object and an unknown drift policy', async () => {
    await expect(insertNode(t.db, newNode({ params: [1, 2] as unknown as Record<string, unknown> }))).rejects.toThrow(/nodes_params_is_object/);
    await expect(insertNode(t.db, newNode({ driftPolicy: 'ignore' as 'adopt' }))).rejects.toThrow(/drift_policy/);
  });

  it('updates only the given fields and bumps updated_at', async () => {
    const before = await insertNode(t.db, newNode({ id: 'u1', name: 'before' }));
    const after = await updateNode(t.db, 'u1', { name: 'after', driftPolicy: 'enforce', softOffEscalate: false, params: { a: 1 } });
    expect(after).toMatchObject({ id: 'u1', name: 'after', driver: 'sim', bmc: before.bmc, driftPolicy: 'enforce', softOffEscalate: false, params: { a: 1 } });
    expect(after!.updatedAt.getTime()).toBeGreaterThanOrEqual(before.updatedAt.getTime());
    expect(await updateNode(t.db, 'nope', { name: 'x' })).toBeUndefined();
    await insertNode(t.db, newNode({ name: 'taken' }));
    expect(isUniqueViolation(await updateNode(t.db, 'u1', { name: 'taken' }).catch((e: unknown) => e))).toBe(true);
  });

  it('deletes softly: snapshot gone, history kept, name free again', async () => {
    await insertNode(t.db, newNode({ id: 'd1', name: 'gone' }));
    await commitBatch(t.db, {
      snapshots: [snapshotFor('d1', 1)],
      ops: [],
      events: [{ nodeId: 'd1', at: new Date(), kind: 'created' }],
    });
    expect(await deleteNode(t.db, 'd1')).toBe(true);
    expect(await deleteNode(t.db, 'd1')).toBe(false);
    expect(await nodeById(t.db, 'd1')).toBeUndefined();
    expect((await nodeById(t.db, 'd1', { includeDeleted: true }))?.deletedAt).toBeInstanceOf(Date);
    expect(await getSnapshot(t.db, 'd1')).toBeUndefined();
    expect(await t.db.selectFrom('node_events').select('kind').where('node_id', '=', 'd1').execute()).toEqual([{ kind: 'created' }]);
    expect(await updateNode(t.db, 'd1', { name: 'zombie' })).toBeUndefined();
    const reborn = await insertNode(t.db, newNode({ name: 'gone' }));
    expect(reborn.id).not.toBe('d1');
    expect(await countLiveNodes(t.db)).toBe(1);
  });

  it('pages through all nodes in name order without gaps or repeats', async () => {
    await seedNodes(t.db, 25);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listNodes(t.db, { limit: 7, ...(cursor !== undefined && { cursor }) });
      seen.push(...page.items.map((n) => n.name));
      cursor = page.nextCursor ?? undefined;
      pages++;
    } while (cursor !== undefined);
    expect(pages).toBe(4);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `n-${String(i).padStart(5, '0')}`));
  });

  it('filters by status, observed, bmc, driver and name prefix, with the state columns', async () => {
    const nodes = await seedNodes(t.db, 6);
    await insertNode(t.db, newNode({ name: 'other-1', bmc: 'bmc-2', driver: 'ipmi' }));
    const [a, b, c] = nodes;
    await commitBatch(t.db, {
      snapshots: [
        snapshotFor(a!.id, 1, { status: 'deployed', observed: 'on', desired: 'on' }),
        snapshotFor(b!.id, 1, { status: 'deployed', observed: 'off', desired: 'on' }),
        snapshotFor(c!.id, 1, { status: 'broken', observed: 'error', desired: 'off' }),
      ],
      ops: [],
      events: [],
    });
    const names = (items: NodeListItem[]) => items.map((n) => n.name);
    const deployed = await listNodes(t.db, { status: 'deployed' });
    expect(names(deployed.items)).toEqual([a!.name, b!.name]);
    expect(deployed.items[0]?.state).toEqual({ status: 'deployed', observed: 'on', desired: 'on', seq: 1 });
    expect(names((await listNodes(t.db, { status: ['broken', 'deployed'], observed: ['off', 'error'] })).items)).toEqual([b!.name, c!.name]);
    expect(names((await listNodes(t.db, { status: [] })).items)).toEqual([]);
    expect(names((await listNodes(t.db, { bmc: 'bmc-2' })).items)).toEqual(['other-1']);
    expect(names((await listNodes(t.db, { driver: 'ipmi' })).items)).toEqual(['other-1']);
    expect(names((await listNodes(t.db, { namePrefix: 'other' })).items)).toEqual(['other-1']);
    const all = await listNodes(t.db);
    expect(all.items).toHaveLength(7);
    expect(all.nextCursor).toBeNull();
    expect(all.items.find((n) => n.name === 'other-1')?.state).toBeNull();
  });

  it('rejects bad limits and foreign cursors with a clear error', async () => {
    await expect(listNodes(t.db, { limit: 0 })).rejects.toBeInstanceOf(InvalidPageRequestError);
    await expect(listNodes(t.db, { limit: 1.5 })).rejects.toThrow(/limit must be/);
    await expect(listNodes(t.db, { cursor: 'garbage!' })).rejects.toBeInstanceOf(InvalidPageRequestError);
    await expect(listNodes(t.db, { cursor: Buffer.from('[1]').toString('base64url') })).rejects.toThrow(/cursor/);
  });
});
