import { beforeEach, expect, it } from 'vitest';
import { getOp, listOpsByNode, type OpRecord } from '../../src/db/repositories/ops.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';
import { opFor, seedNodes, writeOps } from './fixtures.ts';

// Every op write goes through the commit function (src/db/commit-function.ts): these tests write
// with it and read with the repository.
describeEachBackend('ops repository', (t) => {
  let nodeId: string;
  beforeEach(async () => {
    await truncateAll(t.db);
    nodeId = (await seedNodes(t.db, 1))[0]!.id;
  });

  it('inserts many ops and reads one back with every field', async () => {
    const requestedAt = new Date('2025-02-03T04:05:06.007Z');
    await writeOps(t.db, [
      opFor(nodeId, { id: 'op-1', action: 'cycle', origin: 'lifecycle', requestedBy: null, requestedAt }),
      opFor(nodeId, { id: 'op-2' }),
    ]);
    expect(await getOp(t.db, 'op-1')).toEqual({
      id: 'op-1', nodeId, action: 'cycle', origin: 'lifecycle', requestedBy: null, state: 'pending', error: null,
      attempts: 0, requestedAt, startedAt: null, finishedAt: null,
    } satisfies OpRecord);
    expect((await getOp(t.db, 'op-2'))?.requestedBy).toBe('alice');
    expect(await getOp(t.db, 'nope')).toBeUndefined();
  });

  it('refuses an unknown node and values outside the domain', async () => {
    await expect(writeOps(t.db, [opFor('ghost')])).rejects.toThrow(/foreign key/);
    await expect(writeOps(t.db, [opFor(nodeId, { action: 'explode' as 'on' })])).rejects.toThrow(/action/);
    await expect(writeOps(t.db, [opFor(nodeId, { state: 'done' as 'pending' })])).rejects.toThrow(/state/);
  });

  it('applies many state transitions in one call without erasing what is known', async () => {
    await writeOps(t.db, [opFor(nodeId, { id: 'a' }), opFor(nodeId, { id: 'b' })]);
    const started = new Date('2025-01-01T00:00:01.000Z');
    const finished = new Date('2025-01-01T00:00:09.000Z');
    await writeOps(t.db, [
      opFor(nodeId, { id: 'a', state: 'in_flight', attempts: 1, startedAt: started }),
      opFor(nodeId, { id: 'b', state: 'superseded', finishedAt: finished, error: 'superseded by lifecycle release' }),
    ]);
    // A later write without startedAt or attempts keeps them; finishedAt and error are as given.
    await writeOps(t.db, [opFor(nodeId, { id: 'a', state: 'failed', error: 'bmc unreachable', finishedAt: finished })]);
    expect(await getOp(t.db, 'a')).toMatchObject({ state: 'failed', attempts: 1, startedAt: started, finishedAt: finished, error: 'bmc unreachable' });
    expect(await getOp(t.db, 'b')).toMatchObject({ state: 'superseded', startedAt: null, finishedAt: finished });
  });

  it('upserts: new ops inserted, known ones updated, several writes of one op folded', async () => {
    await writeOps(t.db, [opFor(nodeId, { id: 'known', state: 'pending' })]);
    const started = new Date('2025-01-01T00:00:02.000Z');
    await writeOps(t.db, [
      opFor(nodeId, { id: 'known', state: 'in_flight', attempts: 1, startedAt: started }),
      opFor(nodeId, { id: 'fresh', state: 'pending' }),
      opFor(nodeId, { id: 'fresh', state: 'in_flight', attempts: 2, startedAt: started }),
      opFor(nodeId, { id: 'fresh', state: 'succeeded', attempts: 1, finishedAt: started }),
    ]);
    expect(await getOp(t.db, 'known')).toMatchObject({ state: 'in_flight', attempts: 1, startedAt: started });
    expect(await getOp(t.db, 'fresh')).toMatchObject({ state: 'succeeded', attempts: 2, startedAt: started, finishedAt: started });
  });

  it('pages a node\'s ops newest first, ties broken by id', async () => {
    const base = Date.parse('2025-01-01T00:00:00.000Z');
    // Pairs share a timestamp so the cursor must carry the id as well.
    await writeOps(t.db, Array.from({ length: 11 }, (_, i) => opFor(nodeId, { id: `op-${String(i).padStart(2, '0')}`, requestedAt: new Date(base + Math.floor(i / 2) * 1000) })));
    const other = (await seedNodes(t.db, 1, 'other'))[0]!.id;
    await writeOps(t.db, [opFor(other, { id: 'elsewhere' })]);
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listOpsByNode(t.db, nodeId, { limit: 3, ...(cursor !== undefined && { cursor }) });
      expect(page.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.items.map((o) => o.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(seen).toEqual(Array.from({ length: 11 }, (_, i) => `op-${String(10 - i).padStart(2, '0')}`));
  });
});
