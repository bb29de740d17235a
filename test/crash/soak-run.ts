/**
 * The crash soak: a host process under a stream of conflicting requests, SIGKILLed at random
 * instants, restarted, and checked after every kill. Used by the CI test (a few dozen kills)
 * and by `npm run soak` (as many as asked). Violations are collected, not thrown, so a soak
 * reports everything it found; only a broken harness throws.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandRecord, OverlapReport } from '../../src/drivers/sim/index.ts';
import { convergence, missingAckedOps, rebootsPerCycle, simClockOffset, type Convergence, type RebootCount } from './checks.ts';
import { createCrashDatabase, type CrashBackend } from './crash-database.ts';
import { killHard, spawnTsx, type JsonLineChild } from './processes.ts';
import { parseAcks, type ChildLine, type HostChildOptions } from './protocol.ts';
import { seededRandom } from './random.ts';
import { startSimProcess } from './sim-process.ts';

const HOST_PROCESS = fileURLToPath(new URL('./host-process.ts', import.meta.url));

export interface SoakOptions {
  readonly backend: CrashBackend;
  readonly kills: number;
  readonly nodes: number;
  readonly nodesPerBmc?: number;
  /** Sim BMC latency per command (plus the same again as jitter). */
  readonly latencyMs?: number;
  readonly perSecond?: number;
  readonly maxOutstanding?: number;
  /** A kill under load lands this long after the load starts: [min, max) ms. */
  readonly killWindowMs?: readonly [number, number];
  /** Share of kills that land during start-up and recovery instead (under load too). */
  readonly recoveryKillShare?: number;
  /** The bound on convergence after a restart. */
  readonly settleTimeoutMs?: number;
  readonly seed?: number;
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  backend: CrashBackend;
  kills: number;
  killsDuringRecovery: number;
  durationMs: number;
  requests: number;
  acked: number;
  refused: number;
  errors: Record<string, number>;
  /** Acknowledged op ids missing from power_ops, with the kill after which they were missed. */
  missing: Array<{ kill: number; opId: string }>;
  overlaps: OverlapReport | null;
  /** Restarts whose settled fleet was checked against the BMCs. */
  convergenceChecks: number;
  maxSettleMs: number;
  visiblyFailed: number;
  stuck: Array<{ check: number } & Convergence['stuck'][number]>;
  /** Node counts seen by the host and in the database that differ from the fleet's size. */
  nodeCountErrors: string[];
  /** Ops left pending or in flight in the database after the final settle. */
  openOpsAfterSettle: number;
  openOpsSample: string[];
  cycleOpsChecked: number;
  doubleReboots: RebootCount[];
  clockErrorMs: number;
}

export function violations(r: SoakReport): string[] {
  const out: string[] = [];
  if (r.missing.length > 0) out.push(`${r.missing.length} acknowledged ops missing from the database, e.g. ${JSON.stringify(r.missing.slice(0, 3))}`);
  if (!r.overlaps) out.push('no overlap report');
  else if (r.overlaps.nodeOverlaps > 0 || r.overlaps.bmcLimitViolations > 0) out.push(`overlaps at the BMC: ${JSON.stringify({ ...r.overlaps, samples: r.overlaps.samples.slice(0, 3) })}`);
  if (r.stuck.length > 0) out.push(`${r.stuck.length} nodes neither converged nor visibly failed, e.g. ${JSON.stringify(r.stuck.slice(0, 3))}`);
  if (r.nodeCountErrors.length > 0) out.push(`node count changed: ${r.nodeCountErrors.slice(0, 3).join('; ')}`);
  if (r.openOpsAfterSettle > 0) out.push(`${r.openOpsAfterSettle} ops still open in the database after the fleet settled, e.g. ${r.openOpsSample.join(' ')}`);
  if (r.doubleReboots.length > 0) out.push(`${r.doubleReboots.length} cycle ops rebooted a node more than once, e.g. ${JSON.stringify(r.doubleReboots.slice(0, 3))}`);
  if (r.errors.unexpected) out.push(`${r.errors.unexpected} requests threw something other than an AppError`);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const began = Date.now();
  const log = o.log ?? (() => undefined);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = seededRandom(seed);
  const [killMin, killMax] = o.killWindowMs ?? [150, 1200];
  const report: SoakReport = {
    backend: o.backend, kills: 0, killsDuringRecovery: 0, durationMs: 0, requests: 0, acked: 0, refused: 0, errors: {},
    missing: [], overlaps: null, convergenceChecks: 0, maxSettleMs: 0, visiblyFailed: 0, stuck: [], nodeCountErrors: [],
    openOpsAfterSettle: 0, openOpsSample: [], cycleOpsChecked: 0, doubleReboots: [], clockErrorMs: 0,
  };
  log(`soak: backend ${o.backend}, ${o.nodes} nodes, ${o.kills} kills, seed ${seed}`);

  const database = await createCrashDatabase(o.backend);
  const scratch = await mkdtemp(join(tmpdir(), 'switchboard-soak-'));
  const sim = await startSimProcess({ bmcLimit: 1 });
  let child: JsonLineChild | null = null;
  try {
    const base = {
      database: database.target,
      simUrl: sim.url,
      secretKeyHex: randomBytes(32).toString('hex'),
      ackFile: join(scratch, 'acks.log'),
      nodes: o.nodes,
      nodesPerBmc: o.nodesPerBmc ?? 4,
      latencyMs: o.latencyMs ?? 3,
      settleTimeoutMs: o.settleTimeoutMs ?? 20_000,
    };
    const load = { perSecond: o.perSecond ?? 300, maxOutstanding: o.maxOutstanding ?? 64 };
    const startTimeout = 60_000 + o.nodes * 50;

    const checkSettled = async (settled: Extract<ChildLine, { type: 'settled' }>): Promise<void> => {
      const check = ++report.convergenceChecks;
      report.maxSettleMs = Math.max(report.maxSettleMs, settled.ms);
      const result = convergence(settled.nodes, await sim.client.powers());
      report.visiblyFailed += result.visiblyFailed;
      for (const s of result.stuck) report.stuck.push({ check, ...s });
      if (settled.nodes.length !== o.nodes) report.nodeCountErrors.push(`host listed ${settled.nodes.length} nodes at check ${check}`);
    };

    /** The child's own check at start, before its host exists: the acks of all earlier runs. */
    const checkOpened = async (proc: JsonLineChild, kill: number): Promise<void> => {
      const opened = await proc.next<Extract<ChildLine, { type: 'opened' }>>('opened', startTimeout);
      for (const opId of opened.missing) report.missing.push({ kill: kill - 1, opId });
      if (kill > 1 && opened.nodes !== o.nodes) report.nodeCountErrors.push(`database had ${opened.nodes} nodes after kill ${kill - 1}`);
    };

    /** The parent's own look at the database, once no child holds it. */
    const checkDatabase = async (kill: number): Promise<void> => {
      const handle = await database.open();
      try {
        const acks = parseAcks(await readFile(base.ackFile, 'utf8').catch(() => ''));
        for (const opId of await missingAckedOps(handle.db, acks)) report.missing.push({ kill, opId });
        const count = await handle.db.selectFrom('nodes').select((eb) => eb.fn.countAll<number>().as('n')).where('deleted_at', 'is', null).executeTakeFirstOrThrow();
        if (Number(count.n) !== o.nodes) report.nodeCountErrors.push(`database had ${count.n} nodes after kill ${kill}`);
      } finally {
        await handle.close();
      }
    };

    let last: Extract<ChildLine, { type: 'stats' }> | null = null;
    const tally = () => {
      if (!last) return;
      report.requests += last.requests;
      report.acked += last.acked;
      report.refused += last.refused;
      for (const [code, n] of Object.entries(last.errors)) report.errors[code] = (report.errors[code] ?? 0) + n;
      last = null;
    };

    for (let kill = 1; kill <= o.kills; kill++) {
      const duringRecovery = kill > 1 && random() < (o.recoveryKillShare ?? 0.25);
      const options: HostChildOptions = { ...base, seed: Math.floor(random() * 2 ** 31), settle: !duringRecovery, load };
      child = spawnTsx(HOST_PROCESS, [JSON.stringify(options)]);
      const proc = child;
      const watchStats = (async () => {
        for (;;) last = await proc.next<Extract<ChildLine, { type: 'stats' }>>('stats', 3_600_000);
      })().catch(() => undefined);
      const t0 = Date.now();
      await checkOpened(child, kill);
      const t1 = Date.now();
      if (duringRecovery) {
        await child.next('started', startTimeout);
        await sleep(random() * 300);
        report.killsDuringRecovery++;
      } else {
        await child.next('started', startTimeout);
        await checkSettled(await child.next<Extract<ChildLine, { type: 'settled' }>>('settled', base.settleTimeoutMs + 5_000));
        await child.next('loading', 5_000);
        await sleep(killMin + random() * (killMax - killMin));
      }
      await killHard(child);
      child = null;
      await watchStats;
      tally();
      report.kills++;
      report.overlaps = await sim.client.overlaps();
      log(`kill ${kill}/${o.kills}${duringRecovery ? ' (during recovery)' : ''} after ${Date.now() - t0} ms (open ${t1 - t0} ms): ${report.acked} acked, ${report.missing.length} missing, overlaps ${report.overlaps?.nodeOverlaps}/${report.overlaps?.bmcLimitViolations}, max settle ${report.maxSettleMs} ms, ${report.stuck.length} stuck`);
    }

    // A last restart without load: the fleet must settle, and then the whole history is checked.
    child = spawnTsx(HOST_PROCESS, [JSON.stringify({ ...base, seed: 0, settle: true, load: null } satisfies HostChildOptions)]);
    await checkOpened(child, o.kills + 1);
    await child.next('started', startTimeout);
    await checkSettled(await child.next<Extract<ChildLine, { type: 'settled' }>>('settled', base.settleTimeoutMs + 5_000));
    await killHard(child);
    child = null;
    report.overlaps = await sim.client.overlaps();
    await checkDatabase(o.kills + 1);
    const clock = await simClockOffset(sim.client);
    report.clockErrorMs = clock.errorMs;
    const handle = await database.open();
    try {
      const open = await handle.db.selectFrom('power_ops').select(['id', 'node_id', 'action', 'origin', 'state', 'requested_at', 'started_at']).where('state', 'in', ['pending', 'in_flight']).execute();
      report.openOpsAfterSettle = open.length;
      report.openOpsSample = open.slice(0, 5).map((r) => JSON.stringify(r));
      const cycles = await handle.db.selectFrom('power_ops').select(['id', 'node_id', 'started_at', 'finished_at'])
        .where('action', '=', 'cycle').where('started_at', 'is not', null).execute();
      const nodeIds = [...new Set(cycles.map((c) => c.node_id))];
      const history = new Map<string, CommandRecord[]>();
      for (const id of nodeIds) history.set(id, await sim.client.history(id));
      const counts = rebootsPerCycle(cycles.map((c) => ({ id: c.id, nodeId: c.node_id, startedAt: c.started_at!, finishedAt: c.finished_at })), history, clock, Date.now());
      report.cycleOpsChecked = counts.length;
      report.doubleReboots = counts.filter((c) => c.ons > 1 || c.offs > 1);
    } finally {
      await handle.close();
    }
  } finally {
    if (child) await killHard(child);
    await sim.stop();
    await database.dispose();
    await rm(scratch, { recursive: true, force: true });
    report.durationMs = Date.now() - began;
  }
  return report;
}
