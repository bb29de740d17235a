/**
 * A slow IPMI BMC beside a fast one, through the whole host (issue 12, invariants 1, 9, 10):
 * the actor host with the real ipmi driver and its DEFAULT timing (no per-node overrides) runs
 * ops against two real `ipmi_sim` BMCs. One sits behind test/peers/slow-udp-proxy.ts, which
 * holds every request inside the IPMI session 3–5 s (like an iDRAC/iLO-class BMC under load)
 * and forwards it even when ipmitool has given up. The session set-up packets (auth
 * capabilities, open session, RAKP) pass at once (`onlyInSession`), which keeps one ipmitool run
 * near 28 s instead of 44 s and the file near two minutes; each run still carries its 7
 * in-session requests (the chassis command among them) at 3–5 s each.
 *
 * The slow node is powered on, then off (each: the chassis command, then a verifying query);
 * meanwhile the fast node is powered on and off several times. Checked on the peers themselves:
 * every slow op succeeds; the slow BMC's chassis log shows no two overlapping commands and each
 * power command exactly once per op; no two ipmitool runs to it overlapped and none resent a
 * request; the fast node's ops finish within seconds, while the slow command is still running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestableHost } from '../../src/actors/testing.ts';
import { getOp, type OpRecord } from '../../src/db/repositories/ops.ts';
import { createIpmiDriver, IPMI_TIMING, IPMITOOL_PACKETS_PER_RUN } from '../../src/drivers/ipmi.ts';
import type { PowerAction } from '../../src/machines/types.ts';
import { ipmiPeersOrSkip, startIpmiSim, type IpmiSimFleet } from '../peers/ipmi-sim.ts';
import { startSlowUdpProxy, type SlowUdpProxy } from '../peers/slow-udp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { buildTestHost, until } from '../support/host.ts';
import { chassisOverlaps, commandCounts, powerCommands, proxyRuns, runOverlaps, secs } from './slow-ipmi-log.ts';

const peers = ipmiPeersOrSkip('test/e2e/slow-ipmi.test.ts (a slow IPMI BMC beside a fast one, through the host)');
const caller = { requestedBy: 'slow-ipmi-e2e' };
const SLOW = 0;
const FAST = 1;
/** Fast-node ops run while each slow op is in flight. */
const FAST_OPS_PER_SLOW_OP = 4;
/** A fast ipmi_sim op is a command, a 1 s minimum interval and a query: ~1.5 s measured. */
const FAST_OP_LIMIT_MS = 6_000;

interface Timed {
  readonly action: PowerAction;
  readonly op: OpRecord;
  readonly ms: number;
  readonly finishedAt: number;
}

describe.skipIf(!peers)('a host with a slow IPMI BMC (3–5 s per request) beside a fast one, default ipmi timing', () => {
  let sim: IpmiSimFleet;
  let proxy: SlowUdpProxy;
  let database: TestDatabase;
  let host: TestableHost;

  beforeAll(async () => {
    sim = await startIpmiSim(2, { initialPower: 'off' });
    const slowBmc = sim.bmcs[SLOW]!;
    // No delay while the nodes are created (their first query); 3–5 s from the first op on.
    proxy = await startSlowUdpProxy({ targetPort: slowBmc.port, onlyInSession: true, minDelayMs: 0, maxDelayMs: 0 });
    database = await createTestDatabase('pglite');
    ({ host } = buildTestHost(database.db, { drivers: { ipmi: createIpmiDriver() as never }, bootQueries: false }));
    await host.start();
  });

  afterAll(async () => {
    await host?.stop();
    await proxy?.stop();
    await sim?.stop();
    await database?.dispose();
  });

  /** Resolves with the op once it has ended (as committed). */
  async function finished(opId: string, timeoutMs: number): Promise<OpRecord> {
    let op: OpRecord | undefined;
    await until(async () => {
      op = await getOp(database.db, opId);
      return op !== undefined && op.state !== 'pending' && op.state !== 'in_flight';
    }, `op ${opId} to end`, timeoutMs);
    return op!;
  }

  async function request(nodeId: string, action: PowerAction): Promise<{ opId: string; started: number }> {
    const started = Date.now();
    const answer = await host.requestPower(nodeId, action, caller);
    expect(answer.result, JSON.stringify(answer.refusal)).toBe('accepted');
    return { opId: answer.op!.id, started };
  }

  async function run(nodeId: string, action: PowerAction, timeoutMs: number): Promise<Timed> {
    const { opId, started } = await request(nodeId, action);
    const op = await finished(opId, timeoutMs);
    const finishedAt = Date.now();
    return { action, op, ms: finishedAt - started, finishedAt };
  }

  it('every op succeeds; the slow BMC executes each power command once, none overlapping; the fast node is not delayed', { timeout: 170_000 }, async () => {
    const slowBmc = sim.bmcs[SLOW]!;
    const fastBmc = sim.bmcs[FAST]!;
    const slow = await host.createNode({ name: 'slow-ipmi', driver: 'ipmi', params: { host: proxy.host, port: proxy.port, user: slowBmc.user, password: slowBmc.password } }, caller);
    const fast = await host.createNode({ name: 'fast-ipmi', driver: 'ipmi', params: { host: fastBmc.host, port: fastBmc.port, user: fastBmc.user, password: fastBmc.password } }, caller);
    expect(slow.bmc).not.toBe(fast.bmc);
    expect(slow.timing).toEqual(IPMI_TIMING);
    expect(fast.timing).toEqual(IPMI_TIMING);
    await until(() => [slow.id, fast.id].every((id) => {
      const n = host.getNode(id)!;
      return n.power.phase === 'idle' && n.power.command === null && n.power.observed === 'off';
    }), 'both nodes to be read as off', 20_000);
    // `new` permits only off and soft off; `broken` permits every power op (the gating table).
    for (const id of [slow.id, fast.id]) expect((await host.lifecycle(id, 'mark_broken', caller)).result).toBe('accepted');

    const slowLogStart = (await sim.readLog(SLOW)).length;
    const fastLogStart = (await sim.readLog(FAST)).length;
    proxy.clearPackets();
    proxy.setDelay(3_000, 5_000);

    const slowOps: Timed[] = [];
    const fastOps: Timed[] = [];
    const commandStates = new Set<string>();
    let fastAction: PowerAction = 'on';

    for (const action of ['on', 'off'] as const) {
      const { opId, started } = await request(slow.id, action);
      const slowDone = finished(opId, 150_000).then((op) => ({ action, op, ms: Date.now() - started, finishedAt: Date.now() }));
      // The slow node's command is out to its BMC: the view says so.
      await until(() => host.getNode(slow.id)!.power.command?.state === 'sent', 'the slow command to be sent', 10_000);
      commandStates.add(host.getNode(slow.id)!.power.command!.state);
      for (let i = 0; i < FAST_OPS_PER_SLOW_OP; i++) {
        fastOps.push(await run(fast.id, fastAction, 30_000));
        fastAction = fastAction === 'on' ? 'off' : 'on';
      }
      // Every fast op ended while the slow op was still in flight.
      const stillRunning = await getOp(database.db, opId);
      expect(stillRunning?.state).toBe('in_flight');
      slowOps.push(await slowDone);
    }

    // Everything the BMC will ever receive has arrived (held packets forwarded).
    await proxy.drained();
    const slowLog = (await sim.readLog(SLOW)).slice(slowLogStart);
    const fastLog = (await sim.readLog(FAST)).slice(fastLogStart);
    const runs = proxyRuns(proxy.packets());
    const slowOverlaps = chassisOverlaps(slowLog);
    const slowRunOverlaps = runOverlaps(runs);
    const repeats = Object.entries(commandCounts(slowLog.filter((e) => e.op === 'set'))).filter(([, n]) => n > 1);

    // Commands the spawn helper refused because their start window had closed (never sent).
    const events = await database.db.selectFrom('node_events').select(['node_id', 'kind', 'detail']).where('node_id', 'in', [slow.id, fast.id]).orderBy('id').execute();
    const notStarted = events.filter((e) => /was not started/.test(JSON.stringify(e.detail)));
    const notStartedSummary = (id: string) => notStarted.filter((e) => e.node_id === id).map((e) => e.kind).join(', ') || 'none';

    console.log(
      [
        'slow-ipmi e2e (default ipmi timing; slow BMC: in-session requests held 3-5 s, session set-up not held):',
        `  slow node ops: ${slowOps.map((o) => `${o.action} ${o.op.state} in ${secs(o.ms)} (attempts ${o.op.attempts})`).join(', ')}`,
        `  fast node ops: ${fastOps.map((o) => `${o.action} ${secs(o.ms)}`).join(', ')} (max ${secs(Math.max(...fastOps.map((o) => o.ms)))})`,
        `  slow BMC chassis log: ${slowLog.length} commands [${slowLog.map((e) => `${e.op} ${e.args.join(' ')}`).join(', ')}], ` +
          `overlaps ${slowOverlaps.length}, repeated power commands ${repeats.length}`,
        `  slow BMC ipmitool runs: ${runs.length}, requests per run [${runs.map((r) => r.requests).join(', ')}], ` +
          `run durations [${runs.map((r) => secs(r.lastMs - r.firstMs)).join(', ')}], overlapping runs ${slowRunOverlaps.length}`,
        `  fast BMC chassis log: ${fastLog.length} commands, overlaps ${chassisOverlaps(fastLog).length}`,
        `  commands refused by the spawn helper as past their start window: slow node [${notStartedSummary(slow.id)}], fast node [${notStartedSummary(fast.id)}]`,
      ].join('\n'),
    );

    // Every op on the slow node succeeded, on its first attempt, with the default timing.
    for (const o of slowOps) {
      expect(o.op.state, o.op.error ?? '').toBe('succeeded');
      expect(o.op.error).toBeNull();
    }
    expect(host.getNode(slow.id)!.power.observed).toBe('off');
    expect(await sim.readPower(SLOW)).toBe('off');
    expect(commandStates).toEqual(new Set(['sent']));
    // No command was refused as late by the spawn helper (the host keeps headroom in the start window).
    expect(notStarted).toEqual([]);

    // The slow BMC: nothing overlapped; each power command once per op, in order.
    expect(slowOverlaps).toEqual([]);
    expect(powerCommands(slowLog)).toEqual(['set power 1', 'set power 0']);
    expect(repeats).toEqual([]);
    // One ipmitool run at a time, and no run resent a request (ipmitool's -N outlasts a 5 s BMC).
    expect(slowRunOverlaps).toEqual([]);
    for (const r of runs) expect({ requests: r.requests, inSession: r.inSession }).toEqual({ requests: IPMITOOL_PACKETS_PER_RUN, inSession: 7 });
    // A command and a verifying query per op: every held request took 3–5 s.
    expect(runs.length).toBeGreaterThanOrEqual(4);
    for (const p of proxy.packets().filter((x) => x.direction === 'request' && x.inSession)) {
      expect(p.delayMs).toBeGreaterThanOrEqual(3_000);
      expect(p.delayMs).toBeLessThanOrEqual(5_000);
    }

    // The fast node: every op succeeded within seconds, each power command once, nothing overlapped.
    expect(fastOps.length).toBe(2 * FAST_OPS_PER_SLOW_OP);
    for (const o of fastOps) {
      expect(o.op.state, o.op.error ?? '').toBe('succeeded');
      expect(o.ms).toBeLessThan(FAST_OP_LIMIT_MS);
    }
    expect(powerCommands(fastLog)).toEqual(fastOps.map((o) => (o.action === 'on' ? 'set power 1' : 'set power 0')));
    expect(chassisOverlaps(fastLog)).toEqual([]);
  });
});
