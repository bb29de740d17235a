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

function buildView(node: NodeRuntime): NodeView {
  const base = {
    id: node.id,
    name: node.record.name,
    driver: node.record.driver as DriverName,
    bmc: node.record.bmc,
    driftPolicy: node.record.driftPolicy,
    softOffEscalate: node.record.softOffEscalate,
    fault: node.fault,
    updatedAt: node.updatedAt.toISOString(),
  };
  const state = node.actor ? node.committedState : null;
  if (!state) {
    return {
      ...base,
      status: 'broken',
      power: { observed: 'error', desired: null, inFlight: null, pending: null, phase: 'idle', lastError: node.fault },
      allowed: { power: [], lifecycle: [] },
    };
  }
  const c = state.context;
  const op = c.inFlight;
  return {
    ...base,
    status: c.status,
    power: {
      observed: c.observed,
      desired: c.desired,
      inFlight: op && { opId: op.opId, action: op.action, origin: op.origin, step: op.step, attempt: op.attempt },
      pending: c.pending,
      phase: powerPhase(state),
      lastError: c.lastError,
    },
    allowed: allowedActions(state),
  };
}
