/** `switchboard nodes ls|show|add|rm`. */
import type { NodeView } from '../../actors/types.ts';
import { DRIVER_NAMES } from '../../drivers/types.ts';
import { DRIFT_POLICIES, OBSERVED_STATES, STATUSES } from '../../machines/types.ts';
import { listOf, oneOf, parseCommand, stringOf, uniqueNodes, COMMON_HELP } from '../args.ts';
import { contextOf, requireToken } from '../context.ts';
import { UsageError } from '../errors.ts';
import { EXIT, EXIT_CODES_HELP, type ExitCode } from '../exit-codes.ts';
import { formatTable } from '../output.ts';
import { mapLimit } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { printResults, resultOfReply, type NodeResult } from '../results.ts';

const PAGE_SIZE = 1000;

export const NODES_USAGE = `Usage:
  switchboard nodes ls [--status S[,S...]] [--power ${OBSERVED_STATES.join('|')}]
  switchboard nodes show NODE
  switchboard nodes add NAME --driver DRIVER [--param KEY=VALUE ...] [--bmc KEY] [--drift-policy ${DRIFT_POLICIES.join('|')}]
  switchboard nodes rm NODE...

ls    list nodes by name: status, observed/desired power ("unreadable" when the BMC could
      not be read), the op in flight and pending, and the driver command when it waits
      (queued for its BMC or the global cap, or waiting out a command Switchboard gave up on).
      --status and --power repeat or take comma-separated values.
show  one node (by name or id): power, the op in flight and pending, the driver command and
      until when it holds the node and its BMC, a BMC read error, and the effective timing.
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
    case 'show':
    case 'get':
      return nodesShow(args);
    case 'add':
      return nodesAdd(args);
    case 'rm':
    case 'remove':
      return nodesRm(args);
    default:
      throw new UsageError(sub === undefined ? 'nodes: say ls, show, add or rm' : `nodes: unknown subcommand "${sub}"; say ls, show, add or rm`, NODES_USAGE);
  }
}

async function nodesLs(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, { status: { type: 'string', multiple: true }, power: { type: 'string', multiple: true } }, NODES_USAGE);
  if (values.help === true) return help();
  if (positionals.length > 0) throw new UsageError(`nodes ls takes no arguments, got "${positionals.join(' ')}"`, NODES_USAGE);
  const statuses = listOf(values, 'status').map((s) => oneOf('--status', s, STATUSES, NODES_USAGE));
  const powers = listOf(values, 'power').map((p) => oneOf('--power', p, OBSERVED_STATES, NODES_USAGE));
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
    `${n.power.observed}/${n.power.desired ?? '-'}${n.power.readError === null ? '' : ' unreadable'}`,
    n.power.inFlight === null ? '-' : `${n.power.inFlight.action} (${n.power.phase})`,
    n.power.pending === null ? '-' : n.power.pending.action,
    commandCell(n.power.command),
    n.driver,
    n.bmc,
    n.fault ?? n.power.lastError ?? n.power.readError ?? '',
  ]);
  ctx.out.line(formatTable(['NAME', 'STATUS', 'POWER', 'IN FLIGHT', 'PENDING', 'COMMAND', 'DRIVER', 'BMC', 'LAST ERROR'], rows));
  return EXIT.ok;
}

type Command = NodeView['power']['command'];

const pad2 = (n: number) => String(n).padStart(2, '0');

/** "12:03:41", local time: when a wait ends, as a clock on the wall says it. */
export function clockOf(iso: string): string {
  const d = new Date(iso);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "300 ms", "5 s", "1.5 s", "2 min", "1 min 30 s". */
export function millisText(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(ms % 100 === 0 ? 1 : 2)} s`;
  const min = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${min} min` : `${min} min ${s} s`;
}

/** "14 s", "2 min 05 s"; "now" once passed. */
function leftText(iso: string, now: number): string {
  const left = Math.ceil((new Date(iso).getTime() - now) / 1000);
  if (left <= 0) return 'now';
  return left < 60 ? `in ${left} s` : `in ${Math.floor(left / 60)} min ${pad2(left % 60)} s`;
}

/** The ls cell: "-", "sent", "queued for bmc", "queued: global cap", "waiting out until 12:03:41". */
export function commandCell(command: Command): string {
  if (command === null) return '-';
  switch (command.state) {
    case 'waiting_out':
      return command.until === null ? 'waiting out' : `waiting out until ${clockOf(command.until)}`;
    case 'queued_for_bmc':
      return 'queued for bmc';
    case 'queued_for_global_cap':
      return 'queued: global cap';
    default:
      return 'sent';
  }
}

/** The show line: the state, since and until when, and what it means for the node. */
export function commandLine(command: Command, now = Date.now()): string {
  if (command === null) return '-';
  const since = `since ${clockOf(command.since)}`;
  const until = command.until === null ? '' : `, until ${clockOf(command.until)} (${leftText(command.until, now)})`;
  switch (command.state) {
    case 'waiting_out':
      return `waiting out ${since}${until}: Switchboard gave up on the command, but the BMC may still be acting on it; nothing else is sent to this node or its BMC before then`;
    case 'queued_for_bmc':
      return `queued for its BMC ${since}${until}: another command to the same BMC runs first`;
    case 'queued_for_global_cap':
      return `queued for the global concurrency cap ${since}${until}: sent when a slot frees up`;
    default:
      return `sent to the BMC ${since}${until}`;
  }
}

const TIMING_LABELS: readonly [keyof NonNullable<NodeView['timing']>, string][] = [
  ['requestTimeoutMs', 'request timeout'],
  ['commandBudgetMs', 'command budget'],
  ['settleMs', 'settle time'],
  ['stepTimeoutMs', 'step timeout'],
  ['attempts', 'attempts'],
  ['minIntervalMs', 'min interval'],
];

/** `nodes show` as lines of "label  value". */
export function showLines(n: NodeView, now = Date.now()): string[] {
  const p = n.power;
  const rows: [string, string][] = [
    ['name', n.name],
    ['id', n.id],
    ['status', n.status],
    ['power', `observed ${p.observed}, desired ${p.desired ?? '-'}${p.readError === null ? '' : ' (last reading: the BMC cannot be read now)'}`],
    ['in flight', p.inFlight === null ? '-' : `${p.inFlight.action}${p.inFlight.step !== p.inFlight.action ? ` step ${p.inFlight.step}` : ''} (${p.phase}), attempt ${p.inFlight.attempt}, origin ${p.inFlight.origin}, op ${p.inFlight.opId}`],
    ['pending', p.pending === null ? '-' : `${p.pending.action} (origin ${p.pending.origin})`],
    ['command', commandLine(p.command, now)],
    ['read error', p.readError === null ? '-' : `BMC unreadable: ${p.readError} (Switchboard checks again on its own; this clears when the BMC answers)`],
    ['last error', p.lastError ?? '-'],
  ];
  if (n.fault !== null) rows.push(['fault', n.fault]);
  rows.push(
    ['driver', n.driver],
    ['bmc', n.bmc],
    ['drift policy', `${n.driftPolicy}; soft off escalates: ${n.softOffEscalate ? 'yes' : 'no'}`],
    ['allowed', `power ${n.allowed.power.join(', ') || '-'}; lifecycle ${n.allowed.lifecycle.join(', ') || '-'}`],
    ['updated', n.updatedAt],
  );
  if (n.timing === null) rows.push(['timing', '-']);
  else {
    rows.push(['timing', '']);
    for (const [key, label] of TIMING_LABELS) {
      const value = n.timing[key];
      rows.push([`  ${label}`, key === 'attempts' ? `${value} per step` : millisText(value)]);
    }
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`.trimEnd());
}

async function nodesShow(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, {}, NODES_USAGE);
  if (values.help === true) return help();
  if (positionals.length !== 1) throw new UsageError('nodes show: give exactly one NODE (name or id)', NODES_USAGE);
  const ctx = contextOf(values, NODES_USAGE);
  const node = await ctx.client.get<NodeView>(`/api/v1/nodes/${encodeURIComponent(positionals[0] as string)}`);
  if (ctx.out.json) ctx.out.printJson(node);
  else ctx.out.line(showLines(node).join('\n'));
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
  if (drift !== undefined) body.driftPolicy = oneOf('--drift-policy', drift, DRIFT_POLICIES, NODES_USAGE);
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
