/** `switchboard power ACTION NODE...`: one bulk request per chunk of nodes, per-node results, exit codes. */
import { POWER_ACTIONS, type PowerAction } from '../../machines/types.ts';
import { COMMON_HELP, intOf, parseCommand, stringOf, uniqueNodes } from '../args.ts';
import type { ApiClient, ApiReply } from '../client.ts';
import { contextOf, requireToken } from '../context.ts';
import { ApiError, CliError, UsageError } from '../errors.ts';
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

/**
 * One bulk request. A failure that is about the whole command (bad request, token) is thrown;
 * any other (server error, lost connection) becomes this chunk's result, so the nodes of the
 * chunks that did go through are still reported.
 */
async function postChunk(client: ApiClient, nodes: string[], action: PowerAction): Promise<BulkReply | ApiError | CliError> {
  try {
    return await client.post<BulkReply>('/api/v1/power', { nodes, action });
  } catch (err) {
    if (err instanceof ApiError && ![400, 401, 403, 413, 415].includes(err.status)) return err;
    if (err instanceof CliError && !(err instanceof UsageError)) return err;
    throw err;
  }
}

function chunkFailure(node: string, err: ApiError | CliError): NodeResult {
  if (err instanceof ApiError) return { node, outcome: 'error', status: err.status, error: { code: err.code, message: err.message } };
  return { node, outcome: 'error', status: 0, error: { code: 'unreachable', message: err.message } };
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
    const reply = await postChunk(ctx.client, chunk, action);
    done += chunk.length;
    progress.update(done);
    return reply;
  });
  progress.finish();
  // Nothing went through at all: one message says it better than a line per node.
  const firstFailure = perChunk.find((r) => r instanceof Error);
  if (firstFailure !== undefined && perChunk.every((r) => r instanceof Error)) throw firstFailure;
  const results = perChunk.flatMap((reply, i) =>
    reply instanceof Error
      ? (chunks[i] ?? []).map((node) => chunkFailure(node, reply))
      : reply.results.map((r) => resultOfReply(r.node, { status: r.status, body: r } satisfies ApiReply<unknown>)));
  return finishRun(ctx, results, { wait: values.wait === true, timeoutMs, quiet });
}
