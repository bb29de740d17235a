/**
 * What must hold after every crash: acknowledged ops are in the database, the sim BMC saw no
 * overlap, the fleet converges (or shows why not), and no cycle rebooted a node twice.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../src/db/schema.ts';
import type { CommandRecord, SimBmcClient } from '../../src/drivers/sim/index.ts';
import type { AckLine, SettledNode } from './protocol.ts';

/** Acknowledged op ids that the database does not have. */
export async function missingAckedOps(db: Kysely<Database>, acks: readonly AckLine[]): Promise<string[]> {
  const ids = [...new Set(acks.map((a) => a.opId))];
  const found = new Set<string>();
  for (let at = 0; at < ids.length; at += 1000) {
    const chunk = ids.slice(at, at + 1000);
    const rows = await db.selectFrom('power_ops').select('id').where('id', 'in', chunk).execute();
    for (const r of rows) found.add(r.id);
  }
  return ids.filter((id) => !found.has(id));
}

export interface Convergence {
  converged: number;
  /** Not at the desired state, but showing why (lastError or observed error). */
  visiblyFailed: number;
  /** No desired state yet. */
  noIntent: number;
  /** Neither converged nor visibly failed: each one is a violation. */
  stuck: Array<SettledNode & { real: string | undefined }>;
}

/** Compares the settled host's view with the BMC's real power. */
export function convergence(nodes: readonly SettledNode[], real: Record<string, string>): Convergence {
  const out: Convergence = { converged: 0, visiblyFailed: 0, noIntent: 0, stuck: [] };
  for (const n of nodes) {
    if (n.fault !== null) out.stuck.push({ ...n, real: real[n.id] });
    else if (n.desired === null) out.noIntent++;
    else if (n.observed === n.desired && real[n.id] === n.desired) out.converged++;
    else if (n.lastError !== null || n.observed === 'error') out.visiblyFailed++;
    else out.stuck.push({ ...n, real: real[n.id] });
  }
  return out;
}

/**
 * Offset from the sim process's clock (performance.now there) to this machine's wall clock:
 * a query to a probe node, bracketed by Date.now(); the tightest of a few tries wins.
 */
export async function simClockOffset(client: SimBmcClient): Promise<{ offsetMs: number; errorMs: number }> {
  let best = { offsetMs: 0, errorMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 8; i++) {
    const t0 = Date.now();
    await client.command({ nodeId: 'clock-probe', bmc: 'clock-probe', kind: 'query', params: {} });
    const t1 = Date.now();
    const last = (await client.history('clock-probe')).at(-1);
    if (!last) throw new Error('the clock probe left no history');
    const errorMs = (t1 - t0) / 2 + 1;
    if (errorMs < best.errorMs) best = { offsetMs: (t0 + t1) / 2 - last.start, errorMs };
  }
  return best;
}

export interface CycleOp {
  id: string;
  nodeId: string;
  startedAt: Date;
  finishedAt: Date | null;
}

export interface RebootCount {
  opId: string;
  nodeId: string;
  ons: number;
  offs: number;
}

/**
 * For every cycle op, the successful `on` and `off` commands the BMC ran inside the op's
 * window [started, finished]. A node runs one command at a time and one op at a time, so the
 * commands in that window are the op's own; the window is narrowed by the clock error so a
 * neighbour op's command never falls in. More than one `on` is a second reboot.
 */
export function rebootsPerCycle(ops: readonly CycleOp[], history: ReadonlyMap<string, readonly CommandRecord[]>, clock: { offsetMs: number; errorMs: number }, now: number): RebootCount[] {
  const out: RebootCount[] = [];
  for (const op of ops) {
    const from = op.startedAt.getTime() + clock.errorMs;
    const to = (op.finishedAt?.getTime() ?? now) - clock.errorMs;
    let ons = 0;
    let offs = 0;
    for (const c of history.get(op.nodeId) ?? []) {
      const at = c.start + clock.offsetMs;
      if (at < from || at > to || c.outcome !== 'ok') continue;
      if (c.kind === 'on') ons++;
      if (c.kind === 'off' || c.kind === 'soft') offs++;
    }
    out.push({ opId: op.id, nodeId: op.nodeId, ons, offs });
  }
  return out;
}
