/**
 * Issue 3c: cold restore of 100,000 nodes — a freshly opened database, host.start() until every
 * actor is running — against a plain SELECT of the same rows (nodes with their snapshot as text)
 * and JSON.parse of each snapshot. The host boots with bootQueries off, so this is the restore,
 * not 100,000 BMC queries. Best of a few alternating runs of each, every run on a new connection.
 */
import { sql } from 'kysely';
import { createBenchDatabase, type BenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { benchHost } from '../lib/host.ts';
import { seedSimNodes } from '../lib/seed.ts';

async function plainSelect(bdb: BenchDatabase, count: number): Promise<number> {
  const handle = await bdb.open();
  try {
    const t0 = performance.now();
    const { rows } = await sql<{ id: string; snapshot: string }>`
      select n.*, s.machine_version, s.seq, s.status, s.observed, s.desired, s.updated_at as snapshot_updated_at, s.snapshot::text as snapshot
      from nodes n join node_snapshots s on s.node_id = n.id
      where n.deleted_at is null`.execute(handle.db);
    let parsed = 0;
    for (const row of rows) if (JSON.parse(row.snapshot) !== null) parsed++;
    const ms = performance.now() - t0;
    if (parsed !== count) throw new Error(`the plain select parsed ${parsed} snapshots, expected ${count}`);
    return ms;
  } finally {
    await handle.close();
  }
}

async function hostRestore(bdb: BenchDatabase, count: number): Promise<number> {
  const handle = await bdb.open();
  try {
    const { host } = await benchHost(handle, { env: { SWITCHBOARD_SYNC_INTERVAL_MS: '0' }, bootQueries: false });
    const t0 = performance.now();
    await host.start();
    const ms = performance.now() - t0;
    const stats = host.stats();
    await host.stop();
    if (stats.nodes !== count || stats.faulted !== 0) throw new Error(`restored ${stats.nodes} nodes (${stats.faulted} faulted), expected ${count}`);
    return ms;
  } finally {
    await handle.close();
  }
}

export const restoreFigure: Figure = {
  name: 'restore',
  title: 'cold restore of the fleet (host start vs plain SELECT + JSON.parse)',
  async run(ctx: FigureContext) {
    const count = ctx.quick ? 20_000 : 100_000;
    const runs = ctx.quick ? 1 : 3;
    const bdb = await createBenchDatabase(ctx.serverUrl, 'restore');
    try {
      const handle = await bdb.open();
      ctx.log(`seeding ${count} idle sim nodes`);
      await seedSimNodes(handle.db, { count });
      await handle.close();
      const select: number[] = [];
      const restore: number[] = [];
      for (let i = 0; i < runs; i++) {
        select.push(await plainSelect(bdb, count));
        restore.push(await hostRestore(bdb, count));
        ctx.log(`run ${i + 1}: select ${select[i]!.toFixed(0)} ms, restore ${restore[i]!.toFixed(0)} ms`);
      }
      return [{
        key: 'restore.cold_ms',
        label: `cold restore of ${count} nodes to all actors running`,
        value: Math.min(...restore),
        unit: 'ms',
        baseline: Math.min(...select),
        target: { on: 'ratio', better: 'lower', limit: 2 },
        note: `best of ${runs}; host.start() with bootQueries: false (restore only, no BMC queries) on a freshly opened ${bdb.spec.backend}; ` +
          'baseline: one SELECT of nodes joined with snapshot::text and JSON.parse of every snapshot',
      }];
    } finally {
      await bdb.dispose();
    }
  },
};
