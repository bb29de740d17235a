/**
 * The host against a real database (PGlite; PostgreSQL too when DATABASE_URL is set) and the
 * simulated BMC fleet, which records every command and reports overlaps.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { commitBatch, getSnapshot, listOpsByNode, getOp, type CommitBatch } from '../../src/db/index.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import type { PowerDriver } from '../../src/drivers/types.ts';
import type { Host } from '../../src/actors/types.ts';
import { describeEachBackend } from '../support/database.ts';
import { buildTestHost, testConfig, until } from '../support/host.ts';

const user = { requestedBy: 'test' };
const hosts: Host[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

describeEachBackend('actor host', (t) => {
  async function started(options: Parameters<typeof buildTestHost>[1] = {}) {
    const built = buildTestHost(t.db, options);
    hosts.push(built.host);
    await built.host.start();
    return built;
  }

  it('acknowledges only what is committed: op, desired state and snapshot are in the database (invariant 4)', async () => {
    const { host } = await started();
    const node = await host.createNode({ name: `n-${Date.now()}`, driver: 'sim', params: { latencyMs: 50 } }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    const answer = await host.requestPower(node.id, 'off', user);
    expect(answer.result).toBe('accepted');
    const op = await getOp(t.db, answer.op!.id);
    expect(op?.state).toMatch(/pending|in_flight/);
    expect(op?.requestedBy).toBe('test');
    const snap = await getSnapshot(t.db, node.id);
    expect(snap?.desired).toBe('off');
    expect((snap?.snapshot as { context: { inFlight: { opId: string } } }).context.inFlight.opId).toBe(answer.op!.id);
  });

  it('sends no command before the snapshot naming it is committed (invariant 5)', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    const seen: string[] = [];
    let db = t.db;
    // A driver that, when a command reaches it, reads what the database says is in flight.
    const checking: PowerDriver = {
      ...sim,
      async powerOff(target, signal) {
        const snap = await getSnapshot(db, target.nodeId);
        const inFlight = (snap?.snapshot as { context: { inFlight: { step: string } | null } }).context.inFlight;
        seen.push(`off:${inFlight?.step}:${snap?.desired}`);
        return sim.powerOff(target as never, signal);
      },
    } as PowerDriver;
    db = t.db;
    const { host } = await started({ fleet, drivers: { sim: checking as never } });
    const node = await host.createNode({ name: `wal-${Date.now()}`, driver: 'sim', params: {} }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'idle');
    await host.requestPower(node.id, 'off', user);
    await until(() => seen.length > 0, 'the off command reached the driver');
    expect(seen[0]).toBe('off:off:off');
  });

  it('never runs two commands on one node, nor more than one per BMC, under conflicting requests (invariants 1, 2, 9)', async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 1 });
    const { host } = await started({ fleet });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const n = await host.createNode({ name: `c${i}-${Date.now()}`, driver: 'sim', params: { latencyMs: 5, bmc: `chassis-${i % 3}`, seed: i } }, user);
      ids.push(n.id);
    }
    const actions = ['on', 'off', 'cycle', 'soft_off', 'query'] as const;
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      await Promise.all(
        ids.map(async (id, i) => {
          await host.lifecycle(id, i % 2 ? 'mark_broken' : 'commission', user).catch(() => {});
          const a = await host.requestPower(id, actions[(round + i) % actions.length]!, user);
          outcomes.push(a.result === 'refused' ? a.refusal!.code : a.result);
        }),
      );
    }
    await until(() => host.listNodes().every((n) => n.power.phase === 'idle'), 'every node is idle', 30_000);
    const report = fleet.overlaps();
    expect(report.nodeOverlaps).toBe(0);
    expect(report.bmcLimitViolations).toBe(0);
    expect(outcomes).toContain('accepted');
    expect(outcomes.some((o) => o === 'slots_full' || o === 'not_allowed_in_status' || o === 'coalesced')).toBe(true);
    for (const id of ids) {
      const view = host.getNode(id)!;
      if (view.power.desired !== null && view.power.lastError === null) expect(view.power.observed).toBe(view.power.desired);
    }
  });

  it('converges after a crash: a new host verifies the BMC first and never repeats a finished step (invariant 6)', async () => {
    const fleet = new SimBmcFleet();
    // "Crash": from this flag on the first host writes nothing more (its commits never land), as a
    // killed process would; the sim BMC keeps running and finishes the off.
    let crashed = false;
    const first = await started({ fleet, commit: (batch: CommitBatch) => (crashed ? new Promise(() => {}) : commitBatch(t.db, batch)) });
    const node = await first.host.createNode({ name: `crash-${Date.now()}`, driver: 'sim', params: { latencyMs: 300 } }, user);
    await until(() => first.host.getNode(node.id)!.power.phase === 'idle', 'idle');
    await first.host.requestPower(node.id, 'off', user);
    await until(() => first.host.getNode(node.id)!.power.phase === 'dispatching', 'off in flight');
    crashed = true;
    hosts.splice(hosts.indexOf(first.host), 1);
    await new Promise((r) => setTimeout(r, 400));
    expect(fleet.power(node.id)).toBe('off');
    const before = fleet.stats();
    const second = await started({ fleet, bootQueries: false });
    // The off's latest end (its start window, budget and settle time) passes before anything is sent (invariant 10).
    await until(() => second.host.getNode(node.id)!.power.phase === 'idle', 'recovered', 15_000);
    void first.host.stop(); // its timers and actors stop; its hung commits never land (it "died")
    const view = second.host.getNode(node.id)!;
    expect(view.power.observed).toBe('off');
    expect(view.power.desired).toBe('off');
    const after = fleet.stats();
    // Recovery asked the BMC (a query) and sent no second off.
    expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
    const offs = fleet.history(node.id).filter((c) => c.kind === 'off');
    expect(offs).toHaveLength(1);
    // The view is in memory; the commit of the recovery lands a batch window later.
    await until(async () => (await listOpsByNode(t.db, node.id, { limit: 50 })).items.find((o) => o.action === 'off')?.state === 'succeeded', 'the off op is committed as succeeded');
  });

  it('a hung BMC does not delay a node behind another BMC', async () => {
    const fleet = new SimBmcFleet({ bmcLimit: 1 });
    const { host } = await started({ fleet });
    const stuck = await host.createNode({ name: `stuck-${Date.now()}`, driver: 'sim', params: { bmc: 'A', timeoutMs: 5000 } }, user);
    const fine = await host.createNode({ name: `fine-${Date.now()}`, driver: 'sim', params: { bmc: 'B', latencyMs: 5 } }, user);
    await until(() => host.listNodes().every((n) => n.power.phase === 'idle'), 'idle');
    fleet.setFault(stuck.id, { hang: true });
    await host.requestPower(stuck.id, 'off', user);
    const t0 = Date.now();
    await host.requestPower(fine.id, 'off', user);
    await until(() => host.getNode(fine.id)!.power.observed === 'off', 'the other BMC answered');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(host.getNode(stuck.id)!.power.phase).toBe('dispatching');
  });

  it('a failed commit answers 503, changes nothing, and recovers when the database is back', async () => {
    let failing = false;
    const { commitBatch } = await import('../../src/db/commit-batch.ts');
    const { host } = await started({
      commit: async (batch) => {
        if (failing) throw new Error('connection terminated');
        return commitBatch(t.db, batch);
      },
    });
    const node = await host.createNode({ name: `dbfail-${Date.now()}`, driver: 'sim', params: {} }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'idle');
    const before = host.getNode(node.id)!;
    failing = true;
    await expect(host.requestPower(node.id, 'off', user)).rejects.toMatchObject({ code: 'database_unavailable' });
    const after = host.getNode(node.id)!;
    expect(after.power).toEqual(before.power);
    expect(host.stats().databaseAvailable).toBe(false);
    failing = false;
    await until(() => host.stats().databaseAvailable, 'the database probe succeeded', 5000);
    const retry = await host.requestPower(node.id, 'off', user);
    expect(retry.result).toBe('accepted');
  });

  it('shows only committed state: a change waiting for its commit is not visible, and one that fails never was', async () => {
    type Gate = { release: (fail: boolean) => void };
    const gates: Gate[] = [];
    let holding: string | null = null;
    const { commitBatch } = await import('../../src/db/commit-batch.ts');
    const { host } = await started({
      commit: async (batch) => {
        // Other nodes of this database (earlier tests) commit as usual.
        if (holding !== null && batch.snapshots.some((s) => s.nodeId === holding)) {
          const fail = await new Promise<boolean>((resolve) => gates.push({ release: resolve }));
          if (fail) throw new Error('connection terminated');
        }
        return commitBatch(t.db, batch);
      },
    });
    const node = await host.createNode({ name: `held-${Date.now()}`, driver: 'sim', params: {} }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'idle');
    const seen: string[] = [];
    host.subscribe((change) => {
      if (change.node.id === node.id) seen.push(`${change.node.power.desired}/${change.node.power.phase}`);
    });
    const before = host.getNode(node.id)!;

    holding = node.id;
    const failed = host.requestPower(node.id, 'off', user);
    await until(() => gates.length === 1, 'the commit is held');
    expect(host.getNode(node.id)!.power).toEqual(before.power);
    expect(host.listNodes().find((n) => n.id === node.id)!.power).toEqual(before.power);
    gates.shift()!.release(true);
    await expect(failed).rejects.toMatchObject({ code: 'database_unavailable' });
    expect(host.getNode(node.id)!.power).toEqual(before.power);
    expect(seen).toEqual([]);

    await until(() => host.stats().databaseAvailable, 'the database probe succeeded', 5000);
    const accepted = host.requestPower(node.id, 'off', user);
    await until(() => gates.length === 1, 'the second commit is held');
    expect(host.getNode(node.id)!.power).toEqual(before.power);
    holding = null;
    gates.shift()!.release(false);
    const answer = await accepted;
    expect(answer.result).toBe('accepted');
    expect(host.getNode(node.id)!.power.desired).toBe('off');
    expect(answer.node.power.inFlight?.opId).toBe(answer.op!.id);
    expect(seen[0]).toMatch(/^off\//);
  });

  it('shows a node whose snapshot cannot be restored as faulted, without blocking the others', async () => {
    const { host, secretKey } = await started();
    const good = await host.createNode({ name: `good-${Date.now()}`, driver: 'sim', params: {} }, user);
    const bad = await host.createNode({ name: `bad-${Date.now()}`, driver: 'sim', params: {} }, user);
    await until(() => host.listNodes().every((n) => n.power.phase === 'idle'), 'idle');
    await host.stop();
    hosts.splice(hosts.indexOf(host), 1);
    await t.db.updateTable('node_snapshots').set({ snapshot: JSON.stringify({ status: 'error', garbage: true }) as never }).where('node_id', '=', bad.id).execute();
    const second = await started({ secretKey });
    expect(second.host.getNode(bad.id)!.fault).toMatch(/could not restore/);
    await expect(second.host.requestPower(bad.id, 'off', user)).rejects.toMatchObject({ code: 'node_faulted' });
    expect((await second.host.requestPower(good.id, 'off', user)).result).toBe('accepted');
  });

  it('stores snapshots without settings and derives them from the node row at restore, old snapshots too', async () => {
    const fleet = new SimBmcFleet();
    const { host, secretKey } = await started({ fleet, bootQueries: false });
    const node = await host.createNode({ name: `settings-${Date.now()}`, driver: 'sim', params: {}, driftPolicy: 'adopt' }, user);
    await host.requestPower(node.id, 'off', user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the op ends');
    await host.internals.settled();
    const stored = (await getSnapshot(t.db, node.id))!.snapshot as { context: Record<string, unknown> };
    expect(stored.context).not.toHaveProperty('settings');
    expect(stored.context.desired).toBe('off');
    await host.stop();
    hosts.splice(hosts.indexOf(host), 1);

    // The row says enforce (a PATCH whose CONFIGURE never committed); a snapshot in the old
    // format still carries adopt. The row wins.
    await t.db.updateTable('nodes').set({ drift_policy: 'enforce' }).where('id', '=', node.id).execute();
    const oldFormat = { ...stored, context: { ...stored.context, settings: { driftPolicy: 'adopt', softOffEscalate: true, queryable: true, maxAttempts: 9, stepTimeoutMs: 1, softOffTimeoutMs: 1, retryBaseMs: 1, retryMaxMs: 1 } } };
    await t.db.updateTable('node_snapshots').set({ snapshot: JSON.stringify(oldFormat) as never }).where('node_id', '=', node.id).execute();
    const second = await started({ fleet, secretKey, bootQueries: false });
    expect(second.host.getNode(node.id)).toMatchObject({ driftPolicy: 'enforce', fault: null, power: { desired: 'off', observed: 'off' } });
    // The actor runs with the row's policy: a button press seen by the next sync is undone
    // (enforce), not adopted as the new desired state.
    fleet.pressButton(node.id, 'on');
    second.host.internals.fireTimer(node.id, 'sync');
    await until(() => fleet.power(node.id) === 'off' && second.host.getNode(node.id)!.power.phase === 'idle', 'the drift is enforced away');
    expect(second.host.getNode(node.id)!.power.desired).toBe('off');
    const ops = await listOpsByNode(t.db, node.id);
    expect(ops.items.some((o) => o.origin === 'sync' && o.action === 'off' && o.state === 'succeeded')).toBe(true);
  });

  describe('group commit', () => {
    /** Commits through the real function, slowly, noting how many run at once and the order each node's snapshots land in. */
    function recordingCommit(delayMs: number) {
      const landed = new Map<string, number[]>();
      let running = 0;
      const stats = { maxConcurrent: 0, commits: 0 };
      const commit = async (batch: CommitBatch) => {
        running++;
        stats.maxConcurrent = Math.max(stats.maxConcurrent, running);
        try {
          await new Promise((r) => setTimeout(r, delayMs));
          const result = await commitBatch(t.db, batch);
          stats.commits++;
          for (const snap of batch.snapshots) landed.set(snap.nodeId, [...(landed.get(snap.nodeId) ?? []), snap.seq]);
          return result;
        } finally {
          running--;
        }
      };
      return { commit, landed, stats };
    }

    it('spreads a busy load over the committers while each node\'s changes land in order on one of them', async () => {
      const rec = recordingCommit(15);
      const config = testConfig({ SWITCHBOARD_COMMIT_SHARDS: '4', SWITCHBOARD_COMMIT_MAX_BATCH: '16' });
      const { host } = await started({ config, commit: rec.commit, bootQueries: false });
      const nodes = await Promise.all(Array.from({ length: 40 }, (_, i) => host.createNode({ name: `gc-${Date.now()}-${i}`, driver: 'sim', params: {} }, user)));
      await host.internals.settled();
      // Back-to-back requests stage a second change of a node while its first is uncommitted.
      const answers = await Promise.all(nodes.flatMap((n) => [host.lifecycle(n.id, 'mark_broken', user), host.requestPower(n.id, 'on', user), host.requestPower(n.id, 'off', user)]));
      expect(answers.map((a) => a.result).filter((r) => r !== 'accepted' && r !== 'coalesced')).toEqual([]);
      await until(() => host.listNodes().every((n) => n.power.phase === 'idle'), 'every node is idle');
      await host.internals.settled();
      expect(rec.stats.maxConcurrent).toBeGreaterThan(1);
      for (const n of nodes) {
        const seqs = rec.landed.get(n.id)!;
        expect(seqs.length).toBeGreaterThan(3);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
        expect((await getSnapshot(t.db, n.id))?.seq).toBe(seqs[seqs.length - 1]);
      }
    });

    it('does not queue new work behind a commit that hangs', async () => {
      let hold: (() => void) | null = null;
      let holding = false;
      const commit = async (batch: CommitBatch) => {
        if (holding) {
          holding = false;
          await new Promise<void>((r) => (hold = r));
        }
        return commitBatch(t.db, batch);
      };
      const { host } = await started({ config: testConfig({ SWITCHBOARD_COMMIT_SHARDS: '4' }), commit, bootQueries: false });
      const [a, b] = [await host.createNode({ name: `hang-a-${Date.now()}`, driver: 'sim', params: {} }, user), await host.createNode({ name: `hang-b-${Date.now()}`, driver: 'sim', params: {} }, user)];
      await host.internals.settled();
      holding = true;
      const stuck = host.requestPower(a.id, 'off', user);
      await until(() => hold !== null, 'the first commit hangs');
      await new Promise((r) => setTimeout(r, 10)); // longer than the commit window
      try {
        // Another node's request goes to another committer and is answered meanwhile.
        const other = await Promise.race([host.requestPower(b.id, 'off', user), new Promise((r) => setTimeout(() => r('still waiting after 2 s'), 2000))]);
        expect(other).toMatchObject({ result: 'accepted' });
      } finally {
        hold!();
      }
      expect((await stuck).result).toBe('accepted');
    });

    it('sends a burst that fits one batch as one commit, not one per committer', async () => {
      const rec = recordingCommit(5);
      const { host } = await started({ config: testConfig({ SWITCHBOARD_COMMIT_SHARDS: '4' }), commit: rec.commit, bootQueries: false });
      const nodes = [];
      for (let i = 0; i < 20; i++) nodes.push(await host.createNode({ name: `quiet-${Date.now()}-${i}`, driver: 'sim', params: {} }, user));
      await host.internals.settled();
      const before = rec.stats.commits;
      rec.stats.maxConcurrent = 0;
      // Twenty requests in one tick: all join the one committer gathering its window.
      const answers = await Promise.all(nodes.map((n) => host.requestPower(n.id, 'off', user)));
      expect(answers.every((a) => a.result === 'accepted')).toBe(true);
      expect(rec.stats.commits - before).toBe(1);
      expect(rec.stats.maxConcurrent).toBe(1);
    });
  });
});
