/**
 * npm run bench [-- --quick] [-- --only throughput,heap,restore,latency,ipmi]
 *
 * Prints every figure as an absolute value and as a ratio to a baseline measured in the same run
 * (the machines are noisy), with the machine it ran on, and writes bench/results/latest.json.
 * Each figure runs in a Node process of its own (bench/lib/figure-child.ts).
 * Uses PGlite in a temp dir unless DATABASE_URL names a PostgreSQL server.
 */
import { fileURLToPath } from 'node:url';
import { FIGURES } from './figures/index.ts';
import { runChild } from './lib/child.ts';
import { describeBackend } from './lib/database.ts';
import type { Figure } from './lib/figure.ts';
import type { FigureChildInput } from './lib/figure-child.ts';
import { describeMachine, machineInfo } from './lib/machine.ts';
import { formatTable, toRow, writeResults, type FigureResult, type ReportRow } from './lib/report.ts';

const FIGURE_CHILD = new URL('./lib/figure-child.ts', import.meta.url);
/** The longest a figure may take before it counts as failed (the full latency figure takes about 2 min). */
const FIGURE_TIMEOUT_MS = 30 * 60_000;
const RESULTS = fileURLToPath(new URL('./results/latest.json', import.meta.url));

interface Args {
  quick: boolean;
  only: Figure[];
}

function usage(): string {
  return `usage: npm run bench [-- --quick] [-- --only ${FIGURES.map((f) => f.name).join(',')}]`;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let only: Figure[] = [...FIGURES];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--only' || arg.startsWith('--only=')) {
      const value = arg === '--only' ? argv[++i] : arg.slice('--only='.length);
      if (value === undefined || value === '') throw new Error(`--only needs a list of figures\n${usage()}`);
      only = value.split(',').map((name) => {
        const figure = FIGURES.find((f) => f.name === name.trim());
        if (!figure) throw new Error(`unknown figure "${name}"; known: ${FIGURES.map((f) => f.name).join(', ')}`);
        return figure;
      });
    } else if (arg === '--help' || arg === '-h') {
      console.log(usage());
      process.exit(0);
    } else throw new Error(`unknown argument "${arg}"\n${usage()}`);
  }
  return { quick, only };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const serverUrl = process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === '' ? undefined : process.env.DATABASE_URL;
  const machine = machineInfo(describeBackend(serverUrl));
  console.log(`Switchboard bench${args.quick ? ' (--quick)' : ''}: ${args.only.map((f) => f.name).join(', ')}`);
  console.log(`machine: ${describeMachine(machine)}\n`);
  const rows: ReportRow[] = [];
  const failures: string[] = [];
  const began = performance.now();
  for (const figure of args.only) {
    const started = performance.now();
    console.log(`[${figure.name}] ${figure.title}`);
    try {
      const input: FigureChildInput = { name: figure.name, quick: args.quick };
      const results = await runChild<FigureResult[]>(FIGURE_CHILD, input, { timeoutMs: FIGURE_TIMEOUT_MS, passStderr: true });
      for (const r of results) rows.push(toRow(r));
      console.log(`  done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
      failures.push(`${figure.name}: ${message}`);
      console.log(`  FAILED: ${message}\n`);
    }
  }
  console.log(formatTable(rows));
  console.log(`\nmachine: ${describeMachine(machine)}`);
  console.log(`total ${((performance.now() - began) / 1000).toFixed(0)} s`);
  await writeResults(RESULTS, machine, rows, { quick: args.quick, at: new Date().toISOString(), failures });
  console.log(`wrote ${RESULTS}`);
  if (failures.length > 0) {
    console.log(`\n${failures.length} figure(s) failed to run:\n${failures.join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
