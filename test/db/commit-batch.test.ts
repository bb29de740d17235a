import type { KyselyPlugin } from 'kysely';
import { beforeEach, expect, it } from 'vitest';
import { commitBatch, StaleSnapshotError, type CommitBatch } from '../../src/db/commit-batch.ts';
import { inTransaction, type Executor } from '../../src/db/executor.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';
import { insertNode } from '../../src/db/repositories/nodes.ts';
import { getOp } from '../../src/db/repositories/ops.ts';
import { getSnapshot, upsertSnapshots } from '../../src/db/repositories/snapshots.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';
import { countLiveNodes, newNode, opFor, seedNodes, snapshotFor, writeOps } from './fixtures.ts';

/** Counts the statements Kysely sends (BEGIN/COMMIT are not statements it compiles). */
function statementCounter(): { plugin: KyselyPlugin; count: () => number } {
  let n = 0;
  return {
    plugin: {
      transformQuery: (args) => {
        n++;
        return args.node;
      },
      transformResult: (args) => Promise.resolve(args.result),
    },
    count: () => n,
  };
}

async function rowCounts(db: Executor) {
  const count = async (table: 'node_snapshots' | 'power_ops' | 'node_events') =>
    Number((await db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  return { snapshots: await count('node_snapshots'), ops: await count('power_ops'), events: await count('node_events') };
}

describeEachBackend('commitBatch', (t) => {
  beforeEach(async () => {
    await truncateAll(t.db);
  });

  it('writes snapshots, new and changed ops, and events of many nodes in one statement', async () => {
    const nodes = await seedNodes(t.db, 50);
    await upsertSnapshots(t.db, nodes.map((n) => snapshotFor(n.id, 1)));
    await writeOps(t.db, [opFor(nodes[0]!.id, { id: 'old-op' })]);
    const at = new Date('2025-01-01T00:00:05.000Z');
    const batch: CommitBatch = {
      snapshots: nodes.map((n) => snapshotFor(n.id, 2, { status: 'deployed', observed: 'on', desired: 'on' })),
      ops: [
        opFor(nodes[0]!.id, { id: 'old-op', state: 'in_flight', startedAt: at, attempts: 1 }),
        ...nodes.map((n) => opFor(n.id, { id: `new-${n.id}`, state: 'pending', requestedAt: at })),
      ],
      events: nodes.flatMap((n) => [
        { nodeId: n.id, at, kind: 'op_accepted', origin: 'user' as const, actor: 'alice', opId: `new-${n.id}` },
        { nodeId: n.id, at, kind: 'status_changed', detail: { from: 'ready', to: 'deployed' } },
      ]),
    };
    const counter = statementCounter();
    const result = await commitBatch(t.db.withPlugin(counter.plugin), batch);
    expect(counter.count()).toBe(1);
    expect(result.eventIds).toHaveLength(100);
    expect(await rowCounts(t.db)).toEqual({ snapshots: 50, ops: 51, events: 100 });
    expect(await getSnapshot(t.db, nodes[7]!.id)).toMatchObject({ seq: 2, status: 'deployed', observed: 'on', desired: 'on' });
    expect(await getOp(t.db, 'old-op')).toMatchObject({ state: 'in_flight', attempts: 1, startedAt: at });
    const history = await listEventsByNode(t.db, nodes[3]!.id);
    expect(history.items.map((e) => e.kind)).toEqual(['status_changed', 'op_accepted']);
    expect(history.items.map((e) => e.id)).toEqual([result.eventIds[7], result.eventIds[6]]);
  });

  it('lands nothing when the last event breaks a constraint', async () => {
    const nodes = await seedNodes(t.db, 10);
    await upsertSnapshots(t.db, nodes.map((n) => snapshotFor(n.id, 1)));
    const before = await rowCounts(t.db);
    const batch: CommitBatch = {
      snapshots: nodes.map((n) => snapshotFor(n.id, 2, { status: 'broken' })),
      ops: nodes.map((n) => opFor(n.id)),
      events: [...nodes.map((n) => ({ nodeId: n.id, at: new Date(), kind: 'ok' })), { nodeId: 'no-such-node', at: new Date(), kind: 'bad' }],
    };
    await expect(commitBatch(t.db, batch)).rejects.toThrow(/foreign key/);
    expect(await rowCounts(t.db)).toEqual(before);
    for (const n of nodes) expect((await getSnapshot(t.db, n.id))?.status).toBe('ready');
  });

  it('lands nothing when the last op breaks a constraint', async () => {
    const nodes = await seedNodes(t.db, 5);
    const batch: CommitBatch = {
      snapshots: nodes.map((n) => snapshotFor(n.id, 1)),
      ops: [...nodes.map((n) => opFor(n.id)), opFor(nodes[0]!.id, { attempts: -1 })],
      events: [],
    };
    await expect(commitBatch(t.db, batch)).rejects.toThrow(/attempts/);
    expect(await rowCounts(t.db)).toEqual({ snapshots: 0, ops: 0, events: 0 });
  });

  it('refuses the whole batch when one snapshot would go backwards', async () => {
    const nodes = await seedNodes(t.db, 4);
    await upsertSnapshots(t.db, nodes.map((n, i) => snapshotFor(n.id, i === 3 ? 9 : 1)));
    const batch: CommitBatch = {
      snapshots: nodes.map((n) => snapshotFor(n.id, 2, { status: 'broken' })),
      ops: [opFor(nodes[0]!.id)],
      events: [{ nodeId: nodes[0]!.id, at: new Date(), kind: 'x' }],
    };
    const err: unknown = await commitBatch(t.db, batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleSnapshotError);
    expect((err as StaleSnapshotError).nodeIds).toEqual([nodes[3]!.id]);
    expect(await rowCounts(t.db)).toEqual({ snapshots: 4, ops: 0, events: 0 });
    expect((await getSnapshot(t.db, nodes[0]!.id))?.seq).toBe(1);
  });

  it('joins a caller\'s transaction, so a node and its first snapshot commit or fail together', async () => {
    const node = newNode();
    await expect(inTransaction(t.db, async (trx) => {
      await insertNode(trx, node);
      await commitBatch(trx, { snapshots: [snapshotFor(node.id, 1)], ops: [], events: [{ nodeId: node.id, at: new Date(), kind: 'created' }] });
      throw new Error('later step failed');
    })).rejects.toThrow('later step failed');
    expect(await countLiveNodes(t.db)).toBe(0);
    expect(await rowCounts(t.db)).toEqual({ snapshots: 0, ops: 0, events: 0 });
  });

  it('does nothing for an empty batch', async () => {
    const counter = statementCounter();
    expect(await commitBatch(t.db.withPlugin(counter.plugin), { snapshots: [], ops: [], events: [] })).toEqual({ eventIds: [] });
    expect(counter.count()).toBe(0);
  });

  it('measures one batch of 500 transitions against 500 single-transition commits', async () => {
    const nodes = await seedNodes(t.db, 500, 'bench');
    const transition = (nodeId: string, seq: number) => ({
      snapshot: snapshotFor(nodeId, seq, { status: 'deployed', observed: 'on', desired: 'on' }),
      event: { nodeId, at: new Date(), kind: 'power_changed', origin: 'sync' as const, detail: { observed: 'on', seq } },
    });
    let started = performance.now();
    for (const n of nodes) {
      const { snapshot, event } = transition(n.id, 1);
      await commitBatch(t.db, { snapshots: [snapshot], ops: [], events: [event] });
    }
    const singleMs = performance.now() - started;

    const all = nodes.map((n) => transition(n.id, 2));
    started = performance.now();
    await commitBatch(t.db, { snapshots: all.map((x) => x.snapshot), ops: [], events: all.map((x) => x.event) });
    const batchMs = performance.now() - started;

    expect(await rowCounts(t.db)).toEqual({ snapshots: 500, ops: 0, events: 1000 });
    console.log(`[${t.backend}] 500 transitions (snapshot + event): one batch ${batchMs.toFixed(1)} ms; ` +
      `500 single commits ${singleMs.toFixed(1)} ms (${(singleMs / batchMs).toFixed(1)}x)`);
  });
});
