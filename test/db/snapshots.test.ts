import { beforeEach, expect, it } from 'vitest';
import { loadFleet } from '../../src/db/load-fleet.ts';
import { sql } from 'kysely';
import { deleteNode, insertNode } from '../../src/db/repositories/nodes.ts';
import { getSnapshot, upsertSnapshots } from '../../src/db/repositories/snapshots.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';
import { newNode, nodeById, seedNodes, snapshotFor } from './fixtures.ts';

describeEachBackend('snapshots repository', (t) => {
  beforeEach(async () => {
    await truncateAll(t.db);
  });

  it('inserts then updates many snapshots in one call, parsed on the way back', async () => {
    const [a, b] = await seedNodes(t.db, 2);
    const first = await upsertSnapshots(t.db, [snapshotFor(a!.id, 1), snapshotFor(b!.id, 1)]);
    expect(first.written.sort()).toEqual([a!.id, b!.id].sort());
    expect(first.stale).toEqual([]);
    const at = new Date('2025-03-04T05:06:07.089Z');
    await upsertSnapshots(t.db, [snapshotFor(a!.id, 2, { status: 'deployed', observed: 'on', desired: 'on', machineVersion: 2, updatedAt: at })]);
    const stored = await getSnapshot(t.db, a!.id);
    expect(stored).toEqual({
      nodeId: a!.id, machineVersion: 2, seq: 2, status: 'deployed', observed: 'on', desired: 'on', updatedAt: at,
      snapshot: snapshotFor(a!.id, 2).snapshot,
    });
    expect((await getSnapshot(t.db, b!.id))?.seq).toBe(1);
  });

  it('refuses a seq that does not go forward and reports which nodes', async () => {
    const [a, b] = await seedNodes(t.db, 2);
    await upsertSnapshots(t.db, [snapshotFor(a!.id, 5, { status: 'ready' }), snapshotFor(b!.id, 5)]);
    const result = await upsertSnapshots(t.db, [
      snapshotFor(a!.id, 4, { status: 'broken' }),
      snapshotFor(b!.id, 5, { status: 'broken' }),
    ]);
    expect(result.written).toEqual([]);
    expect(result.stale.sort()).toEqual([a!.id, b!.id].sort());
    expect((await getSnapshot(t.db, a!.id))).toMatchObject({ seq: 5, status: 'ready' });
    expect((await getSnapshot(t.db, b!.id))).toMatchObject({ seq: 5, status: 'ready' });
  });

  it('keeps the highest seq when one call carries several snapshots of a node', async () => {
    const [a] = await seedNodes(t.db, 1);
    await upsertSnapshots(t.db, [snapshotFor(a!.id, 3, { status: 'three' }), snapshotFor(a!.id, 7, { status: 'seven' }), snapshotFor(a!.id, 5, { status: 'five' })]);
    expect(await getSnapshot(t.db, a!.id)).toMatchObject({ seq: 7, status: 'seven' });
  });

  it('refuses a snapshot for a node that does not exist, and bad observed values', async () => {
    await expect(upsertSnapshots(t.db, [snapshotFor('ghost', 1)])).rejects.toThrow(/foreign key/);
    const [a] = await seedNodes(t.db, 1);
    await expect(upsertSnapshots(t.db, [snapshotFor(a!.id, 1, { observed: 'maybe' as 'on' })])).rejects.toThrow(/observed/);
  });

  it('loads the fleet: every live node with its snapshot or null', async () => {
    const nodes = await seedNodes(t.db, 7);
    await upsertSnapshots(t.db, nodes.slice(0, 4).map((n) => snapshotFor(n.id, 1)));
    await insertNode(t.db, newNode({ id: '0-first', name: 'no-snapshot' }));
    const entries = [];
    for await (const batch of loadFleet(t.db, { batchSize: 3 })) {
      expect(batch.length).toBeLessThanOrEqual(3);
      entries.push(...batch);
    }
    const ids = entries.map((e) => e.node.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...nodes.map((n) => n.id), '0-first'].sort());
    const withSnapshot = entries.filter((e) => e.snapshot !== null).map((e) => e.node.id).sort();
    expect(withSnapshot).toEqual(nodes.slice(0, 4).map((n) => n.id).sort());
    for (const e of entries) if (e.snapshot !== null) expect(e.snapshot.nodeId).toBe(e.node.id);
  });

  it('loads each node and snapshot exactly as the repositories read them, instants to the millisecond', async () => {
    const nodes = await seedNodes(t.db, 5);
    await upsertSnapshots(t.db, nodes.slice(0, 3).map((n, i) => snapshotFor(n.id, i + 2, { updatedAt: new Date(Date.UTC(2025, 2, 4, 5, 6, 7, 89 + i)) })));
    // Microseconds the boot's epoch arithmetic must truncate the way the pg date parser does.
    await sql`update nodes set created_at = '2025-03-04 05:06:07.089512+00', updated_at = '2026-11-30 23:59:59.999999+00'`.execute(t.db);
    await sql`update node_snapshots set updated_at = updated_at + interval '0.000417 seconds' where node_id = ${nodes[1]!.id}`.execute(t.db);
    const entries = [];
    for await (const batch of loadFleet(t.db, { batchSize: 2 })) entries.push(...batch);
    expect(entries.map((e) => e.node.id)).toEqual([...nodes.map((n) => n.id)].sort());
    for (const entry of entries) {
      expect(entry.node).toEqual(await nodeById(t.db, entry.node.id));
      expect(entry.snapshot).toEqual((await getSnapshot(t.db, entry.node.id)) ?? null);
    }
    expect(entries.filter((e) => e.snapshot !== null)).toHaveLength(3);
  });

  it('skips a snapshot written back for a node deleted meanwhile', async () => {
    const nodes = await seedNodes(t.db, 6);
    await upsertSnapshots(t.db, nodes.map((n) => snapshotFor(n.id, 1)));
    const victim = nodes[2]!.id;
    await deleteNode(t.db, victim);
    // The host's last commit for the node lands after the delete.
    await upsertSnapshots(t.db, [snapshotFor(victim, 2)]);
    const fleet: string[] = [];
    for await (const batch of loadFleet(t.db, { batchSize: 2 })) fleet.push(...batch.map((e) => e.node.id));
    expect(fleet.sort()).toEqual(nodes.map((n) => n.id).filter((id) => id !== victim).sort());
  });

  it('rejects a nonsensical batch size', async () => {
    await expect(loadFleet(t.db, { batchSize: -1 }).next()).rejects.toThrow(RangeError);
  });
});
