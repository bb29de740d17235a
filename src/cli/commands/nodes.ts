/** `switchboard nodes ls|add|rm`. */
import type { NodeView } from '../../actors/types.ts';
import { DRIVER_NAMES } from '../../drivers/types.ts';
import { STATUSES } from '../../machines/types.ts';
import { listOf, oneOf, parseCommand, stringOf, uniqueNodes, COMMON_HELP } from '../args.ts';
import { contextOf, requireToken } from '../context.ts';
import { UsageError } from '../errors.ts';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.ts';
import { formatTable } from '../output.ts';
import { mapLimit } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { printResults, resultOfReply, type NodeResult } from '../results.ts';

const OBSERVED = ['on', 'off', 'unknown', 'error'] as const;
const PAGE_SIZE = 1000;

export const NODES_USAGE = `Usage:
  switchboard nodes ls [--status S[,S...]] [--power on|off|unknown|error]
  switchboard nodes add NAME --driver DRIVER [--param KEY=VALUE ...] [--bmc KEY] [--drift-policy adopt|enforce]
  switchboard nodes rm NODE...

ls    list nodes by name: status, observed/desired power, the op in flight and pending.
      --status and --power repeat or take comma-separated values.
add   create a node (admin). DRIVER: ${DRIVER_NAMES.join(', ')}. A --param VALUE that reads
      as JSON (a number, true, false, null, "quoted") is sent as that; anything else as text.
      Example: switchboard nodes add rack1-n01 --driver sim --param latencyMs=200 --bmc rack1
rm    delete nodes (admin); refused while a node has an op in flight or pending.

${COMMON_HELP}

${EXIT_CODES_HELP}`;

export async function nodesCommand(sub: string | undefined, args: readonly string[]): Promise<ExitCode> {
  switch (sub) {
    case 'ls':
    case 'list':
      return nodesLs(args);
    case 'add':
      return nodesAdd(args);
    case 'rm':
    case 'remove':
      return nodesRm(args);
    default:
      throw new UsageError(sub === undefined ? 'nodes: say ls, add or rm' : `nodes: unknown subcommand "${sub}"; say ls, add or rm`, NODES_USAGE);
  }
}

async function nodesLs(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, { status: { type: 'string', multiple: true }, power: { type: 'string', multiple: true } }, NODES_USAGE);
  if (values.help === true) return help();
  if (positionals.length > 0) throw new UsageError(`nodes ls takes no arguments, got "${positionals.join(' ')}"`, NODES_USAGE);
  const statuses = listOf(values, 'status').map((s) => oneOf('--status', s, STATUSES, NODES_USAGE));
  const powers = listOf(values, 'power').map((p) => oneOf('--power', p, OBSERVED, NODES_USAGE));
  const ctx = contextOf(values, NODES_USAGE);
  const nodes: NodeView[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    for (const s of statuses) query.append('status', s);
    for (const p of powers) query.append('power', p);
    if (cursor !== null) query.set('cursor', cursor);
    const page: { items: NodeView[]; nextCursor: string | null } = await ctx.client.get(`/api/v1/nodes?${query}`);
    nodes.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  if (ctx.out.json) {
    ctx.out.printJson(nodes);
    return EXIT.ok;
  }
  if (nodes.length === 0) {
    ctx.out.note(statuses.length + powers.length > 0 ? 'no nodes match' : 'no nodes yet; add one with "switchboard nodes add NAME --driver sim"');
    return EXIT.ok;
  }
  const rows = nodes.map((n) => [
    n.name,
    n.status,
    `${n.power.observed}/${n.power.desired ?? '-'}`,
    n.power.inFlight === null ? '-' : `${n.power.inFlight.action} (${n.power.phase})`,
    n.power.pending === null ? '-' : n.power.pending.action,
    n.driver,
    n.bmc,
    n.fault ?? n.power.lastError ?? '',
  ]);
  ctx.out.line(formatTable(['NAME', 'STATUS', 'POWER', 'IN FLIGHT', 'PENDING', 'DRIVER', 'BMC', 'LAST ERROR'], rows));
  return EXIT.ok;
}

/** `k=v` → [k, parsed v]: JSON when it parses as a scalar or quoted string, else the text. */
export function parseParam(raw: string): [string, unknown] {
  const at = raw.indexOf('=');
  if (at <= 0) throw new UsageError(`--param: expected KEY=VALUE, got "${raw}"`, NODES_USAGE);
  const key = raw.slice(0, at);
  const text = raw.slice(at + 1);
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null|".*")$/.test(text)) {
    try {
      return [key, JSON.parse(text)];
    } catch {
      return [key, text];
    }
  }
  return [key, text];
}

async function nodesAdd(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, {
    driver: { type: 'string' },
    param: { type: 'string', multiple: true },
    bmc: { type: 'string' },
    'drift-policy': { type: 'string' },
  }, NODES_USAGE);
  if (values.help === true) return help();
  if (positionals.length !== 1) throw new UsageError('nodes add: give exactly one NAME', NODES_USAGE);
  const driverFlag = stringOf(values, 'driver');
  if (driverFlag === undefined) throw new UsageError(`nodes add: --driver is required (${DRIVER_NAMES.join(', ')})`, NODES_USAGE);
  const driver = oneOf('--driver', driverFlag, DRIVER_NAMES, NODES_USAGE);
  const params: Record<string, unknown> = {};
  const rawParams = values.param;
  for (const raw of Array.isArray(rawParams) ? rawParams : []) {
    const [key, value] = parseParam(String(raw));
    if (Object.hasOwn(params, key)) throw new UsageError(`--param: "${key}" is given twice`, NODES_USAGE);
    params[key] = value;
  }
  const body: Record<string, unknown> = { name: positionals[0], driver, params };
  const bmc = stringOf(values, 'bmc');
  if (bmc !== undefined) body.bmc = bmc;
  const drift = stringOf(values, 'drift-policy');
  if (drift !== undefined) body.driftPolicy = oneOf('--drift-policy', drift, ['adopt', 'enforce'] as const, NODES_USAGE);
  const ctx = contextOf(values, NODES_USAGE);
  requireToken(ctx, 'admin');
  const node = await ctx.client.post<NodeView>('/api/v1/nodes', body);
  if (ctx.out.json) ctx.out.printJson(node);
  else ctx.out.line(`created ${node.name} (id ${node.id}, driver ${node.driver}, bmc ${node.bmc}): ${node.status}, power ${node.power.observed}`);
  return EXIT.ok;
}

async function nodesRm(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, {}, NODES_USAGE);
  if (values.help === true) return help();
  const nodes = uniqueNodes(positionals, NODES_USAGE);
  const ctx = contextOf(values, NODES_USAGE);
  requireToken(ctx, 'admin');
  const progress = createProgress('removing', nodes.length, ctx.out.stderr, true);
  let done = 0;
  const results = await mapLimit(nodes, 8, async (node): Promise<NodeResult> => {
    const reply = await ctx.client.send('DELETE', `/api/v1/nodes/${encodeURIComponent(node)}`);
    progress.update(++done);
    return resultOfReply(node, reply);
  });
  progress.finish();
  return printResults(ctx.out, results, false);
}

function help(): ExitCode {
  process.stdout.write(`${NODES_USAGE}\n`);
  return EXIT.ok;
}
