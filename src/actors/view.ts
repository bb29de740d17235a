import { allowedActions, powerPhase } from '../machines/derive.ts';
import type { DriverName } from '../drivers/types.ts';
import type { NodeView } from './types.ts';
import { capabilitiesOf, type NodeRuntime } from './node-runtime.ts';

interface CachedView {
  snapshot: unknown;
  record: NodeRuntime['record'];
  updatedAt: Date;
  fault: string | null;
  running: NodeRuntime['running'];
  commandKey: string | null;
  view: NodeView;
}

/** What of the running command the view shows; the cache is keyed on it (it changes without a commit). */
function commandKeyOf(running: NodeRuntime['running']): string | null {
  return running ? `${running.phase}|${running.waitingFor}|${running.since}|${running.until}` : null;
}

/** One view per node state: lists, answers and stream messages share it instead of rebuilding it. */
const cache = new WeakMap<NodeRuntime, CachedView>();

/** The node as of its last commit (see NodeRuntime.committedState). */
export function viewOf(node: NodeRuntime): NodeView {
  const snapshot = node.actor ? node.committedState : null;
  const hit = cache.get(node);
  const running = node.running;
  const commandKey = commandKeyOf(running);
  if (
    hit &&
    hit.snapshot === snapshot &&
    hit.record === node.record &&
    hit.updatedAt === node.updatedAt &&
    hit.fault === node.fault &&
    hit.running === running &&
    hit.commandKey === commandKey
  ) {
    return hit.view;
  }
  const view = buildView(node);
  cache.set(node, { snapshot, record: node.record, updatedAt: node.updatedAt, fault: node.fault, running, commandKey, view });
  return view;
}

/** One object literal of a fixed shape (no spreads): a view is built for every committed change. */
function buildView(node: NodeRuntime): NodeView {
  const record = node.record;
  const state = node.actor ? node.committedState : null;
  const c = state?.context;
  const op = c?.inFlight ?? null;
  return {
    id: node.id,
    name: record.name,
    driver: record.driver as DriverName,
    bmc: record.bmc,
    driftPolicy: record.driftPolicy,
    softOffEscalate: record.softOffEscalate,
    fault: node.fault,
    updatedAt: node.updatedAt.toISOString(),
    status: c ? c.status : 'broken',
    power: c
      ? {
          observed: c.observed,
          desired: c.desired,
          inFlight: op && { opId: op.opId, action: op.action, origin: op.origin, step: op.step, attempt: op.attempt },
          pending: c.pending,
          phase: powerPhase(state!),
          command: commandOf(node.running, op?.abandonedUntil ?? null),
          readError: c.readError,
          lastError: c.lastError,
        }
      : { observed: 'error', desired: null, inFlight: null, pending: null, phase: 'idle', command: null, readError: null, lastError: node.fault },
    timing: capabilitiesOf(node)?.timing ?? null,
    allowed: state ? allowedActions(state) : NOTHING_ALLOWED,
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function commandOf(running: NodeRuntime['running'], abandonedUntil: number | null): NodeView['power']['command'] {
  if (!running) return null;
  const state =
    running.phase === 'waiting_out' ? 'waiting_out' : running.phase === 'sent' ? 'sent' : running.waitingFor === 'global' ? 'queued_for_global_cap' : 'queued_for_bmc';
  return { state, since: iso(running.since)!, until: iso(running.until ?? abandonedUntil) };
}

/** A node without a running actor (faulted) permits nothing. */
const NOTHING_ALLOWED: NodeView['allowed'] = Object.freeze({ power: Object.freeze([]), lifecycle: Object.freeze([]) }) as never;
