/**
 * Turns one transition of a node (the snapshot before and after, and what the chart emitted)
 * into the rows that must be committed with it: op writes and history events (invariant 8).
 */
import type { NewEvent } from '../db/repositories/events.ts';
import type { OpWrite } from '../db/repositories/ops.ts';
import type { NodeContext, NodeEmitted, Origin } from '../machines/types.ts';
import { FINAL_OP_STATES } from '../machines/types.ts';

export interface TransitionMeta {
  /** Who caused the transition (API caller); null for the host's own events. */
  requestedBy: string | null;
  /** The origin to record for events that are not about one op. */
  origin: Origin | null;
  /** When the transition happened (the event's `at`). */
  at: number;
}

const FINAL = new Set<string>(FINAL_OP_STATES);

export function recordsFor(
  nodeId: string,
  before: NodeContext,
  after: NodeContext,
  emitted: readonly NodeEmitted[],
  meta: TransitionMeta,
): { ops: OpWrite[]; events: NewEvent[] } {
  const ops: OpWrite[] = [];
  const events: NewEvent[] = [];
  // An op that is accepted and goes in flight in the same transition was never waiting: its
  // pending write and event would only repeat the accepted request (and cost a row each).
  let startedAtOnce: Set<string> | null = null;
  for (const e of emitted) if (e.type === 'op' && e.state === 'in_flight') (startedAtOnce ??= new Set()).add(e.opId);
  for (const e of emitted) {
    if (e.type === 'op' && e.state === 'pending' && startedAtOnce?.has(e.opId)) continue;
    const at = new Date(e.at);
    if (e.type === 'request') {
      if (e.kind === 'power' && e.result !== 'accepted') {
        // Refused and coalesced requests are ops too: the history shows every request.
        ops.push({
          id: e.requestId,
          nodeId,
          action: e.name as OpWrite['action'],
          origin: meta.origin === 'lifecycle' || meta.origin === null ? 'user' : meta.origin,
          requestedBy: meta.requestedBy,
          state: e.result === 'refused' ? 'refused' : 'coalesced',
          error: e.refusal?.message ?? null,
          requestedAt: at,
          finishedAt: at,
        });
      }
      events.push({
        nodeId,
        at,
        kind: `${e.kind}_${e.result}`,
        origin: meta.origin,
        actor: meta.requestedBy,
        opId: e.opId ?? e.requestId,
        detail: { request: e.name, requestId: e.requestId, ...(e.refusal ? { refusal: e.refusal } : {}) },
      });
      continue;
    }
    if (e.type === 'op') {
      const quiet = e.origin === 'sync' && e.action === 'query' && e.state !== 'failed';
      ops.push({
        id: e.opId,
        nodeId,
        action: e.action,
        origin: e.origin,
        requestedBy: e.origin === 'user' || e.origin === 'lifecycle' ? meta.requestedBy : null,
        state: e.state,
        error: e.error ?? null,
        attempts: e.attempt ?? 0,
        requestedAt: at,
        startedAt: e.state === 'in_flight' ? at : null,
        finishedAt: FINAL.has(e.state) ? at : null,
      });
      // Periodic sync queries that read fine live in the ops table only; everything else is history.
      if (!quiet) {
        events.push({
          nodeId,
          at,
          kind: `op_${e.state}`,
          origin: e.origin,
          actor: e.origin === 'user' || e.origin === 'lifecycle' ? meta.requestedBy : null,
          opId: e.opId,
          detail: {
            action: e.action,
            ...(e.step ? { step: e.step, attempt: e.attempt } : {}),
            ...(e.error ? { error: e.error } : {}),
            ...(e.by ? { supersededBy: e.by } : {}),
          },
        });
      }
      continue;
    }
    events.push({ nodeId, at, kind: e.kind, origin: meta.origin, actor: meta.requestedBy, opId: e.opId ?? null, detail: { message: e.message } });
  }
  const at = new Date(meta.at);
  if (before.status !== after.status) events.push(changed(nodeId, at, after, meta, 'status_changed', before.status, after.status));
  if (before.observed !== after.observed) events.push(changed(nodeId, at, after, meta, 'observed_changed', before.observed, after.observed));
  if (before.desired !== after.desired) events.push(changed(nodeId, at, after, meta, 'desired_changed', before.desired, after.desired));
  return { ops, events };
}

function changed(nodeId: string, at: Date, after: NodeContext, meta: TransitionMeta, kind: string, from: unknown, to: unknown): NewEvent {
  return { nodeId, at, kind, origin: meta.origin, actor: meta.requestedBy, opId: after.inFlight?.opId ?? null, detail: { from, to } };
}
