/**
 * Invariant 10 in the host: a command ends when the BMC can no longer be executing it. A client
 * that gave up (timeout, abort) holds its node and BMC until the command's latest end; a deadline
 * counts from the send, not from the queue; a restored node recovers no earlier than the latest end
 * of the command an earlier run left in flight; read faults are said at once and heal on their own.
 */
import { afterEach, expect, it } from 'vitest';
import { commitBatch, getSnapshot, listOpsByNode, type CommitBatch } from '../../src/db/index.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';
import { createSimDriver, SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { DriverError } from '../../src/drivers/types.ts';
import type { Host } from '../../src/actors/types.ts';
import { describeEachBackend } from '../support/database.ts';
import { buildTestHost, testConfig, until } from '../support/host.ts';

const user = { requestedBy: 'tester' };
const hosts: Host[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

/** Wall-clock ms of a sim command record (the sim keeps performance.now()). */
const wall = (perfMs: number) => performance.timeOrigin + perfMs;
const TOLERANCE_MS = 5;

describeEachBackend('latest end (invariant 10)', (t) => {
  async function started(options: Parameters<typeof buildTestHost>[1] = {}) {
    const built = buildTestHost(t.db, options);
    hosts.push(built.host);
    await built.host.start();
    return built;
  }
  const eventKinds = async (nodeId: string) => (await listEventsByNode(t.db, nodeId, { limit: 200 })).items.map((e) => e.kind);

  it('holds a node and its BMC until an abandoned command’s latest end; another BMC is not delayed', async () => {
    const fleet = new SimBmcFleet();
    const { host } = await started({ fleet });
    const timing = { commandBudgetMs: 300, requestTimeoutMs: 300, settleMs: 900, stepTimeoutMs: 3_000 };
    const stamp = Date.now();
    const a = await host.createNode({ name: `a-${stamp}`, driver: 'sim', params: { bmc: `X-${stamp}`, latencyMs: 20, timing } }, user);
    const b = await host.createNode({ name: `b-${stamp}`, driver: 'sim', params: { bmc: `X-${stamp}`, latencyMs: 20, timing } }, user);
    const c = await host.createNode({ name: `c-${stamp}`, driver: 'sim', params: { bmc: `Y-${stamp}`, latencyMs: 20, timing } }, user);
    await until(() => [a, b, c].every((n) => host.getNode(n.id)!.power.phase === 'idle'), 'the first queries end');

    fleet.setFault(a.id, { hang: true });
    await host.requestPower(a.id, 'off', user);
    await until(() => host.getNode(a.id)!.power.command?.state === 'waiting_out', 'the hung off is given up on and waited out');
    const waiting = host.getNode(a.id)!.power.command!;
    const latestEnd = Date.parse(waiting.until!);
    expect(latestEnd).toBeGreaterThan(Date.now());
    // The latest end covers the whole budget and settle time from the command's send.
    const sent = fleet.history(a.id).find((r) => r.kind === 'off')!;
    expect(latestEnd).toBeGreaterThanOrEqual(wall(sent.start) + timing.commandBudgetMs + timing.settleMs - TOLERANCE_MS);
    fleet.setFault(a.id, {});

    // Same BMC: queued behind the wait; other BMC: served at once. Subscribers see the queue live.
    const bStates: string[] = [];
    host.subscribe((change) => {
      if (change.node.id === b.id && change.node.power.command) bStates.push(change.node.power.command.state);
    });
    await host.requestPower(b.id, 'off', user);
    await host.requestPower(c.id, 'off', user);
    await until(() => host.getNode(c.id)!.power.phase === 'idle', 'the node behind another BMC is done');
    expect(Date.now()).toBeLessThan(latestEnd);
    expect(host.getNode(b.id)!.power.command?.state).toBe('queued_for_bmc');

    await until(() => [a, b].every((n) => host.getNode(n.id)!.power.phase === 'idle'), 'both nodes behind the BMC are done', 10_000);
    const [hung, ...afterA] = fleet.history(a.id).filter((r) => r.start > 0).slice(-2);
    expect(hung!.kind).toBe('off');
    expect(afterA[0]!.kind).toBe('query');
    expect(wall(afterA[0]!.start)).toBeGreaterThanOrEqual(latestEnd - TOLERANCE_MS);
    expect(bStates).toContain('queued_for_bmc');
    expect(bStates.indexOf('sent')).toBeGreaterThan(bStates.indexOf('queued_for_bmc'));
    const bOff = fleet.history(b.id).find((r) => r.kind === 'off')!;
    expect(wall(bOff.start)).toBeGreaterThanOrEqual(latestEnd - TOLERANCE_MS);
    expect(fleet.overlaps().nodeOverlaps).toBe(0);
    expect(await eventKinds(a.id)).toContain('command_abandoned');
    const op = (await listOpsByNode(t.db, a.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op.state).toBe('succeeded');
  });

  it('counts a step’s deadline from its send: a command queued behind the global cap longer than its deadline still succeeds', async () => {
    const fleet = new SimBmcFleet();
    const { host } = await started({ fleet, config: testConfig({ SWITCHBOARD_GLOBAL_CONCURRENCY: '1' }) });
    const stamp = Date.now();
    const slow = await host.createNode({ name: `slow-${stamp}`, driver: 'sim', params: { latencyMs: 1_600, timeoutMs: 10_000 } }, user);
    const quick = await host.createNode(
      { name: `quick-${stamp}`, driver: 'sim', params: { latencyMs: 120, initialPower: 'on', timing: { commandBudgetMs: 200, requestTimeoutMs: 200, settleMs: 0, stepTimeoutMs: 300 } } },
      user,
    );
    await until(() => [slow, quick].every((n) => host.getNode(n.id)!.power.phase === 'idle'), 'the first queries end', 10_000);
    await host.requestPower(slow.id, 'off', user);
    await until(() => host.getNode(slow.id)!.power.command?.state === 'sent', 'the slow off holds the only global slot');
    const asked = Date.now();
    await host.requestPower(quick.id, 'off', user);
    await until(() => host.getNode(quick.id)!.power.command?.state === 'queued_for_global_cap', 'the quick off waits for the global cap');
    // Once sent, its committed latest end counts from the send, not from when it was asked for.
    await until(() => host.getNode(quick.id)!.power.command?.state === 'sent', 'the quick off is sent', 10_000);
    const committed = (await getSnapshot(t.db, quick.id))!.snapshot as { context: { inFlight: { latestEnd: number } } };
    const sent = fleet.history(quick.id).find((r) => r.kind === 'off')!;
    expect(committed.context.inFlight.latestEnd).toBeGreaterThanOrEqual(wall(sent.start) + 200 - TOLERANCE_MS);
    await until(() => host.getNode(quick.id)!.power.phase === 'idle', 'the quick off is done', 10_000);
    // It waited longer than its whole committed window (start grace + budget + step timeout) …
    expect(Date.now() - asked).toBeGreaterThan(1_300);
    // … and still succeeded at its first attempt, because its instants count from its send.
    const op = (await listOpsByNode(t.db, quick.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op.state).toBe('succeeded');
    expect(op.attempts).toBe(1);
  });

  it('after a crash, recovers a node no earlier than its command’s latest end, holding its BMC meanwhile, and says what it found', async () => {
    const fleet = new SimBmcFleet();
    let crashed = false;
    const first = await started({ fleet, commit: (batch: CommitBatch) => (crashed ? new Promise(() => {}) : commitBatch(t.db, batch)) });
    const stamp = Date.now();
    const timing = { commandBudgetMs: 800, requestTimeoutMs: 800, settleMs: 1_200, stepTimeoutMs: 5_000 };
    const a = await first.host.createNode({ name: `a-${stamp}`, driver: 'sim', params: { bmc: `R-${stamp}`, latencyMs: 400, initialPower: 'on', timing } }, user);
    const b = await first.host.createNode({ name: `b-${stamp}`, driver: 'sim', params: { bmc: `R-${stamp}`, latencyMs: 20, timing } }, user);
    await until(() => [a, b].every((n) => first.host.getNode(n.id)!.power.phase === 'idle'), 'the first queries end');
    await first.host.requestPower(a.id, 'off', user);
    await until(() => first.host.getNode(a.id)!.power.command?.state === 'sent', 'the off is sent');
    crashed = true;
    hosts.splice(hosts.indexOf(first.host), 1);
    const stored = (await getSnapshot(t.db, a.id))!.snapshot as { context: { inFlight: { latestEnd: number } } };
    const latestEnd = stored.context.inFlight.latestEnd;
    const restartedAt = Date.now();
    expect(latestEnd).toBeGreaterThan(restartedAt);
    const sent = fleet.history(a.id).find((r) => r.kind === 'off')!;
    expect(latestEnd).toBeGreaterThanOrEqual(wall(sent.start) + timing.commandBudgetMs + timing.settleMs - TOLERANCE_MS);

    const second = await started({ fleet });
    await until(() => second.host.getNode(a.id)!.power.command?.state === 'waiting_out', 'the restored node waits out the old command', 2_000).catch(() => {});
    await until(() => [a, b].every((n) => second.host.getNode(n.id)!.power.phase === 'idle'), 'both nodes settle after the restart', 15_000);
    // Nothing reached the BMC of the restored node after the restart before the old command's latest end.
    const afterRestart = [...fleet.history(a.id), ...fleet.history(b.id)].filter((r) => wall(r.start) >= restartedAt);
    expect(afterRestart.length).toBeGreaterThan(0);
    for (const r of afterRestart) expect(wall(r.start)).toBeGreaterThanOrEqual(latestEnd - TOLERANCE_MS);
    expect(fleet.history(a.id).filter((r) => r.kind === 'off')).toHaveLength(1);
    const view = second.host.getNode(a.id)!;
    expect(view.power.observed).toBe('off');
    await until(async () => (await eventKinds(a.id)).includes('recovery_verified'), 'the recovery’s finding is recorded');
    const kinds = await eventKinds(a.id);
    expect(kinds).toContain('recovery_started');
    void first.host.stop(); // it "died": its timers and actors stop, its hung commits never land
  });

  it('stamps again and sends a command the spawn helper refused as late (it never reached the BMC), without spending an attempt', async () => {
    const fleet = new SimBmcFleet();
    const sim = createSimDriver({ fleet });
    let refusals = 0;
    const lateOnce = {
      ...sim,
      powerOff: (target: never, signal: AbortSignal) =>
        refusals++ === 0 ? Promise.reject(new DriverError('not_sent', 'ipmitool was not started: its start window closed')) : sim.powerOff(target, signal),
    };
    const { host } = await started({ fleet, drivers: { sim: lateOnce as never } });
    const node = await host.createNode({ name: `late-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, initialPower: 'on' } }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    await host.requestPower(node.id, 'off', user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the off is done');
    expect(refusals).toBe(2);
    expect(fleet.history(node.id).filter((r) => r.kind === 'off')).toHaveLength(1);
    const op = (await listOpsByNode(t.db, node.id, { limit: 10 })).items.find((o) => o.action === 'off')!;
    expect(op).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await eventKinds(node.id)).not.toContain('retry_scheduled');
  });

  it('says at once that a BMC cannot be read during verification, and clears it when it answers again', async () => {
    const fleet = new SimBmcFleet();
    const { host } = await started({ fleet });
    const node = await host.createNode({ name: `v-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, settleMs: 1_500, initialPower: 'on' } }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    await host.requestPower(node.id, 'off', user);
    await until(() => ['waiting', 'polling'].includes(host.getNode(node.id)!.power.phase), 'the off is acknowledged and being verified');
    fleet.setFault(node.id, { unreachable: true });
    const vanished = Date.now();
    await until(() => host.getNode(node.id)!.power.readError !== null, 'the read fault shows', 1_000);
    expect(Date.now() - vanished).toBeLessThan(1_000);
    await until(async () => (await eventKinds(node.id)).includes('bmc_unreadable'), 'an event says so', 1_000);
    fleet.setFault(node.id, {});
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the off completes', 10_000);
    expect(host.getNode(node.id)!.power.readError).toBeNull();
    expect(host.getNode(node.id)!.power.observed).toBe('off');
    expect(await eventKinds(node.id)).toContain('bmc_readable');
  });

  it('re-checks a BMC that could not be read on its own, with backoff and no periodic sync, until it answers', async () => {
    const fleet = new SimBmcFleet();
    const { host } = await started({ fleet, config: testConfig({ SWITCHBOARD_SYNC_INTERVAL_MS: '0', SWITCHBOARD_HEAL_BASE_MS: '200' }) });
    const node = await host.createNode({ name: `h-${Date.now()}`, driver: 'sim', params: { latencyMs: 10, timing: { attempts: 1 } } }, user);
    await until(() => host.getNode(node.id)!.power.phase === 'idle', 'the first query ends');
    fleet.setFault(node.id, { unreachable: true });
    await host.requestPower(node.id, 'off', user);
    await until(() => host.getNode(node.id)!.power.observed === 'error', 'the op fails with the BMC unreadable', 5_000);
    const queriesBefore = fleet.history(node.id).filter((r) => r.kind === 'query').length;
    // Still unreachable: it is checked again on its own, more than once.
    await until(() => fleet.history(node.id).filter((r) => r.kind === 'query').length >= queriesBefore + 2, 'two re-checks while unreachable', 5_000);
    fleet.setFault(node.id, {});
    await until(() => host.getNode(node.id)!.power.observed === 'off', 'the node heals on its own', 5_000);
    expect(host.getNode(node.id)!.power.readError).toBeNull();
    await until(async () => (await eventKinds(node.id)).includes('bmc_readable'), 'an event says the BMC answers again');
  });
});
