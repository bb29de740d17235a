import { sql } from 'kysely';
import { beforeEach, expect, it } from 'vitest';
import { isForeignKeyViolation, violatedConstraint } from '../../src/db/errors.ts';
import { insertEvents, listEventsByNode } from '../../src/db/repositories/events.ts';
import { describeEachBackend, truncateAll } from '../support/database.ts';
import { seedNodes } from './fixtures.ts';

describeEachBackend('events repository', (t) => {
  let a: string;
  let b: string;
  beforeEach(async () => {
    await truncateAll(t.db);
    const nodes = await seedNodes(t.db, 2);
    a = nodes[0]!.id;
    b = nodes[1]!.id;
  });

  it('appends many events in one call and returns ids in the order given', async () => {
    const at = new Date('2025-05-06T07:08:09.010Z');
    const ids = await insertEvents(t.db, [
      { nodeId: a, at, kind: 'op_accepted', origin: 'user', actor: 'alice', opId: 'op-1', detail: { action: 'on' } },
      { nodeId: b, at, kind: 'drift_adopted', origin: 'sync' },
      { nodeId: a, at, kind: 'op_started', opId: 'op-1' },
    ]);
    expect(ids).toHaveLength(3);
    expect([...ids].sort((x, y) => x - y)).toEqual(ids);
    const history = await listEventsByNode(t.db, a);
    expect(history.items.map((e) => [e.id, e.kind])).toEqual([[ids[2], 'op_started'], [ids[0], 'op_accepted']]);
    expect(history.items[1]).toEqual({
      id: ids[0], nodeId: a, at, kind: 'op_accepted', origin: 'user', actor: 'alice', opId: 'op-1', detail: { action: 'on' },
    });
    expect(history.items[0]).toMatchObject({ origin: null, actor: null, detail: {} });
    expect(await insertEvents(t.db, [])).toEqual([]);
  });

  it('refuses an event without a kind or with a non-object detail', async () => {
    await expect(insertEvents(t.db, [{ nodeId: a, at: new Date(), kind: '' }])).rejects.toThrow(/kind/);
    await expect(insertEvents(t.db, [{ nodeId: a, at: new Date(), kind: 'x', detail: [1] as unknown as Record<string, unknown> }])).rejects.toThrow(/detail/);
  });

  it('refuses history for a node that does not exist, and a hard delete of a node that has history', async () => {
    // A per-batch check in the commit function stands in for the foreign key (migration 0003).
    const err = await insertEvents(t.db, [{ nodeId: a, at: new Date(), kind: 'ok' }, { nodeId: 'ghost', at: new Date(), kind: 'lost' }]).catch((e: unknown) => e);
    expect(isForeignKeyViolation(err)).toBe(true);
    expect(violatedConstraint(err)).toBe('node_events_node_id_fkey');
    expect((err as { detail?: string }).detail).toMatch(/ghost/);
    expect((await listEventsByNode(t.db, a)).items).toEqual([]);
    await insertEvents(t.db, [{ nodeId: a, at: new Date(), kind: 'ok' }]);
    const refused = await sql`delete from nodes where id = ${a}`.execute(t.db).catch((e: unknown) => e);
    expect(isForeignKeyViolation(refused)).toBe(true);
    expect(violatedConstraint(refused)).toBe('node_events_node_id_fkey');
    await sql`delete from nodes where id = ${b}`.execute(t.db);
    expect((await sql<{ n: number }>`select count(*)::int as n from nodes`.execute(t.db)).rows[0]?.n).toBe(1);
  });

  it('pages a node\'s history newest first', async () => {
    const at = new Date();
    await insertEvents(t.db, Array.from({ length: 10 }, (_, i) => ({ nodeId: i % 3 === 0 ? b : a, at, kind: `k${i}` })));
    const kinds: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listEventsByNode(t.db, a, { limit: 4, ...(cursor !== undefined && { cursor }) });
      kinds.push(...page.items.map((e) => e.kind));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(kinds).toEqual(['k8', 'k7', 'k5', 'k4', 'k2', 'k1']);
  });
});
