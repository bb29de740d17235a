/**
 * The host's timers on controlled time (issue 13, item 5): verification polls, retry backoff, the
 * wait for an abandoned command's latest end and the re-check of an unreadable BMC, each at the
 * instant the policy says — not "eventually" — with a clock and scheduler the test moves.
 */
import { afterEach, expect, it } from 'vitest';
import type { TestableHost } from '../../src/actors/testing.ts';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { retryDelay, DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
import { START_GRACE_MS } from '../../src/machines/ops.ts';
import { describeEachBackend } from '../support/database.ts';
import { buildTestHost, testConfig } from '../support/host.ts';
import { ManualTime } from '../support/manual-time.ts';

const user = { requestedBy: 'tester' };
const hosts: TestableHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop()));
});

const POLL_MS = 2_000;
const HEAL_BASE_MS = 5_000;

describeEachBackend('host timers on controlled time', (t) => {
  async function started() {
    const time = new ManualTime();
    const fleet = new SimBmcFleet({ now: time.monotonic });
    const { host } = buildTestHost(t.db, {
      fleet,
      scheduler: time,
      clock: time.clock,
      // The middle of every jitter range, so waits are exact.
      random: () => 0.5,
      config: testConfig({ SWITCHBOARD_VERIFY_POLL_MS: String(POLL_MS), SWITCHBOARD_HEAL_BASE_MS: String(HEAL_BASE_MS), SWITCHBOARD_SYNC_INTERVAL_MS: '0' }),
    });
    hosts.push(host);
    time.settleWith(() => host.internals.settled());
    await host.start();
    return { host, time, fleet };
  }
  const queries = (fleet: SimBmcFleet, id: string) => fleet.history(id).filter((r) => r.kind === 'query').length;
  const offs = (fleet: SimBmcFleet, id: string) => fleet.history(id).filter((r) => r.kind === 'off').length;

  it('polls a step’s verification every poll interval until the BMC reads the target', async () => {
    const { host, time, fleet } = await started();
    const node = await host.createNode({ name: `poll-${Date.now()}`, driver: 'sim', params: { latencyMs: 0, settleMs: 5_000, initialPower: 'on' } }, user);
    await time.advance(0);
    await host.requestPower(node.id, 'off', user);
    await time.advance(0);
    // Acknowledged, read at once (still on: the power changes 5 s after the ack), now waiting.
    expect(host.getNode(node.id)!.power.phase).toBe('waiting');
    const before = queries(fleet, node.id);
    await time.advance(POLL_MS - 1);
    expect(queries(fleet, node.id)).toBe(before);
    await time.advance(1);
    expect(queries(fleet, node.id)).toBe(before + 1);
    expect(host.getNode(node.id)!.power.phase).toBe('waiting');
    await time.advance(2 * POLL_MS);
    // Polls at 2 s (on), 4 s (on), 6 s (off): done.
    expect(queries(fleet, node.id)).toBe(before + 3);
    expect(host.getNode(node.id)!.power).toMatchObject({ phase: 'idle', observed: 'off' });
  });

  it('retries a failed step after exactly the policy’s delay for the drawn jitter', async () => {
    const { host, time, fleet } = await started();
    const node = await host.createNode({ name: `retry-${Date.now()}`, driver: 'sim', params: { latencyMs: 0, initialPower: 'on' } }, user);
    await time.advance(0);
    fleet.setFault(node.id, { failNext: 1 });
    await host.requestPower(node.id, 'off', user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.phase).toBe('backoff');
    expect(offs(fleet, node.id)).toBe(1);
    const wait = retryDelay(DEFAULT_RETRY_POLICY, 1, 0.5);
    await time.advance(wait - 1);
    expect(offs(fleet, node.id)).toBe(1);
    await time.advance(1);
    expect(offs(fleet, node.id)).toBe(2);
    expect(host.getNode(node.id)!.power).toMatchObject({ phase: 'idle', observed: 'off' });
  });

  it('sends nothing to a node whose client gave up until the command’s latest end', async () => {
    const { host, time, fleet } = await started();
    const timing = { commandBudgetMs: 1_000, requestTimeoutMs: 1_000, settleMs: 3_000, stepTimeoutMs: 60_000 };
    const node = await host.createNode({ name: `wait-${Date.now()}`, driver: 'sim', params: { latencyMs: 0, initialPower: 'on', timing } }, user);
    await time.advance(0);
    fleet.setFault(node.id, { hang: true });
    await host.requestPower(node.id, 'off', user);
    await time.advance(0);
    fleet.setFault(node.id, {});
    const before = queries(fleet, node.id);
    await time.advance(timing.commandBudgetMs);
    expect(host.getNode(node.id)!.power.command?.state).toBe('waiting_out');
    // Latest end: the start window (grace), the budget and the settle time, from the stamp.
    const latestEnd = START_GRACE_MS + timing.commandBudgetMs + timing.settleMs;
    await time.advance(latestEnd - timing.commandBudgetMs - 1);
    expect(queries(fleet, node.id)).toBe(before);
    await time.advance(1);
    expect(queries(fleet, node.id)).toBe(before + 1);
  });

  it('re-checks an unreadable BMC with doubling waits, and heals when it answers', async () => {
    const { host, time, fleet } = await started();
    const node = await host.createNode({ name: `heal-${Date.now()}`, driver: 'sim', params: { latencyMs: 0, timing: { attempts: 1 } } }, user);
    await time.advance(0);
    fleet.setFault(node.id, { unreachable: true });
    await host.requestPower(node.id, 'off', user);
    await time.advance(0);
    expect(host.getNode(node.id)!.power.observed).toBe('error');
    const before = queries(fleet, node.id);
    await time.advance(HEAL_BASE_MS - 1);
    expect(queries(fleet, node.id)).toBe(before);
    await time.advance(1);
    expect(queries(fleet, node.id)).toBe(before + 1);
    fleet.setFault(node.id, {});
    await time.advance(2 * HEAL_BASE_MS - 1);
    expect(queries(fleet, node.id)).toBe(before + 1);
    await time.advance(1);
    expect(host.getNode(node.id)!.power).toMatchObject({ observed: 'off', readError: null });
  });
});
