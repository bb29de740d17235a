/**
 * kill -9 of the service while a slow ipmitool runs (issue 12; invariants 1, 6 and 10): the
 * service is a real child process (slow-ipmi-process.ts) with the real ipmi driver and one node
 * behind a real `ipmi_sim` behind test/peers/slow-udp-proxy.ts, which holds each request inside
 * the IPMI session 0.8–1 s (one ipmitool run ≈ 6–7 s) and forwards a held request even when its
 * ipmitool is gone, as a slow BMC executes a request whose client gave up. The node's timing is
 * shortened through its params (command budget 15 s, settle 6 s) so a latest end comes ~22 s
 * after a send and the file stays near two minutes.
 *
 * A `cycle` is requested (the node is marked broken first: `new` permits only off). Once the off
 * step's chassis command has reached the proxy (held there), the test SIGKILLs (a) the service
 * alone, (b) its whole process group (it is started detached, so it leads its group). Then:
 * - no ipmitool with the BMC's port in its argv survives (scan of /proc), nor the spawn helper;
 * - the BMC still executes the abandoned `set power 0`, after the kill;
 * - the service restarts on the same database; the node shows that it waits out the old command
 *   until its latest end (read from the committed snapshot before the restart), and the first
 *   packet of a new ipmitool run reaches the BMC (proxy log), and its first new chassis command
 *   runs (ipmi_sim log), no earlier than that latest end;
 * - the node converges: the cycle succeeds, observed on; the BMC saw one off and one on
 *   (never two offs), and nothing overlapped; history says a recovery happened and what it found.
 *
 * Steps aside loudly without ipmi_sim/ipmitool, unless SWITCHBOARD_REQUIRE_PEERS=1.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getOp } from '../../src/db/repositories/ops.ts';
import type { InFlightOp } from '../../src/machines/types.ts';
import { ipmiPeersOrSkip, startIpmiSim, type ChassisLogEntry, type IpmiSimFleet } from '../peers/ipmi-sim.ts';
import { startSlowUdpProxy, type SlowUdpProxy } from '../peers/slow-udp-proxy.ts';
import { chassisOverlaps, commandOf, powerCommands, proxyRuns, runOverlaps, secs } from '../e2e/slow-ipmi-log.ts';
import { createCrashDatabase, crashBackend, type CrashDatabase } from './crash-database.ts';
import type { SlowIpmiLine, SlowIpmiRequest, SlowIpmiServiceOptions } from './slow-ipmi-process.ts';
import { startJsonLinesChild } from '../support/json-lines-child.ts';
import { alive, statFields } from '../support/procfs.ts';

const peers = ipmiPeersOrSkip('test/crash/slow-ipmi-kill.test.ts (kill -9 of the service during a slow ipmitool)');
const SERVICE = fileURLToPath(new URL('./slow-ipmi-process.ts', import.meta.url));
/** Hold of each in-session request: 7 of them make one ipmitool run take 5.6–7 s. */
const HOLD_MS = { min: 800, max: 1_000 } as const;
/** Per-node overrides: latest end = stamp + start window (START_GRACE_MS) + 15 s + 6 s. */
const TIMING = { commandBudgetMs: 15_000, settleMs: 6_000 } as const;
/** How long a killed command may take to die (measured: milliseconds). */
const DIE_WITHIN_MS = 3_000;
/** ipmitool 1.8.19 sends the chassis command as the 6th request of its session. */
const CHASSIS_REQUEST_INDEX = 5;

/* ---------------- processes ---------------- */

interface Service {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly lines: SlowIpmiLine[];
  /** The first line (at index >= from) that matches; rejects on a fatal line, exit or timeout. */
  waitFor<T extends SlowIpmiLine>(match: (l: SlowIpmiLine) => l is T, what: string, timeoutMs: number, from?: number): Promise<T>;
  send(request: SlowIpmiRequest): void;
  readonly exited: Promise<void>;
}

const children: ChildProcess[] = [];

/** Detached: the service leads its own process group, so the test can SIGKILL the whole group. */
function startService(options: SlowIpmiServiceOptions): Service {
  const service = startJsonLinesChild<SlowIpmiLine>(SERVICE, options);
  children.push(service.child);
  return {
    child: service.child,
    pid: service.pid,
    lines: service.lines,
    exited: service.exited,
    send: (request) => service.send(request),
    async waitFor(match, what, timeoutMs, from = 0) {
      // A fatal line ends the wait at once, whatever it waits for.
      const line = await service.waitFor((l) => l.type === 'fatal' || match(l), what, timeoutMs, from);
      if (line.type === 'fatal') throw new Error(`the service failed: ${JSON.stringify(line)}\n${service.stderr()}`);
      return line as never;
    },
  };
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return [];
  }
}

/** Live ipmitool processes (also still as `setpriv … ipmitool`) talking to 127.0.0.1:port. */
function ipmitoolsFor(port: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = argvOf(pid);
    const p = argv.indexOf('-p');
    if (p >= 0 && argv[p + 1] === String(port) && argv.some((a) => a.endsWith('ipmitool')) && alive(pid)) found.push(pid);
  }
  return found;
}

async function within(check: () => boolean | Promise<boolean>, limitMs: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!(await check())) {
    if (performance.now() - t0 > limitMs) throw new Error(`${what} within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

/* ---------------- the test ---------------- */

const isNode = (l: SlowIpmiLine): l is Extract<SlowIpmiLine, { type: 'node' }> => l.type === 'node';
const isStarted = (l: SlowIpmiLine): l is Extract<SlowIpmiLine, { type: 'started' }> => l.type === 'started';
const isAnswer = (l: SlowIpmiLine): l is Extract<SlowIpmiLine, { type: 'answer' }> => l.type === 'answer';
const isSpawned = (l: SlowIpmiLine): l is Extract<SlowIpmiLine, { type: 'spawned' }> => l.type === 'spawned';

type Mode = 'the service alone' | 'its whole process group';

describe.skipIf(!peers)(`kill -9 of the service while a slow ipmitool runs [${crashBackend()}]`, () => {
  let sim: IpmiSimFleet;
  const proxies: SlowUdpProxy[] = [];
  const databases: CrashDatabase[] = [];
  const report: string[] = [];

  beforeAll(async () => {
    sim = await startIpmiSim(2, { initialPower: 'on' });
    for (const b of sim.bmcs) proxies.push(await startSlowUdpProxy({ targetPort: b.port, onlyInSession: true, minDelayMs: 0, maxDelayMs: 0 }));
  });

  afterEach(() => {
    for (const child of children.splice(0)) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) kill(-child.pid, 'SIGKILL');
      child.stdin?.destroy();
    }
  });

  afterAll(async () => {
    await Promise.all(proxies.map((p) => p.stop()));
    await sim?.stop();
    for (const d of databases) await d.dispose();
    if (report.length > 0) console.log(`slow-ipmi kill -9 (in-session requests held ${HOLD_MS.min}-${HOLD_MS.max} ms; node timing ${JSON.stringify(TIMING)}):\n  ${report.join('\n  ')}`);
  });

  async function killDuringCycle(mode: Mode, i: number): Promise<void> {
    const bmc = sim.bmcs[i]!;
    const proxy = proxies[i]!;
    const database = await createCrashDatabase(crashBackend());
    databases.push(database);
    const options: SlowIpmiServiceOptions = {
      database: database.target,
      secretKeyHex: randomBytes(32).toString('hex'),
      node: { name: `slow-ipmi-${i}`, params: { host: proxy.host, port: proxy.port, user: bmc.user, password: bmc.password, timing: TIMING } },
    };

    // First run: create the node (its first query unhindered), mark it broken, ask for a cycle.
    const first = startService(options);
    const nodeId = (await first.waitFor(isStarted, 'the service to start', 60_000)).node.id;
    await first.waitFor(
      (l): l is Extract<SlowIpmiLine, { type: 'node' }> => isNode(l) && l.node.power.phase === 'idle' && l.node.power.command === null && l.node.power.observed === 'on',
      'the node to be read as on',
      30_000,
    );
    let from = first.lines.length;
    first.send({ lifecycle: 'mark_broken' });
    expect((await first.waitFor(isAnswer, 'mark_broken to be answered', 10_000, from)).result).toBe('accepted');

    const logStart = (await sim.readLog(i)).length;
    proxy.clearPackets();
    proxy.setDelay(HOLD_MS.min, HOLD_MS.max);
    from = first.lines.length;
    first.send({ power: 'cycle' });
    const answer = await first.waitFor(isAnswer, 'the cycle to be answered', 10_000, from);
    expect(answer.result, JSON.stringify(answer.refusal)).toBe('accepted');
    const cycleOpId = answer.opId!;

    // The off step's ipmitool, once its chassis command has reached the BMC's proxy (held there).
    const spawned = await first.waitFor(
      (l): l is Extract<SlowIpmiLine, { type: 'spawned' }> => isSpawned(l) && l.argv.slice(-3).join(' ') === 'chassis power off',
      'the off step’s ipmitool',
      15_000,
      from,
    );
    await within(
      () => proxyRuns(proxy.packets()).some((r) => r.inSession > CHASSIS_REQUEST_INDEX),
      20_000,
      'the chassis command did not reach the proxy',
    );
    expect(alive(spawned.pid)).toBe(true);
    expect(argvOf(spawned.pid)[0]).toBe('ipmitool');
    expect(ipmitoolsFor(proxy.port)).toEqual([spawned.pid]);
    expect(spawned.pdeathsig).toBe(true);
    if (mode === 'its whole process group') expect(Number(statFields(first.pid)?.[2])).toBe(first.pid);

    const killAt = Date.now();
    kill(mode === 'the service alone' ? first.pid : -first.pid, 'SIGKILL');
    const ipmitoolGoneMs = await within(() => ipmitoolsFor(proxy.port).length === 0, DIE_WITHIN_MS, 'an ipmitool to the BMC survived the kill');
    const helperGoneMs = spawned.helper === null ? NaN : await within(() => !alive(spawned.helper!), DIE_WITHIN_MS, 'the spawn helper survived the kill');
    await first.exited;

    // What the killed run committed: the off step in flight, and its latest end.
    const h1 = await database.open();
    let inFlight: InFlightOp | null;
    try {
      const row = await h1.db.selectFrom('node_snapshots').select('snapshot').where('node_id', '=', nodeId).executeTakeFirstOrThrow();
      inFlight = (row.snapshot as { context: { inFlight: InFlightOp | null } }).context.inFlight;
      expect((await getOp(h1.db, cycleOpId))?.state).toBe('in_flight');
    } finally {
      await h1.close();
    }
    expect(inFlight).toMatchObject({ opId: cycleOpId, action: 'cycle', step: 'off', attempt: 1 });
    const latestEnd = inFlight!.latestEnd;
    expect(latestEnd).toBeGreaterThan(killAt);

    // The BMC still carries out the command its client gave up on.
    await proxy.drained();
    let late: ChassisLogEntry | undefined;
    await within(async () => (late = (await sim.readLog(i)).slice(logStart).find((e) => e.op === 'set')) !== undefined, 3_000, 'the abandoned off was not executed');
    expect(late && commandOf(late)).toBe('set power 0');
    expect(late!.startMs).toBeGreaterThan(killAt);

    // Second run, on the same database: it waits out the old command, then recovers.
    const restartAt = Date.now();
    const second = startService(options);
    const restarted = await second.waitFor(isStarted, 'the service to restart', 60_000);
    expect(restarted.node.power.inFlight?.opId).toBe(cycleOpId);
    // Restarted before the latest end (else this proves nothing): the node shows what it waits for.
    expect(restarted.at).toBeLessThan(latestEnd);
    expect(restarted.node.power.command).toMatchObject({ state: 'waiting_out', until: new Date(latestEnd).toISOString() });
    const converged = await second.waitFor(
      (l): l is Extract<SlowIpmiLine, { type: 'node' }> =>
        isNode(l) && l.node.power.phase === 'idle' && l.node.power.inFlight === null && l.node.power.command === null && l.node.power.observed === 'on',
      'the node to converge on on',
      Math.max(0, latestEnd - Date.now()) + 60_000,
    );
    second.child.stdin!.end();
    await second.exited;

    const h2 = await database.open();
    let events: { kind: string; opId: string | null; message: string }[];
    let opState: string | undefined;
    try {
      opState = (await getOp(h2.db, cycleOpId))?.state;
      const rows = await h2.db.selectFrom('node_events').select(['kind', 'op_id', 'detail']).where('node_id', '=', nodeId).orderBy('id').execute();
      events = rows.map((r) => ({ kind: r.kind, opId: r.op_id, message: typeof r.detail.message === 'string' ? r.detail.message : JSON.stringify(r.detail) }));
    } finally {
      await h2.close();
    }

    const log = (await sim.readLog(i)).slice(logStart);
    const afterRestart = log.filter((e) => e.startMs > restartAt);
    const newRuns = proxyRuns(proxy.packets()).filter((r) => r.firstMs > killAt);
    const firstPacketMs = newRuns[0]?.firstMs ?? NaN;
    const firstCommandMs = afterRestart[0]?.startMs ?? NaN;
    const recovery = events.filter((e) => e.opId === cycleOpId && e.kind.startsWith('recovery_'));
    const notStarted = events.filter((e) => /was not started/.test(e.message));
    report.push(
      `SIGKILL of ${mode}: ipmitool gone ${ipmitoolGoneMs.toFixed(0)} ms and spawn helper ${helperGoneMs.toFixed(0)} ms after the kill; ` +
        `abandoned "set power 0" executed ${secs(late!.startMs - killAt)} after the kill; latest end ${secs(latestEnd - killAt)} after the kill; ` +
        `restart ${secs(restartAt - killAt)} after the kill (started ${secs(restarted.at - killAt)}); ` +
        `first packet to the BMC ${secs(firstPacketMs - killAt)} after the kill = latest end + ${secs(firstPacketMs - latestEnd)}; ` +
        `first chassis command latest end + ${secs(firstCommandMs - latestEnd)}; converged ${secs(converged.at - killAt)} after the kill; ` +
        `chassis log [${log.map(commandOf).join(', ')}]; cycle's events [${events.filter((e) => e.opId === cycleOpId).map((e) => e.kind).join(', ')}]; ` +
        `${recovery.map((e) => `${e.kind}: "${e.message}"`).join('; ')}` +
        `${notStarted.length > 0 ? `; refused by the spawn helper as past their start window: ${notStarted.map((e) => `${e.kind}: "${e.message}"`).join('; ')}` : ''}`,
    );

    expect(notStarted).toEqual([]);
    // No command reached the BMC before the old one's latest end.
    expect(newRuns.length).toBeGreaterThan(0);
    expect(firstPacketMs).toBeGreaterThanOrEqual(latestEnd);
    expect(afterRestart.length).toBeGreaterThan(0);
    expect(firstCommandMs).toBeGreaterThanOrEqual(latestEnd);
    // Converged, and the cycle rebooted the node once: one off (the abandoned one), one on.
    expect(opState).toBe('succeeded');
    expect(await sim.readPower(i)).toBe('on');
    // (A second "set power 0" here means the off step was re-sent without a reading of the BMC:
    // e.g. the recovery query was refused by the spawn helper as past its start window.)
    expect(powerCommands(log), `chassis log [${log.map(commandOf).join(', ')}]; cycle's events: ${events.filter((e) => e.opId === cycleOpId).map((e) => `${e.kind}: ${e.message}`).join(' | ')}`).toEqual(['set power 0', 'set power 1']);
    expect(chassisOverlaps(log)).toEqual([]);
    expect(runOverlaps(proxyRuns(proxy.packets()))).toEqual([]);
    // History says what happened: the restart found the off done and went on with on.
    expect(recovery.map((e) => e.kind)).toEqual(['recovery_started', 'recovery_verified']);
    expect(recovery[1]?.message).toMatch(/reads off/);
  }

  it('SIGKILL of the service alone', { timeout: 120_000 }, async () => {
    await killDuringCycle('the service alone', 0);
  });

  it('SIGKILL of its whole process group', { timeout: 120_000 }, async () => {
    await killDuringCycle('its whole process group', 1);
  });
});
