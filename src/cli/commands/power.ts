/** `switchboard power ACTION NODE...`: one bulk request per chunk of nodes, per-node results, exit codes. */
import { POWER_ACTIONS, type PowerAction } from '../../machines/types.ts';
import { COMMON_HELP, intOf, parseCommand, stringOf, uniqueNodes } from '../args.ts';
import type { ApiReply } from '../client.ts';
import { contextOf, requireToken } from '../context.ts';
import { UsageError } from '../errors.ts';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.ts';
import { WAIT_HELP, WAIT_OPTIONS, finishRun } from '../finish.ts';
import { mapLimit } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { resultOfReply, type NodeResult } from '../results.ts';

/** Nodes per bulk request: small enough that progress moves, large enough to be cheap. */
export const POWER_CHUNK = 50;
const CHUNKS_IN_FLIGHT = 4;

const ACTION_NAMES = POWER_ACTIONS.map((a) => a.replace('_', '-'));

export const POWER_USAGE = `Usage: switchboard power ${ACTION_NAMES.join('|')} NODE... [--wait [--timeout SEC]]

Requests one power action for each node (by name or id), through the bulk API in chunks of
${POWER_CHUNK}, and prints one line per node: accepted (a new op), coalesced (equal to an op
already queued: that op), refused (with the reason and the statuses that allow it) or not found.
Progress goes to stderr for more than a few nodes.

Options:
${WAIT_HELP}

${COMMON_HELP}

${EXIT_CODES_HELP}`;

export function powerActionOf(raw: string | undefined): PowerAction {
  if (raw === undefined) throw new UsageError(`power: say which action (${ACTION_NAMES.join(', ')})`, POWER_USAGE);
  const action = raw.replace('-', '_');
  if (!(POWER_ACTIONS as readonly string[]).includes(action)) {
    throw new UsageError(`power: unknown action "${raw}"; use one of ${ACTION_NAMES.join(', ')}`, POWER_USAGE);
  }
  return action as PowerAction;
}

interface BulkReply {
  results: { node: string; status: number; op?: NodeResult['op']; error?: NodeResult['error'] }[];
}

export async function powerCommand(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, WAIT_OPTIONS, POWER_USAGE);
  if (values.help === true) {
    process.stdout.write(`${POWER_USAGE}\n`);
    return EXIT.ok;
  }
  const [rawAction, ...rest] = positionals;
  const action = powerActionOf(rawAction);
  const nodes = uniqueNodes(rest, POWER_USAGE);
  const timeoutMs = intOf('--timeout', stringOf(values, 'timeout'), 600, 1, 86_400, POWER_USAGE) * 1000;
  const ctx = contextOf(values, POWER_USAGE);
  requireToken(ctx, 'operator');

  const chunks: string[][] = [];
  for (let i = 0; i < nodes.length; i += POWER_CHUNK) chunks.push(nodes.slice(i, i + POWER_CHUNK));
  const quiet = values.quiet === true;
  const progress = createProgress(`power ${action}`, nodes.length, ctx.out.stderr, !quiet);
  let done = 0;
  const perChunk = await mapLimit(chunks, CHUNKS_IN_FLIGHT, async (chunk) => {
    const reply = await ctx.client.post<BulkReply>('/api/v1/power', { nodes: chunk, action });
    done += chunk.length;
    progress.update(done);
    return reply.results.map((r) => resultOfReply(r.node, { status: r.status, body: r } satisfies ApiReply<unknown>));
  });
  progress.finish();
  return finishRun(ctx, perChunk.flat(), { wait: values.wait === true, timeoutMs, quiet });
}
