/** The end of power and lifecycle runs: --wait for the ops if asked, print the results, pick the exit code. */
import type { CliContext } from './context.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { createProgress } from './progress.ts';
import { FINAL_OP_STATES, printResults, type NodeResult } from './results.ts';
import { waitForOps } from './wait.ts';

export const WAIT_HELP = `  --wait          wait until the accepted ops finish; exit 5 if any failed
  --timeout SEC   with --wait, give up after SEC seconds (default 600; exit 1)
  --quiet         no progress on stderr`;

export const WAIT_OPTIONS = {
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export interface FinishOptions {
  wait: boolean;
  timeoutMs: number;
  quiet: boolean;
  pollMs?: number;
}

export async function finishRun(ctx: CliContext, results: NodeResult[], options: FinishOptions): Promise<ExitCode> {
  if (!options.wait) return printResults(ctx.out, results, false);
  const ops = results.filter((r) => r.op != null).length;
  const progress = createProgress('waiting for ops', ops, ctx.out.stderr, !options.quiet);
  const finished = await waitForOps(ctx.client, results, { timeoutMs: options.timeoutMs, pollMs: options.pollMs ?? 250, progress });
  const code = printResults(ctx.out, results, true);
  if (!finished) {
    const open = results.filter((r) => r.final !== undefined && !FINAL_OP_STATES.has(r.final.state));
    ctx.out.note(
      `timed out after ${options.timeoutMs / 1000} s with ${open.length} op(s) still running (${open.slice(0, 5).map((r) => r.node).join(', ')}` +
        `${open.length > 5 ? ', ...' : ''}). They go on on the server: follow them with "switchboard watch", or wait longer with --timeout.`,
    );
    return code === EXIT.ok || code === EXIT.opFailed ? EXIT.failure : code;
  }
  return code;
}
