/**
 * The host against a real database (PGlite; PostgreSQL too when DATABASE_URL is set) and the
 * simulated BMC fleet, which records every command and reports overlaps.
 *
 * Time is controlled (issue 13, item 5): the host's timers and the sim BMCs' latency run on one
 * ManualTime, and a test moves it with `time.advance(ms)` instead of sleeping and polling. What
 * stays real is what is not time: database I/O, the group commit's 2 ms window (settled() drains
 * it) and the slow commits of the group-commit tests, which stand for a busy database.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { commitBatch, getSnapshot, listOpsByNode, getOp, type CommitBatch } from '../../src/db/index.ts';
import { createSimDriver, DEFAULT_SIM_TIMEOUT_MS } from '../../src/drivers/sim/index.ts';
import type { PowerDriver } from '../../src/drivers/types.ts';
import type { TestableHost } from '../../src/actors/testing.ts';
import { START_GRACE_MS } from '../../src/machines/ops.ts';
import { describeEachBackend } from '../support/database.ts';
import { testConfig } from '../support/host.ts';
import { controlledHosts, fleetOn, newTime } from '../support/controlled-host.ts';

const user = { requestedBy: 'test' };
const hosts: TestableHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.stop();
});

/**
 * A clock for the next test, starting where the latest one left off: the tests share a database,
 * and a node restored from an earlier test must not find its stamps in the future.
 */
/**
 * Long enough for every node on the host to end what it is doing, those restored from earlier
 * tests of this database too: a command's latest end (start window + the sim's 5 s budget) and
 * the query after it.
 */
const QUIET_MS = 30_000;

/** A promise that resolves the next time `signal` is called. */
function signalled(): { reached: Promise<void>; signal: () => void } {
  let signal = (): void => {};
  const reached = new Promise<void>((resolve) => (signal = resolve));
  return { reached, signal };
}

describeEachBackend('actor host', (t) => {
  const started = controlledHosts(() => t.db, hosts);

  it('acknowledges only what is committed: op, desired state and snapshot are in the database (invariant 4)', async () => {
    const { host, time } = await started();
    const node = await host.createNode({ name: `n-${Date.now()}`, driver: 'sim', params: { latencyMs: 50 } }, user);
    await time.advance(50); // the first query ends
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
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
    const time = newTime();
    const fleet = fleetOn(time);
    const sim = createSimDriver({ fleet });
    const seen: string[] = [];
    const offSent = signalled();
    let db = t.db;
    // A driver that, when a command reaches it, reads what the database says is in flight.
    const checking: PowerDriver = {
      ...sim,
      async powerOff(target, signal) {
        const snap = await getSnapshot(db, target.nodeId);
        const inFlight = (snap?.snapshot as { context: { inFlight: { step: string } | null } }).context.inFlight;
        seen.push(`off:${inFlight?.step}:${snap?.desired}`);
        offSent.signal();
        return sim.powerOff(target as never, signal);
      },
    } as PowerDriver;
    db = t.db;
    const { host } = await started({ time, fleet, drivers: { sim: checking as never } });
    const node = await host.createNode({ name: `wal-${Date.now()}`, driver: 'sim', params: {} }, user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    await host.requestPower(node.id, 'off', user);
    await offSent.reached; // the off command reached the driver
    expect(seen[0]).toBe('off:off:off');
  });

  it('never runs two commands on one node, nor more than one per BMC, under conflicting requests (invariants 1, 2, 9)', async () => {
    const time = newTime();
    const fleet = fleetOn(time, { bmcLimit: 1 });
    const { host } = await started({ time, fleet });
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
      // Some commands answer between rounds (latency 5 ms), so the next round meets nodes busy, verifying and idle.
      await time.advance(3);
    }
    await time.advance(QUIET_MS);
    expect(host.listNodes().every((n) => n.power.phase === 'idle')).toBe(true);
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
    const time = newTime();
    const fleet = fleetOn(time);
    // "Crash": from this flag on the first host writes nothing more (its commits never land), as a
    // killed process would; the sim BMC keeps running and finishes the off.
    let crashed = false;
    const first = await started({ time, fleet, commit: (batch: CommitBatch) => (crashed ? new Promise(() => {}) : commitBatch(t.db, batch)) });
    const node = await first.host.createNode({ name: `crash-${Date.now()}`, driver: 'sim', params: { latencyMs: 300 } }, user);
    await time.advance(300); // the first query ends
    expect(first.host.getNode(node.id)!.power.phase).toBe('idle');
    await first.host.requestPower(node.id, 'off', user);
    await time.advance(0);
    expect(first.host.getNode(node.id)!.power.phase).toBe('dispatching'); // the off is in flight
    crashed = true;
    hosts.splice(hosts.indexOf(first.host), 1);
    time.settleWith(async () => {}); // the dead host's commits never settle
    await time.advance(400);
    expect(fleet.power(node.id)).toBe('off');
    const before = fleet.stats();
    const second = await started({ time, fleet, bootQueries: false });
    // The off's latest end (its start window, budget and settle time) passes before anything is
    // sent (invariant 10); then the recovery query takes its latency.
    await time.advance(START_GRACE_MS + DEFAULT_SIM_TIMEOUT_MS + 300);
    expect(second.host.getNode(node.id)!.power.phase).toBe('idle'); // recovered
    void first.host.stop(); // its timers and actors stop; its hung commits never land (it "died")
    const view = second.host.getNode(node.id)!;
    expect(view.power.observed).toBe('off');
    expect(view.power.desired).toBe('off');
    const after = fleet.stats();
    // Recovery asked the BMC (a query) and sent no second off.
    expect(JSON.stringify(after)).not.toBe(JSON.stringify(before));
    const offs = fleet.history(node.id).filter((c) => c.kind === 'off');
    expect(offs).toHaveLength(1);
    // The view is in memory; the commit of the recovery lands a batch window later (settled).
    await second.host.internals.settled();
    expect((await listOpsByNode(t.db, node.id, { limit: 50 })).items.find((o) => o.action === 'off')?.state).toBe('succeeded');
  });

  it('a hung BMC does not delay a node behind another BMC', async () => {
    const time = newTime();
    const fleet = fleetOn(time, { bmcLimit: 1 });
    const { host } = await started({ time, fleet });
    const stuck = await host.createNode({ name: `stuck-${Date.now()}`, driver: 'sim', params: { bmc: 'A', timeoutMs: 5000 } }, user);
    const fine = await host.createNode({ name: `fine-${Date.now()}`, driver: 'sim', params: { bmc: 'B', latencyMs: 5 } }, user);
    await time.advance(QUIET_MS);
    expect(host.listNodes().every((n) => n.power.phase === 'idle')).toBe(true);
    fleet.setFault(stuck.id, { hang: true });
    await host.requestPower(stuck.id, 'off', user);
    const t0 = time.now;
    await host.requestPower(fine.id, 'off', user);
    await time.advance(1_999);
    expect(host.getNode(fine.id)!.power.observed).toBe('off'); // the other BMC answered
    expect(time.now - t0).toBeLessThan(2000);
    expect(host.getNode(stuck.id)!.power.phase).toBe('dispatching');
  });

  it('a failed commit answers 503, changes nothing, and recovers when the database is back', async () => {
    let failing = false;
    const { commitBatch } = await import('../../src/db/commit-batch.ts');
    const { host, time } = await started({
      commit: async (batch) => {
        if (failing) throw new Error('connection terminated');
        return commitBatch(t.db, batch);
      },
    });
    const node = await host.createNode({ name: `dbfail-${Date.now()}`, driver: 'sim', params: {} }, user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    const before = host.getNode(node.id)!;
    failing = true;
    await expect(host.requestPower(node.id, 'off', user)).rejects.toMatchObject({ code: 'database_unavailable' });
    const after = host.getNode(node.id)!;
    expect(after.power).toEqual(before.power);
    expect(host.stats().databaseAvailable).toBe(false);
    failing = false;
    // The host asks the database again a second later (on its scheduler).
    await time.advance(1_000);
    expect(host.stats().databaseAvailable).toBe(true);
    const retry = await host.requestPower(node.id, 'off', user);
    expect(retry.result).toBe('accepted');
  });

  it('shows only committed state: a change waiting for its commit is not visible, and one that fails never was', async () => {
    type Gate = { release: (fail: boolean) => void };
    const gates: Gate[] = [];
    let held = signalled();
    let holding: string | null = null;
    const { commitBatch } = await import('../../src/db/commit-batch.ts');
    const { host, time } = await started({
      commit: async (batch) => {
        // Other nodes of this database (earlier tests) commit as usual.
        if (holding !== null && batch.snapshots.some((s) => s.nodeId === holding)) {
          const fail = await new Promise<boolean>((resolve) => {
            gates.push({ release: resolve });
            held.signal();
          });
          if (fail) throw new Error('connection terminated');
        }
        return commitBatch(t.db, batch);
      },
    });
    const node = await host.createNode({ name: `held-${Date.now()}`, driver: 'sim', params: {} }, user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    const seen: string[] = [];
    host.subscribe((change) => {
      if (change.node.id === node.id) seen.push(`${change.node.power.desired}/${change.node.power.phase}`);
    });
    const before = host.getNode(node.id)!;

    holding = node.id;
    const failed = host.requestPower(node.id, 'off', user);
    await held.reached; // the commit is held
    expect(gates).toHaveLength(1);
    expect(host.getNode(node.id)!.power).toEqual(before.power);
    expect(host.listNodes().find((n) => n.id === node.id)!.power).toEqual(before.power);
    gates.shift()!.release(true);
    await expect(failed).rejects.toMatchObject({ code: 'database_unavailable' });
    expect(host.getNode(node.id)!.power).toEqual(before.power);
    expect(seen).toEqual([]);

    // The host asks the database again a second later (on its scheduler).
    await time.advance(1_000);
    expect(host.stats().databaseAvailable).toBe(true);
    held = signalled();
    const accepted = host.requestPower(node.id, 'off', user);
    await held.reached; // the second commit is held
    expect(gates).toHaveLength(1);
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
    const { host, secretKey, time } = await started();
    const good = await host.createNode({ name: `good-${Date.now()}`, driver: 'sim', params: {} }, user);
    const bad = await host.createNode({ name: `bad-${Date.now()}`, driver: 'sim', params: {} }, user);
    await time.advance(QUIET_MS);
    expect(host.listNodes().every((n) => n.power.phase === 'idle')).toBe(true);
    await host.stop();
    hosts.splice(hosts.indexOf(host), 1);
    await t.db.updateTable('node_snapshots').set({ snapshot: JSON.stringify({ status: 'error', garbage: true }) as never }).where('node_id', '=', bad.id).execute();
    const second = await started({ secretKey });
    expect(second.host.getNode(bad.id)!.fault).toMatch(/could not restore/);
    await expect(second.host.requestPower(bad.id, 'off', user)).rejects.toMatchObject({ code: 'node_faulted' });
    expect((await second.host.requestPower(good.id, 'off', user)).result).toBe('accepted');
  });

  it('stores snapshots without settings and derives them from the node row at restore, old snapshots too', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const { host, secretKey } = await started({ time, fleet, bootQueries: false });
    const node = await host.createNode({ name: `settings-${Date.now()}`, driver: 'sim', params: {}, driftPolicy: 'adopt' }, user);
    await host.requestPower(node.id, 'off', user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.phase).toBe('idle'); // the op ends
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
    const second = await started({ time, fleet, secretKey, bootQueries: false });
    expect(second.host.getNode(node.id)).toMatchObject({ driftPolicy: 'enforce', fault: null, power: { desired: 'off', observed: 'off' } });
    // The actor runs with the row's policy: a button press seen by the next sync is undone
    // (enforce), not adopted as the new desired state.
    fleet.pressButton(node.id, 'on');
    second.host.internals.fireTimer(node.id, 'sync');
    await time.advance(0);
    // The drift is enforced away.
    expect(fleet.power(node.id)).toBe('off');
    expect(second.host.getNode(node.id)!.power.phase).toBe('idle');
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
      const { host, time } = await started({ config, commit: rec.commit, bootQueries: false });
      const nodes = await Promise.all(Array.from({ length: 40 }, (_, i) => host.createNode({ name: `gc-${Date.now()}-${i}`, driver: 'sim', params: {} }, user)));
      await host.internals.settled();
      // Back-to-back requests stage a second change of a node while its first is uncommitted.
      const answers = await Promise.all(nodes.flatMap((n) => [host.lifecycle(n.id, 'mark_broken', user), host.requestPower(n.id, 'on', user), host.requestPower(n.id, 'off', user)]));
      expect(answers.map((a) => a.result).filter((r) => r !== 'accepted' && r !== 'coalesced')).toEqual([]);
      await time.advance(QUIET_MS);
      expect(host.listNodes().every((n) => n.power.phase === 'idle')).toBe(true);
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
      const hangs = signalled();
      const commit = async (batch: CommitBatch) => {
        if (holding) {
          holding = false;
          await new Promise<void>((r) => {
            hold = r;
            hangs.signal();
          });
        }
        return commitBatch(t.db, batch);
      };
      const { host } = await started({ config: testConfig({ SWITCHBOARD_COMMIT_SHARDS: '4' }), commit, bootQueries: false });
      const [a, b] = [await host.createNode({ name: `hang-a-${Date.now()}`, driver: 'sim', params: {} }, user), await host.createNode({ name: `hang-b-${Date.now()}`, driver: 'sim', params: {} }, user)];
      await host.internals.settled();
      holding = true;
      const stuck = host.requestPower(a.id, 'off', user);
      await hangs.reached; // the first commit hangs
      expect(hold).not.toBeNull();
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
