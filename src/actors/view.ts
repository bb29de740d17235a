import { allowedActions, powerPhase } from '../machines/derive.ts';
import type { DriverName } from '../drivers/types.ts';
import type { NodeView } from './types.ts';
import type { NodeRuntime } from './node-runtime.ts';

interface CachedView {
  snapshot: unknown;
  record: NodeRuntime['record'];
  updatedAt: Date;
  fault: string | null;
  view: NodeView;
}

/** One view per node state: lists, answers and stream messages share it instead of rebuilding it. */
const cache = new WeakMap<NodeRuntime, CachedView>();

/** The node as of its last commit (see NodeRuntime.committedState). */
export function viewOf(node: NodeRuntime): NodeView {
  const snapshot = node.actor ? node.committedState : null;
  const hit = cache.get(node);
  if (hit && hit.snapshot === snapshot && hit.record === node.record && hit.updatedAt === node.updatedAt && hit.fault === node.fault) return hit.view;
  const view = buildView(node);
  cache.set(node, { snapshot, record: node.record, updatedAt: node.updatedAt, fault: node.fault, view });
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
          lastError: c.lastError,
        }
      : { observed: 'error', desired: null, inFlight: null, pending: null, phase: 'idle', lastError: node.fault },
    allowed: state ? allowedActions(state) : NOTHING_ALLOWED,
  };
}

/** A node without a running actor (faulted) permits nothing. */
const NOTHING_ALLOWED: NodeView['allowed'] = Object.freeze({ power: Object.freeze([]), lifecycle: Object.freeze([]) }) as never;
