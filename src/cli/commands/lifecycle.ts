/** `switchboard lifecycle EVENT NODE...`: one lifecycle request per node, results and exit codes as for power. */
import { LIFECYCLE_EVENT_TYPES } from '../../machines/gating.ts';
import { COMMON_HELP, intOf, oneOf, parseCommand, stringOf, uniqueNodes } from '../args.ts';
import { contextOf, requireToken } from '../context.ts';
import { UsageError } from '../errors.ts';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.ts';
import { WAIT_HELP, WAIT_OPTIONS, finishRun } from '../finish.ts';
import { mapLimit } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { resultOfReply } from '../results.ts';

const REQUESTS_IN_FLIGHT = 16;

export const LIFECYCLE_USAGE = `Usage: switchboard lifecycle EVENT NODE... [--wait [--timeout SEC]]

Sends a lifecycle event to each node and prints one line per node: accepted (with the power op
the transition requested, if any), refused (the node's status does not allow the event) or not found.
EVENT: ${LIFECYCLE_EVENT_TYPES.join(', ')}

Options:
${WAIT_HELP}

${COMMON_HELP}

${EXIT_CODES_HELP}`;

export async function lifecycleCommand(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, WAIT_OPTIONS, LIFECYCLE_USAGE);
  if (values.help === true) {
    process.stdout.write(`${LIFECYCLE_USAGE}\n`);
    return EXIT.ok;
  }
  const [rawEvent, ...rest] = positionals;
  if (rawEvent === undefined) throw new UsageError('lifecycle: say which event', LIFECYCLE_USAGE);
  const event = oneOf('lifecycle EVENT', rawEvent.replace(/-/g, '_'), LIFECYCLE_EVENT_TYPES, LIFECYCLE_USAGE);
  const nodes = uniqueNodes(rest, LIFECYCLE_USAGE);
  const timeoutMs = intOf('--timeout', stringOf(values, 'timeout'), 600, 1, 86_400, LIFECYCLE_USAGE) * 1000;
  const ctx = contextOf(values, LIFECYCLE_USAGE);
  requireToken(ctx, 'operator');

  const quiet = values.quiet === true;
  const progress = createProgress(`lifecycle ${event}`, nodes.length, ctx.out.stderr, !quiet);
  let done = 0;
  const results = await mapLimit(nodes, REQUESTS_IN_FLIGHT, async (node) => {
    const reply = await ctx.client.send('POST', `/api/v1/nodes/${encodeURIComponent(node)}/lifecycle`, { event });
    progress.update(++done);
    return resultOfReply(node, reply);
  });
  progress.finish();
  return finishRun(ctx, results, { wait: values.wait === true, timeoutMs, quiet });
}
