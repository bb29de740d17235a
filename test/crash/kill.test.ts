/**
 * Crash test with real processes: the host runs as a child process over ≥ 200 sim nodes (4 per
 * BMC) under a stream of conflicting requests and is SIGKILLed at random instants, during load
 * and during start-up/recovery. After every restart: every acknowledged op is in the database,
 * the sim BMC saw no overlap, the fleet converges (or shows why not) within the settle bound,
 * the node count holds, and at the end no cycle op rebooted a node twice.
 * PostgreSQL when DATABASE_URL is set, else PGlite in a temp dir. Longer runs: `npm run soak`.
 */
import { describe, expect, it } from 'vitest';
import { crashBackend } from './crash-database.ts';
import { runSoak, violations } from './soak-run.ts';

describe.each([crashBackend()])('host process killed with SIGKILL [%s]', (backend) => {
  it('keeps every acknowledged op, never overlaps, converges and never reboots twice across 20 kills', async () => {
    const lines: string[] = [];
    const report = await runSoak({ backend, kills: 20, nodes: 200, nodesPerBmc: 4, perSecond: 300, killWindowMs: [100, 900], settleTimeoutMs: 20_000, log: (l) => lines.push(l) });
    expect(violations(report), lines.join('\n')).toEqual([]);
    expect(report.kills).toBeGreaterThanOrEqual(20);
    // The checks had something to hold: load really ran and was acknowledged, cycles ran.
    expect(report.acked).toBeGreaterThan(50);
    expect(report.refused).toBeGreaterThan(0);
    expect(report.cycleOpsChecked).toBeGreaterThan(0);
    expect(report.convergenceChecks).toBe(report.kills - report.killsDuringRecovery + 1);
    expect(report.overlaps?.total).toBe(0);
    expect(report.maxSettleMs).toBeLessThan(20_000);
  }, 300_000);
});
