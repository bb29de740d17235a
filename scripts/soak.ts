/**
 * The crash soak, for runs longer than CI's: kills a host process at random instants under a
 * stream of conflicting requests and checks every restart (see test/crash/soak-run.ts).
 *
 *   npm run soak -- [--kills 200] [--nodes 500] [--per-bmc 4] [--rate 300] [--latency-ms 3]
 *                   [--backend pglite|postgres] [--seed N] [--json]
 *
 * The backend defaults to PostgreSQL when DATABASE_URL is set, else PGlite in a temp dir.
 * Exits 1 when any check failed, 2 on bad arguments.
 */
import { parseArgs } from 'node:util';
import { runSoak, violations } from '../test/crash/soak-run.ts';

function positive(raw: string, name: string, min = 1): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}, got "${raw}"`);
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        kills: { type: 'string', default: '200' },
        nodes: { type: 'string', default: '500' },
        'per-bmc': { type: 'string', default: '4' },
        rate: { type: 'string', default: '300' },
        'latency-ms': { type: 'string', default: '3' },
        backend: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const backend = values.backend ?? (process.env.DATABASE_URL ? 'postgres' : 'pglite');
  let options;
  try {
    if (backend !== 'pglite' && backend !== 'postgres') throw new Error(`--backend must be pglite or postgres, got "${backend}"`);
    if (backend === 'postgres' && !process.env.DATABASE_URL) throw new Error('--backend postgres needs DATABASE_URL');
    options = {
      backend,
      kills: positive(values.kills, '--kills'),
      nodes: positive(values.nodes, '--nodes'),
      nodesPerBmc: positive(values['per-bmc'], '--per-bmc'),
      perSecond: positive(values.rate, '--rate'),
      latencyMs: positive(values['latency-ms'], '--latency-ms', 0),
      ...(values.seed !== undefined ? { seed: positive(values.seed, '--seed', 0) } : {}),
    } as const;
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const report = await runSoak({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  const found = violations(report);
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    const summary = {
      backend: report.backend,
      kills: report.kills,
      killsDuringRecovery: report.killsDuringRecovery,
      durationS: Math.round(report.durationMs / 100) / 10,
      requests: report.requests,
      acked: report.acked,
      refused: report.refused,
      errors: report.errors,
      missingAcked: report.missing.length,
      nodeOverlaps: report.overlaps?.nodeOverlaps,
      bmcLimitViolations: report.overlaps?.bmcLimitViolations,
      convergenceChecks: report.convergenceChecks,
      maxSettleMs: report.maxSettleMs,
      visiblyFailed: report.visiblyFailed,
      stuck: report.stuck.length,
      cycleOpsChecked: report.cycleOpsChecked,
      doubleReboots: report.doubleReboots.length,
      clockErrorMs: report.clockErrorMs,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  }
  for (const v of found) process.stdout.write(`VIOLATION: ${v}\n`);
  process.stdout.write(found.length === 0 ? 'soak: all checks held\n' : `soak: ${found.length} kinds of violation\n`);
  return found.length === 0 ? 0 : 1;
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`soak failed to run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
