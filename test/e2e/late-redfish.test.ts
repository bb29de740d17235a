/**
 * Invariant 10 end to end with the redfish driver (and the webhook driver) against late BMC peers
 * that, like iDRAC/iLO-class BMCs, answer seconds late and carry out a Reset even when its client
 * has given up:
 *
 * (a) default timing, a BMC that answers every request 3 s late, each Reset 5 s late, and applies
 *     a Reset 2 s after answering it: on, off and cycle succeed at their first attempt; the BMC's
 *     log shows one Reset per step, none overlapping another, and a fast BMC beside it is not
 *     delayed;
 * (b) a node whose timing gives up on a command after 1 s, against a BMC that answers after 3 s
 *     and still applies the Reset: the node shows it waits the command out until its latest end,
 *     an event says the command was abandoned, nothing reaches the BMC before that latest end,
 *     and the op then succeeds on verification with exactly one Reset applied (no blind repeat).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Host, NodeView } from '../../src/actors/types.ts';
import { listOpsByNode } from '../../src/db/index.ts';
import { listEventsByNode } from '../../src/db/repositories/events.ts';
import { createRedfishDriver, REDFISH_TIMING } from '../../src/drivers/redfish.ts';
import { createWebhookDriver } from '../../src/drivers/webhook.ts';
import type { PowerAction } from '../../src/machines/types.ts';
import { startRedfishServer, type RedfishServer, type RedfishServerOptions } from '../peers/redfish-server.ts';
import { startWebhookServer, type WebhookServer, type WebhookServerOptions } from '../peers/webhook-server.ts';
import { withTestDatabase } from '../support/database.ts';
import { buildTestHost, until } from '../support/host.ts';
import { START_GRACE_MS } from '../../src/machines/ops.ts';

const user = { requestedBy: 'late-tester' };
/** Timers and clocks of the host and the peer may differ by a millisecond or so. */
const TOLERANCE_MS = 5;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const t = withTestDatabase('pglite');

async function startedHost(): Promise<Host> {
  const redfish = createRedfishDriver();
  const webhook = createWebhookDriver();
  const { host } = buildTestHost(t.db, { drivers: { redfish: redfish as never, webhook: webhook as never } });
  await host.start();
  cleanups.push(async () => {
    await host.stop();
    for (const driver of [redfish, webhook] as Array<{ close?: () => Promise<void> }>) await driver.close?.();
  });
  return host;
}

async function redfishPeer(options: RedfishServerOptions): Promise<RedfishServer> {
  const bmc = await startRedfishServer({ systemIds: ['1'], initialPower: 'Off', ...options });
  cleanups.push(() => bmc.close());
  return bmc;
}

async function webhookPeer(options: WebhookServerOptions): Promise<WebhookServer> {
  const peer = await startWebhookServer({ initialPower: 'off', ...options });
  cleanups.push(() => peer.close());
  return peer;
}

/** A node in status broken (every power op allowed), idle after its first query. */
async function brokenNode(host: Host, name: string, driver: 'redfish' | 'webhook', params: Record<string, unknown>, timeoutMs = 20_000): Promise<NodeView> {
  const node = await host.createNode({ name: `${name}-${Date.now()}`, driver, params }, user);
  await until(() => host.getNode(node.id)!.power.phase === 'idle' && host.getNode(node.id)!.power.command === null, `${name}: its first query ends`, timeoutMs);
  const marked = await host.lifecycle(node.id, 'mark_broken', user);
  expect(marked.node.status).toBe('broken');
  return host.getNode(node.id)!;
}

const idle = (host: Host, id: string) => {
  const view = host.getNode(id)!;
  return view.power.inFlight === null && view.power.pending === null && view.power.command === null;
};

async function powerAndWait(host: Host, id: string, action: PowerAction, timeoutMs: number): Promise<number> {
  const started = Date.now();
  const outcome = await host.requestPower(id, action, user);
  expect(outcome.result).toBe('accepted');
  await until(() => idle(host, id), `${action} ends`, timeoutMs);
  return Date.now() - started;
}

async function opsOf(nodeId: string) {
  return (await listOpsByNode(t.db, nodeId, { limit: 50 })).items;
}

async function eventKinds(nodeId: string): Promise<string[]> {
  return (await listEventsByNode(t.db, nodeId, { limit: 200 })).items.map((e) => e.kind);
}

describe('redfish against a late BMC', () => {
  it('(a) default timing, answers 3–5 s late, applies 2 s after: on, off, cycle succeed; one Reset per step, none overlapping; a fast BMC beside it is not delayed', { timeout: 120_000 }, async () => {
    const host = await startedHost();
    const slow = await redfishPeer({ responseDelayMs: 3_000, late: { answerDelayMs: 2_000, applyDelayMs: 2_000 } });
    const fast = await redfishPeer({});
    const node = await brokenNode(host, 'late-a', 'redfish', { url: slow.url, systemId: '1', user: 'admin', password: 'secret' });
    const beside = await brokenNode(host, 'fast-a', 'redfish', { url: fast.url, systemId: '1', user: 'admin', password: 'secret' });
    expect(node.timing).toEqual(REDFISH_TIMING);
    expect(node.bmc).not.toBe(beside.bmc);

    const durations: Record<string, number> = {};
    // While the slow BMC holds the on, the fast one is served at once.
    const outcome = await host.requestPower(node.id, 'on', user);
    expect(outcome.result).toBe('accepted');
    const slowStarted = Date.now();
    await slow.whenReceived(1);
    durations.fastOn = await powerAndWait(host, beside.id, 'on', 5_000);
    expect(durations.fastOn).toBeLessThan(1_500);
    expect(slow.resets).toHaveLength(0); // the slow Reset has not even been answered yet
    await until(() => idle(host, node.id), 'the slow on ends', 60_000);
    durations.on = Date.now() - slowStarted;
    // A cycle from on is two steps (off, then on); from off it would be the on alone.
    durations.cycle = await powerAndWait(host, node.id, 'cycle', 90_000);
    durations.off = await powerAndWait(host, node.id, 'off', 60_000);
    console.log(`late-redfish (a) op durations ms ${JSON.stringify(durations)}`);

    const ops = (await opsOf(node.id)).filter((o) => o.origin === 'user');
    expect(ops.map((o) => [o.action, o.state, o.attempts]).sort()).toEqual([
      ['cycle', 'succeeded', 1],
      ['off', 'succeeded', 1],
      ['on', 'succeeded', 1],
    ]);
    expect(host.getNode(node.id)!.power.observed).toBe('off');
    expect(slow.power('1')).toBe('Off');

    // The BMC's own log: one Reset per step, in order, each answered to a waiting client and applied once.
    expect(slow.resets.map((r) => r.resetType)).toEqual(['On', 'ForceOff', 'On', 'ForceOff']);
    for (const r of slow.resets) {
      expect(r.status).toBeLessThan(300);
      expect(r.clientConnected).toBe(true);
      expect(r.appliedAt).not.toBeNull();
      expect(r.answeredAt - r.arrivedAt).toBeGreaterThanOrEqual(5_000 - TOLERANCE_MS);
    }
    expect(slow.resetOverlaps()).toEqual([]);
    // Nothing else reached the BMC while it held a Reset.
    for (const r of slow.resets) expect(slow.log.filter((q) => q.start > r.arrivedAt && q.start < r.answeredAt)).toEqual([]);
    expect(slow.maxConcurrent).toBe(1);
    expect(await eventKinds(node.id)).not.toContain('command_abandoned');
    const summary = {
      requests: slow.log.length,
      resets: slow.resets.length,
      overlaps: slow.resetOverlaps().length,
      repeatedResets: slow.resets.length - 4,
      resetTypes: slow.resets.map((r) => r.resetType),
      maxConcurrent: slow.maxConcurrent,
    };
    console.log(`late-redfish (a) BMC log ${JSON.stringify(summary)}`);
  });

  it('(b) a Reset answered after the client gave up but still applied: waited out until its latest end, then verified; exactly one Reset', { timeout: 60_000 }, async () => {
    const host = await startedHost();
    const bmc = await redfishPeer({ late: { answerDelayMs: 3_000, applyDelayMs: 200 } });
    const timing = { requestTimeoutMs: 1_000, commandBudgetMs: 1_000, settleMs: 5_000, stepTimeoutMs: 20_000 };
    const node = await brokenNode(host, 'late-b', 'redfish', { url: bmc.url, systemId: '1', user: 'admin', password: 'secret', timing });
    expect(node.timing).toMatchObject(timing);
    const requestsBefore = bmc.log.length;

    const started = Date.now();
    expect((await host.requestPower(node.id, 'on', user)).result).toBe('accepted');
    await until(() => host.getNode(node.id)!.power.command?.state === 'waiting_out', 'the abandoned Reset is waited out', 5_000);
    const waiting = host.getNode(node.id)!.power.command!;
    expect(waiting.until).not.toBeNull();
    const latestEnd = Date.parse(waiting.until!);
    // Its start (within its window) + 1 s budget + 5 s settle.
    expect(latestEnd - started).toBeGreaterThanOrEqual(6_000 - TOLERANCE_MS);
    // The start window (START_GRACE_MS) comes on top: the send may come that late without a new commit.
    expect(latestEnd - started).toBeLessThanOrEqual(START_GRACE_MS + 6_000 + 1_000);
    expect(Date.now()).toBeLessThan(latestEnd);
    await until(async () => (await eventKinds(node.id)).includes('command_abandoned'), 'the event command_abandoned', 2_000);
    expect(Date.now()).toBeLessThan(latestEnd);

    await until(() => idle(host, node.id), 'the on is verified after the latest end', 30_000);
    const op = (await opsOf(node.id)).find((o) => o.action === 'on')!;
    expect(op.state).toBe('succeeded');
    expect(op.attempts).toBe(1);
    expect(host.getNode(node.id)!.power.observed).toBe('on');

    // The BMC carried out the Reset its client had given up on, once; nothing was repeated.
    expect(bmc.resets).toHaveLength(1);
    const [reset] = bmc.resets;
    expect(reset!.resetType).toBe('On');
    expect(reset!.clientConnected).toBe(false);
    expect(reset!.appliedAt).not.toBeNull();
    expect(bmc.resetOverlaps()).toEqual([]);
    // Nothing else reached the BMC between the Reset and the latest end; the verifying query came after it.
    const after = bmc.log.slice(requestsBefore).filter((r) => r.start > reset!.arrivedAt);
    expect(after.length).toBeGreaterThan(0);
    for (const r of after) expect(r.start).toBeGreaterThanOrEqual(latestEnd - TOLERANCE_MS);
    console.log(
      `late-redfish (b) ${JSON.stringify({ opMs: Date.now() - started, resetArrivedMs: Math.round(reset!.arrivedAt - started), latestEndMs: latestEnd - started, firstAfterMs: Math.round(after[0]!.start - started) })}`,
    );
  });

  it('(b) webhook: a command answered after the client gave up but still applied is waited out, then verified; exactly one command', { timeout: 60_000 }, async () => {
    const host = await startedHost();
    const peer = await webhookPeer({ answerDelayMs: 3_000, applyDelayMs: 200 });
    const timing = { requestTimeoutMs: 1_000, commandBudgetMs: 1_000, settleMs: 5_000, stepTimeoutMs: 20_000 };
    const node = await brokenNode(host, 'late-wh', 'webhook', {
      onUrl: `${peer.url}/power/on`,
      offUrl: `${peer.url}/power/off`,
      queryUrl: `${peer.url}/power/status`,
      onRegex: '"power":"on"',
      offRegex: '"power":"off"',
      timing,
    });
    const requestsBefore = peer.log.length;

    const started = Date.now();
    expect((await host.requestPower(node.id, 'on', user)).result).toBe('accepted');
    await until(() => host.getNode(node.id)!.power.command?.state === 'waiting_out', 'the abandoned command is waited out', 5_000);
    const latestEnd = Date.parse(host.getNode(node.id)!.power.command!.until!);
    expect(latestEnd - started).toBeGreaterThanOrEqual(6_000 - TOLERANCE_MS);
    await until(async () => (await eventKinds(node.id)).includes('command_abandoned'), 'the event command_abandoned', 2_000);

    await until(() => idle(host, node.id), 'the on is verified after the latest end', 30_000);
    const op = (await opsOf(node.id)).find((o) => o.action === 'on')!;
    expect([op.state, op.attempts]).toEqual(['succeeded', 1]);
    expect(peer.commands).toHaveLength(1);
    expect(peer.commands[0]).toMatchObject({ path: '/power/on', clientConnected: false });
    expect(peer.commands[0]!.appliedAt).not.toBeNull();
    // The peer logs a request when it answers: only the held command itself is answered before the latest end.
    const others = peer.log.slice(requestsBefore).filter((r) => r.path !== '/power/on');
    expect(others.length).toBeGreaterThan(0);
    for (const r of others) expect(r.at).toBeGreaterThanOrEqual(latestEnd - TOLERANCE_MS);
  });
});
