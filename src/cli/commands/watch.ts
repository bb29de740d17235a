/** `switchboard watch [NODE...]`: a live tail of the change stream, one line per node change. */
import type { NodeView } from '../../actors/types.ts';
import { COMMON_HELP, parseCommand, uniqueNodes } from '../args.ts';
import type { CliContext } from '../context.ts';
import { contextOf } from '../context.ts';
import { CliError } from '../errors.ts';
import { EXIT, type ExitCode } from '../exit-codes.ts';
import { mapLimit } from '../pool.ts';
import { describeEvents, type StreamEvent } from './watch-format.ts';

export const WATCH_USAGE = `Usage: switchboard watch [NODE...]

Follows the live change stream of the whole fleet (or of the nodes named) and prints one line per
change: time, node, status, observed/desired power, and what happened. Ctrl-C stops it (exit 0).
With --json every stream message is printed as one JSON line.

${COMMON_HELP}

Exit codes: 0 stopped with Ctrl-C; 1 the server closed the stream or cannot be reached;
2 usage error; 4 a node named does not exist.`;

interface SnapshotMessage {
  type: 'snapshot';
  nodes: NodeView[];
}
interface ChangeMessage {
  type: 'change';
  node: NodeView;
  events: StreamEvent[];
  deleted?: boolean;
}

export async function watchCommand(args: readonly string[]): Promise<ExitCode> {
  const { values, positionals } = parseCommand(args, {}, WATCH_USAGE);
  if (values.help === true) {
    process.stdout.write(`${WATCH_USAGE}\n`);
    return EXIT.ok;
  }
  const nodes = positionals.length === 0 ? [] : uniqueNodes(positionals, WATCH_USAGE);
  const ctx = contextOf(values, WATCH_USAGE);
  // Checked over plain HTTP first: a refused WebSocket upgrade does not say why.
  await ctx.client.get('/api/v1/nodes?limit=1');
  await mapLimit(nodes, 8, (n) => ctx.client.get(`/api/v1/nodes/${encodeURIComponent(n)}`));
  return follow(ctx, nodes);
}

function streamUrl(baseUrl: string, nodes: readonly string[]): string {
  const url = new URL(`${baseUrl}/api/v1/stream`);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  if (nodes.length > 0) url.searchParams.set('nodes', nodes.join(','));
  return url.toString();
}

function timeOf(iso: string | undefined): string {
  const d = iso === undefined ? new Date() : new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

async function follow(ctx: CliContext, nodes: readonly string[]): Promise<ExitCode> {
  const { out, client } = ctx;
  // Loaded here: undici is large, and only watch needs a WebSocket (Node 20 has no global one).
  const { WebSocket } = await import('undici');
  const headers: Record<string, string> = client.token === undefined ? {} : { authorization: `Bearer ${client.token}` };
  const socket = new WebSocket(streamUrl(client.baseUrl, nodes), { headers });
  return new Promise<ExitCode>((resolve, reject) => {
    let stopping = false;
    const stop = () => {
      stopping = true;
      socket.close(1000, 'client stopped');
      resolve(EXIT.ok);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const done = (outcome: () => void) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      outcome();
    };
    socket.addEventListener('message', (message) => {
      let parsed: SnapshotMessage | ChangeMessage;
      try {
        parsed = JSON.parse(String(message.data)) as SnapshotMessage | ChangeMessage;
      } catch {
        return;
      }
      if (out.json) {
        out.stdout.write(`${JSON.stringify(parsed)}\n`);
        if (parsed.type === 'snapshot') out.note(`watching ${parsed.nodes.length} node(s); Ctrl-C to stop`);
        return;
      }
      if (parsed.type === 'snapshot') {
        out.note(`watching ${parsed.nodes.length} node(s); Ctrl-C to stop`);
        return;
      }
      const n = parsed.node;
      // A change without history entries is a step of the power region (e.g. polling the BMC).
      const what = parsed.deleted === true ? 'node deleted' : parsed.events.length === 0 ? `phase ${n.power.phase}` : describeEvents(parsed.events);
      const row = [timeOf(parsed.events[parsed.events.length - 1]?.at), n.name, n.status, `${n.power.observed}/${n.power.desired ?? '-'}`, what];
      out.line(row.join('  '));
    });
    socket.addEventListener('close', (event) => {
      if (stopping) return done(() => resolve(EXIT.ok));
      const why = event.reason === '' ? `code ${event.code}` : `${event.reason}, code ${event.code}`;
      done(() => reject(new CliError(`the server closed the stream (${why}). Run "switchboard watch" again to reconnect; if the token was revoked, use another.`)));
    });
    socket.addEventListener('error', () => {
      if (stopping) return;
      // A close event follows with the code; this covers a connection that never opened.
      if (socket.readyState === WebSocket.CONNECTING) {
        done(() => reject(new CliError(`could not open the change stream at ${client.baseUrl}; check --url and --token, then retry.`)));
      }
    });
  });
}
