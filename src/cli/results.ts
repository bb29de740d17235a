/** Per-node results of a bulk command (power, lifecycle, rm): outcome, exit code and how they print. */
import type { opView } from '../http/views.ts';
import { apiErrorOf, errorPayloadOf, type ApiReply, type ErrorPayload } from './client.ts';
import { humanize } from '../machines/gating.ts';
import { FINAL_OP_STATES as FINAL_STATES, type FinalOpState } from '../machines/types.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { formatTable, type Output } from './output.ts';

export type OpView = ReturnType<typeof opView>;

export type Outcome = 'accepted' | 'coalesced' | 'removed' | 'refused' | 'not_found' | 'error';

export interface NodeResult {
  /** The node as the user named it. */
  node: string;
  outcome: Outcome;
  /** HTTP status of this node's request. */
  status: number;
  op?: OpView | null;
  error?: ErrorPayload;
  /** With --wait: the op as it was last seen (finished unless the wait timed out). */
  final?: OpView;
}

/** The chart's final op states: an op in one of them is done. */
export const FINAL_OP_STATES: ReadonlySet<string> = new Set(FINAL_STATES);
/** The final states that make a --wait run exit 5. */
const BAD_FINAL_STATES: ReadonlySet<string> = new Set<FinalOpState>(['failed', 'refused', 'superseded']);

export function outcomeOfStatus(status: number): Outcome {
  if (status === 202 || status === 201) return 'accepted';
  if (status === 200) return 'coalesced';
  if (status === 204) return 'removed';
  if (status === 409) return 'refused';
  if (status === 404) return 'not_found';
  return 'error';
}

/**
 * One node's result from its own reply. A 401 or 403 is about the token, not the node: it is
 * thrown, so the run stops with the hint on how to get the right token.
 */
export function resultOfReply(node: string, reply: ApiReply<unknown>): NodeResult {
  if (reply.status === 401 || reply.status === 403) throw apiErrorOf(reply);
  const result: NodeResult = { node, outcome: outcomeOfStatus(reply.status), status: reply.status };
  if (reply.status >= 300) result.error = errorPayloadOf(reply.status, reply.body);
  const op = (reply.body as { op?: OpView | null } | null)?.op;
  if (op !== undefined) result.op = op;
  return result;
}

/** The exit code of a run: see EXIT_CODES_HELP for the order. */
export function exitCodeOf(results: readonly NodeResult[], waited: boolean): ExitCode {
  const has = (o: Outcome) => results.some((r) => r.outcome === o);
  if (has('error')) return EXIT.failure;
  if (has('not_found')) return EXIT.notFound;
  if (has('refused')) return EXIT.refused;
  if (waited) {
    if (results.some((r) => r.final !== undefined && !FINAL_OP_STATES.has(r.final.state))) return EXIT.failure;
    if (results.some((r) => r.final !== undefined && BAD_FINAL_STATES.has(r.final.state))) return EXIT.opFailed;
  }
  return EXIT.ok;
}

function detailOf(r: NodeResult): string {
  if (r.error !== undefined) return `${r.error.code}: ${r.error.message}`;
  if (r.final?.error) return r.final.error;
  if (r.op) return `${r.op.action} (${r.op.origin})`;
  return r.outcome === 'accepted' ? 'no power change needed' : '';
}

export function summaryOf(results: readonly NodeResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  for (const r of results) if (r.final !== undefined) counts[r.final.state] = (counts[r.final.state] ?? 0) + 1;
  return counts;
}

/** Prints one line per node (or one JSON document) and a one-line summary on stderr. */
export function printResults(out: Output, results: readonly NodeResult[], waited: boolean): ExitCode {
  const exitCode = exitCodeOf(results, waited);
  const summary = summaryOf(results);
  if (out.json) {
    out.printJson({ results, summary, exitCode });
    return exitCode;
  }
  const headers = waited ? ['NODE', 'RESULT', 'OP', 'FINISHED', 'DETAIL'] : ['NODE', 'RESULT', 'OP', 'DETAIL'];
  const rows = results.map((r) => {
    const row = [r.node, humanize(r.outcome), r.op?.id ?? ''];
    if (waited) row.push(r.final?.state ?? '');
    row.push(detailOf(r));
    return row;
  });
  out.line(formatTable(headers, rows));
  out.note(Object.entries(summary).map(([k, n]) => `${n} ${humanize(k)}`).join(', '));
  return exitCode;
}
