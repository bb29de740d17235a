/**
 * Invariant 10 in the host: a command ends when the BMC can no longer be executing it. A client
 * that gave up (timeout, abort) holds its node and BMC until the command's latest end; a deadline
 * counts from the send, not from the queue; a restored node recovers no earlier than the latest end
 * of the command an earlier run left in flight; read faults are said at once and heal on their own.
 *
 * Time is controlled (issue 13, item 5), as in host.test.ts: the host's timers and the sim BMCs'
 * latency run on one ManualTime, so the sim's command records and the host's stamps are on the same
 * clock, and a test moves it with `time.advance(ms)` instead of sleeping and polling.
 */
import { afterEach, expect, it } from 'vitest';
import { commitBatch, getSnapshot, listOpsByNode, type CommitBatch } from '../../src/db/index.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';
import { createSimDriver } from '../../src/drivers/sim/index.ts';
import { DriverError } from '../../src/drivers/types.ts';
import type { TestableHost } from '../../src/actors/testing.ts';
import { describeEachBackend } from '../support/database.ts';
import { testConfig } from '../support/host.ts';
import { controlledHosts, fleetOn, newTime } from '../support/controlled-host.ts';

const user = { requestedBy: 'tester' };
const hosts: TestableHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

/**
 * A clock for the next test, starting where the latest one left off: the tests share a database,
 * and a node restored from an earlier test must not find its stamps in the future.
 */
describeEachBackend('latest end (invariant 10)', (t) => {
  const started = controlledHosts(() => t.db, hosts);
  const eventKinds = async (nodeId: string) => (await listEventsByNode(t.db, nodeId, { limit: 200 })).items.map((e) => e.kind);

  it('holds a node and its BMC until an abandoned command’s latest end; another BMC is not delayed', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const { host } = await started({ time, fleet });
    const timing = { commandBudgetMs: 300, requestTimeoutMs: 300, settleMs: 900, stepTimeoutMs: 3_000 };
    const stamp = Date.now();
    const a = await host.createNode({ name: `a-${stamp}`, driver: 'sim', params: { bmc: `X-${stamp}`, latencyMs: 20, timing } }, user);
    const b = await host.createNode({ name: `b-${stamp}`, driver: 'sim', params: { bmc: `X-${stamp}`, latencyMs: 20, timing } }, user);
    const c = await host.createNode({ name: `c-${stamp}`, driver: 'sim', params: { bmc: `Y-${stamp}`, latencyMs: 20, timing } }, user);
    await time.advance(40); // the first queries end (a and b one after the other on their BMC)
    expect([a, b, c].every((n) => host.getNode(n.id)!.power.phase === 'idle')).toBe(true);

    fleet.setFault(a.id, { hang: true });
    await host.requestPower(a.id, 'off', user);
    await time.advance(timing.commandBudgetMs); // the hung off is given up on and waited out
    expect(host.getNode(a.id)!.power.command?.state).toBe('waiting_out');
    const waiting = host.getNode(a.id)!.power.command!;
    const latestEnd = Date.parse(waiting.until!);
    expect(latestEnd).toBeGreaterThan(time.now);
    // The latest end covers the whole budget and settle time from the command's send.
    const sent = fleet.history(a.id).find((r) => r.kind === 'off')!;
    expect(latestEnd).toBeGreaterThanOrEqual(sent.start + timing.commandBudgetMs + timing.settleMs);
    fleet.setFault(a.id, {});

    // Same BMC: queued behind the wait; other BMC: served at once. Subscribers see the queue live.
    const bStates: string[] = [];
    host.subscribe((change) => {
      if (change.node.id === b.id && change.node.power.command) bStates.push(change.node.power.command.state);
    });
    await host.requestPower(b.id, 'off', user);
    await host.requestPower(c.id, 'off', user);
    const sentToX = fleet.history(a.id).length + fleet.history(b.id).length;
    await time.advance(latestEnd - time.now - 1); // up to just before the latest end
    expect(host.getNode(c.id)!.power.phase).toBe('idle'); // the node behind another BMC is done
    expect(host.getNode(b.id)!.power.command?.state).toBe('queued_for_bmc');
    expect(fleet.history(a.id).length + fleet.history(b.id).length).toBe(sentToX); // nothing reached BMC X

    await time.advance(1 + 1_000); // both nodes behind the BMC are done
    expect([a, b].every((n) => host.getNode(n.id)!.power.phase === 'idle')).toBe(true);
    const [hung, ...afterA] = fleet.history(a.id).filter((r) => r.start > 0).slice(-2);
    expect(hung!.kind).toBe('off');
    expect(afterA[0]!.kind).toBe('query');
    expect(afterA[0]!.start).toBeGreaterThanOrEqual(latestEnd);
    expect(bStates).toContain('queued_for_bmc');
    expect(bStates.indexOf('sent')).toBeGreaterThan(bStates.indexOf('queued_for_bmc'));
    const bOff = fleet.history(b.id).find((r) => r.kind === 'off')!;
    expect(bOff.start).toBeGreaterThanOrEqual(latestEnd);
    expect(fleet.overlaps().nodeOverlaps).toBe(0);
    expect(await eventKinds(a.id)).toContain('command_abandoned');
    const op = (await listOpsByNode(t.db, a.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op.state).toBe('succeeded');
  });

  it('counts a step’s deadline from its send: a command queued behind the global cap longer than its deadline still succeeds', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const { host } = await started({ time, fleet, config: testConfig({ SWITCHBOARD_GLOBAL_CONCURRENCY: '1' }) });
    const stamp = Date.now();
    const slow = await host.createNode({ name: `slow-${stamp}`, driver: 'sim', params: { latencyMs: 1_600, timeoutMs: 10_000 } }, user);
    const quick = await host.createNode(
      { name: `quick-${stamp}`, driver: 'sim', params: { latencyMs: 120, initialPower: 'on', timing: { commandBudgetMs: 200, requestTimeoutMs: 200, settleMs: 0, stepTimeoutMs: 300 } } },
      user,
    );
    // The first queries end, one after the other under the cap (those of nodes restored from earlier tests too).
    await time.advance(2_000);
    expect([slow, quick].every((n) => host.getNode(n.id)!.power.phase === 'idle')).toBe(true);
    await host.requestPower(slow.id, 'off', user);
    await time.advance(0);
    expect(host.getNode(slow.id)!.power.command?.state).toBe('sent'); // the slow off holds the only global slot
    const asked = time.now;
    await host.requestPower(quick.id, 'off', user);
    await time.advance(0);
    expect(host.getNode(quick.id)!.power.command?.state).toBe('queued_for_global_cap');
    // Once sent, its committed latest end counts from the send, not from when it was asked for.
    await time.advance(1_600); // the slow off answers; the quick off is sent
    expect(host.getNode(quick.id)!.power.command?.state).toBe('sent');
    const committed = (await getSnapshot(t.db, quick.id))!.snapshot as { context: { inFlight: { latestEnd: number } } };
    const sent = fleet.history(quick.id).find((r) => r.kind === 'off')!;
    expect(committed.context.inFlight.latestEnd).toBeGreaterThanOrEqual(sent.start + 200);
    // The quick off answers; its verifying read waits under the cap for the slow node's, then answers.
    await time.advance(120 + 1_600 + 120);
    expect(host.getNode(quick.id)!.power.phase).toBe('idle');
    // It waited longer than its whole committed window (start grace + budget + step timeout) …
    expect(time.now - asked).toBeGreaterThan(1_300);
    // … and still succeeded at its first attempt, because its instants count from its send.
    const op = (await listOpsByNode(t.db, quick.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op.state).toBe('succeeded');
    expect(op.attempts).toBe(1);
  });

  it('after a crash, recovers a node no earlier than its command’s latest end, holding its BMC meanwhile, and says what it found', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    let crashed = false;
    const first = await started({ time, fleet, commit: (batch: CommitBatch) => (crashed ? new Promise(() => {}) : commitBatch(t.db, batch)) });
    const stamp = Date.now();
    const timing = { commandBudgetMs: 800, requestTimeoutMs: 800, settleMs: 1_200, stepTimeoutMs: 5_000 };
    const a = await first.host.createNode({ name: `a-${stamp}`, driver: 'sim', params: { bmc: `R-${stamp}`, latencyMs: 400, initialPower: 'on', timing } }, user);
    const b = await first.host.createNode({ name: `b-${stamp}`, driver: 'sim', params: { bmc: `R-${stamp}`, latencyMs: 20, timing } }, user);
    await time.advance(400 + 20); // the first queries end, one after the other on their BMC
    expect([a, b].every((n) => first.host.getNode(n.id)!.power.phase === 'idle')).toBe(true);
    await first.host.requestPower(a.id, 'off', user);
    await time.advance(0);
    expect(first.host.getNode(a.id)!.power.command?.state).toBe('sent');
    crashed = true;
    hosts.splice(hosts.indexOf(first.host), 1);
    time.settleWith(async () => {}); // the dead host's commits never settle
    const stored = (await getSnapshot(t.db, a.id))!.snapshot as { context: { inFlight: { latestEnd: number } } };
    const latestEnd = stored.context.inFlight.latestEnd;
    const restartedAt = time.now;
    const lastBeforeRestart = Math.max(...[...fleet.history(a.id), ...fleet.history(b.id)].map((r) => r.id));
    expect(latestEnd).toBeGreaterThan(restartedAt);
    const sent = fleet.history(a.id).find((r) => r.kind === 'off')!;
    expect(latestEnd).toBeGreaterThanOrEqual(sent.start + timing.commandBudgetMs + timing.settleMs);

    const second = await started({ time, fleet });
    await time.advance(0);
    expect(second.host.getNode(a.id)!.power.command?.state).toBe('waiting_out'); // the restored node waits out the old command
    await time.advance(latestEnd - time.now - 1);
    // Nothing reached the BMC of the restored node after the restart before the old command's latest end.
    const sentAfterRestart = () => [...fleet.history(a.id), ...fleet.history(b.id)].filter((r) => r.id > lastBeforeRestart);
    expect(sentAfterRestart()).toEqual([]);
    await time.advance(1 + 1_000); // both nodes settle after the restart
    expect([a, b].every((n) => second.host.getNode(n.id)!.power.phase === 'idle')).toBe(true);
    const afterRestart = sentAfterRestart();
    expect(afterRestart.length).toBeGreaterThan(0);
    for (const r of afterRestart) expect(r.start).toBeGreaterThanOrEqual(latestEnd);
    expect(fleet.history(a.id).filter((r) => r.kind === 'off')).toHaveLength(1);
    const view = second.host.getNode(a.id)!;
    expect(view.power.observed).toBe('off');
    // The recovery's finding is recorded.
    await second.host.internals.settled();
    const kinds = await eventKinds(a.id);
    expect(kinds).toContain('recovery_verified');
    expect(kinds).toContain('recovery_started');
    void first.host.stop(); // it "died": its timers and actors stop, its hung commits never land
  });

  it('stamps again and sends a command the spawn helper refused as late (it never reached the BMC), without spending an attempt', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const sim = createSimDriver({ fleet });
    let refusals = 0;
    const lateOnce = {
      ...sim,
      powerOff: (target: never, signal: AbortSignal) =>
        refusals++ === 0 ? Promise.reject(new DriverError('not_sent', 'ipmitool was not started: its start window closed')) : sim.powerOff(target, signal),
    };
    const { host } = await started({ time, fleet, drivers: { sim: lateOnce as never } });
    const node = await host.createNode({ name: `late-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, initialPower: 'on' } }, user);
    await time.advance(10); // the first query ends
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    await host.requestPower(node.id, 'off', user);
    await time.advance(1_000); // the off is done
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    expect(refusals).toBe(2);
    expect(fleet.history(node.id).filter((r) => r.kind === 'off')).toHaveLength(1);
    const op = (await listOpsByNode(t.db, node.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await eventKinds(node.id)).not.toContain('retry_scheduled');
  });

  it('says at once that a BMC cannot be read during verification, and clears it when it answers again', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const { host } = await started({ time, fleet });
    const node = await host.createNode({ name: `v-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, settleMs: 1_500, initialPower: 'on' } }, user);
    await time.advance(10); // the first query ends
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    await host.requestPower(node.id, 'off', user);
    await time.advance(10); // the off is acknowledged and being verified
    expect(['waiting', 'polling']).toContain(host.getNode(node.id)!.power.phase);
    fleet.setFault(node.id, { unreachable: true });
    // Within the next poll and read (20 + 10 ms), well under a second, the read fault shows.
    await time.advance(100);
    expect(host.getNode(node.id)!.power.readError).not.toBeNull();
    expect(await eventKinds(node.id)).toContain('bmc_unreadable'); // an event says so
    fleet.setFault(node.id, {});
    await time.advance(1_500 + 1_000); // the off completes
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    expect(host.getNode(node.id)!.power.readError).toBeNull();
    expect(host.getNode(node.id)!.power.observed).toBe('off');
    expect(await eventKinds(node.id)).toContain('bmc_readable');
  });

  it('re-checks a BMC that could not be read on its own, with backoff and no periodic sync, until it answers', async () => {
    const time = newTime();
    const fleet = fleetOn(time);
    const { host } = await started({ time, fleet, config: testConfig({ SWITCHBOARD_SYNC_INTERVAL_MS: '0', SWITCHBOARD_HEAL_BASE_MS: '200' }) });
    const node = await host.createNode({ name: `h-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, timing: { attempts: 1 } } }, user);
    await time.advance(10); // the first query ends
    expect(host.getNode(node.id)!.power.phase).toBe('idle');
    fleet.setFault(node.id, { unreachable: true });
    await host.requestPower(node.id, 'off', user);
    await time.advance(100); // the op fails with the BMC unreadable
    expect(host.getNode(node.id)!.power.observed).toBe('error');
    const queries = () => fleet.history(node.id).filter((r) => r.kind === 'query').length;
    const queriesBefore = queries();
    // Still unreachable: it is checked again on its own, more than once.
    await time.advance(200 + 400 + 2 * 10);
    expect(queries()).toBeGreaterThanOrEqual(queriesBefore + 2);
    fleet.setFault(node.id, {});
    await time.advance(800 + 10); // the node heals on its own
    expect(host.getNode(node.id)!.power.observed).toBe('off');
    expect(host.getNode(node.id)!.power.readError).toBeNull();
    expect(await eventKinds(node.id)).toContain('bmc_readable'); // an event says the BMC answers again
  });
});
