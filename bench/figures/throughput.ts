/**
 * Issue 3a: persisted transitions per second through the host (sim driver, zero latency), against
 * a naive loop that writes one snapshot upsert per transition from 8 connections. Both run on the
 * same database, one after the other.
 *
 * The host is driven closed-loop: every node, as soon as its op has finished, gets the next one
 * (on, off, on, ...), so a few thousand nodes keep the host saturated. A transition counts once
 * its group commit landed (HostStats.committedTransitions).
 */
import type { Kysely } from 'kysely';
import { upsertSnapshots, type Database } from '../../src/db/index.ts';
import { MACHINE_VERSION } from '../../src/machines/node-machine.ts';
import { createBenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { benchHost } from '../lib/host.ts';
import { idleSnapshot, seedSimNodes, seededId, simSettings } from '../lib/seed.ts';
import { sleep } from '../lib/stats.ts';

const WORKERS = 8;

async function naiveRate(db: Kysely<Database>, ids: readonly string[], warmupMs: number, windowMs: number): Promise<number> {
  const { snapshot } = idleSnapshot(simSettings({}), 'broken');
  const seq = new Map(ids.map((id) => [id, 1]));
  let written = 0;
  // Deadlines by clock, not timers: PGlite answers without yielding to the timer phase, so a
  // timer-based stop would never fire while the workers run.
  const countFrom = performance.now() + warmupMs;
  const end = countFrom + windowMs;
  const worker = async (w: number): Promise<void> => {
    for (let i = w; ; i += WORKERS) {
      const nodeId = ids[i % ids.length]!;
      const next = seq.get(nodeId)! + 1;
      seq.set(nodeId, next);
      await upsertSnapshots(db, [{ nodeId, machineVersion: MACHINE_VERSION, seq: next, snapshot, status: 'broken', observed: 'on', desired: 'on' }]);
      const now = performance.now();
      if (now >= end) return;
      if (now >= countFrom) written++;
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
  return (written / windowMs) * 1000;
}

async function hostRate(db: Kysely<Database>, ids: readonly string[], warmupMs: number, windowMs: number): Promise<{ rate: number; opsPerS: number; batch: number }> {
  const { host } = await benchHost(db, { env: { SWITCHBOARD_SYNC_INTERVAL_MS: '0', SWITCHBOARD_VERIFY_POLL_MS: '10' } });
  await host.start();
  let stop = false;
  let finishedOps = 0;
  const next = new Map<string, 'on' | 'off'>(ids.map((id) => [id, 'on']));
  const request = (id: string): void => {
    if (stop) return;
    const action = next.get(id)!;
    next.set(id, action === 'on' ? 'off' : 'on');
    host.requestPower(id, action, { requestedBy: 'bench' }).catch(() => {
      if (!stop) setTimeout(() => request(id), 10);
    });
  };
  const unsubscribe = host.subscribe((change) => {
    const p = change.node.power;
    if (next.has(change.node.id) && p.inFlight === null && p.pending === null) {
      finishedOps++;
      setImmediate(() => request(change.node.id));
    }
  });
  try {
    for (const id of ids) request(id);
    await sleep(warmupMs);
    const s0 = host.stats();
    const ops0 = finishedOps;
    const t0 = performance.now();
    await sleep(windowMs);
    const s1 = host.stats();
    const t1 = performance.now();
    const secs = (t1 - t0) / 1000;
    return {
      rate: (s1.committedTransitions - s0.committedTransitions) / secs,
      opsPerS: (finishedOps - ops0) / secs,
      batch: (s1.committedTransitions - s0.committedTransitions) / Math.max(1, s1.commits - s0.commits),
    };
  } finally {
    stop = true;
    unsubscribe();
    await host.stop();
  }
}

export const throughputFigure: Figure = {
  name: 'throughput',
  title: 'persisted transitions per second (host vs naive upserts)',
  async run(ctx: FigureContext) {
    const nodes = ctx.quick ? 1_000 : 4_000;
    const warmupMs = ctx.quick ? 1_000 : 2_000;
    const windowMs = ctx.quick ? 3_000 : 10_000;
    const bdb = await createBenchDatabase(ctx.serverUrl, 'throughput');
    try {
      let handle = await bdb.open();
      await seedSimNodes(handle.db, { count: nodes * 2, status: 'broken' });
      await handle.close();
      const hostIds = Array.from({ length: nodes }, (_, i) => seededId(i));
      const naiveIds = Array.from({ length: nodes }, (_, i) => seededId(nodes + i));

      handle = await bdb.open({ poolSize: WORKERS });
      ctx.log(`naive: ${WORKERS} workers, one upsert per transition, ${windowMs / 1000} s`);
      const naive = await naiveRate(handle.db, naiveIds, warmupMs, windowMs);
      await handle.close();

      handle = await bdb.open();
      ctx.log(`host: ${nodes} sim nodes cycling on/off, ${windowMs / 1000} s`);
      const measured = await hostRate(handle.db, hostIds, warmupMs, windowMs);
      await handle.close();

      const connections = bdb.spec.backend === 'pglite'
        ? `PGlite has a single connection, so the naive loop ran ${WORKERS} concurrent workers on it`
        : `the naive loop used a pool of ${WORKERS} connections`;
      return [{
        key: 'throughput.transitions_per_s',
        label: 'persisted transitions/s through the host (sim, 0 ms latency)',
        value: measured.rate,
        unit: 'transitions/s',
        baseline: naive,
        target: { on: 'ratio', better: 'higher', limit: 3 },
        note: `${nodes} nodes cycling on/off (${measured.opsPerS.toFixed(0)} ops/s, ${measured.batch.toFixed(0)} transitions per group commit); ` +
          `baseline: one snapshot upsert per transition (no op or event rows, so it writes less than the host); ${connections}; ${bdb.spec.backend}`,
      }];
    } finally {
      await bdb.dispose();
    }
  },
};
