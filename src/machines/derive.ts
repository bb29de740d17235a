/**
 * What the host and the API read off a snapshot: the command that should be running, the
 * timers to arm, and what the node permits now. Pure functions of (state value, context).
 */
import { LIFECYCLE_EVENTS, LIFECYCLE_EVENT_TYPES, POWER_GATE } from './gating.ts';
import type { LifecycleEventType, NodeContext, PowerAction, Status, Step } from './types.ts';
import { POWER_ACTIONS } from './types.ts';

/** The parts of an XState snapshot these functions read (plain JSON, as persisted). */
export interface ChartState {
  value: unknown;
  context: NodeContext;
}

export type PowerPhase = 'idle' | 'dispatching' | 'polling' | 'waiting' | 'confirming' | 'backoff';

export function powerPhase(state: ChartState): PowerPhase {
  const power = (state.value as { power?: unknown }).power;
  if (typeof power === 'string') {
    if (power === 'dispatching' || power === 'backoff') return power;
    return 'idle';
  }
  const verifying = (power as { verifying?: string } | undefined)?.verifying;
  if (verifying === 'polling' || verifying === 'waiting' || verifying === 'confirming') return verifying;
  return 'idle';
}

export function lifecycleStatus(state: ChartState): Status {
  return (state.value as { lifecycle: Status }).lifecycle;
}

export interface Command {
  kind: 'step' | 'query';
  opId: string;
  step: Step;
  attempt: number;
  deadline: number;
}

/** The driver command the state says should be in flight, or null (invariant 1: at most one). */
export function commandFor(state: ChartState): Command | null {
  const op = state.context.inFlight;
  if (!op) return null;
  const phase = powerPhase(state);
  if (phase === 'dispatching') return { kind: 'step', opId: op.opId, step: op.step, attempt: op.attempt, deadline: op.deadline };
  if (phase === 'polling') return { kind: 'query', opId: op.opId, step: op.step, attempt: op.attempt, deadline: op.deadline };
  return null;
}

export interface Timers {
  /** Send DEADLINE at this instant (after aborting the command, if one runs). */
  deadline: number | null;
  /** Send RETRY_DUE at this instant. */
  retryAt: number | null;
  /** Send POLL_DUE after the host's poll interval. */
  poll: boolean;
  /** Idle: periodic sync may run. */
  sync: boolean;
}

export function timersFor(state: ChartState): Timers {
  const op = state.context.inFlight;
  const phase = powerPhase(state);
  return {
    deadline: op && (phase === 'dispatching' || phase === 'polling' || phase === 'waiting' || phase === 'confirming') ? op.deadline : null,
    retryAt: op && phase === 'backoff' ? op.retryAt : null,
    poll: phase === 'waiting',
    sync: phase === 'idle' && state.context.settings.queryable,
  };
}

/** Whether the node is mid-command or waiting on one: such nodes get RECOVER after a restart. */
export function needsRecovery(state: ChartState): boolean {
  const phase = powerPhase(state);
  return phase === 'dispatching' || phase === 'polling' || phase === 'waiting' || phase === 'confirming';
}

export interface Allowed {
  power: PowerAction[];
  lifecycle: LifecycleEventType[];
}

/**
 * What a client may ask for now: gated by status (the gating table) and by the slots (a
 * request that would find both slots full is left out, except repeats that would coalesce).
 * The answer depends on the status and, when the slots are full, the pending action only, so
 * each combination is computed once and shared (frozen) by every view that shows it.
 */
export function allowedActions(state: ChartState): Allowed {
  const ctx = state.context;
  const status = lifecycleStatus(state);
  const slotsFull = ctx.inFlight !== null && ctx.pending !== null && powerPhase(state) !== 'backoff';
  const pendingAction = slotsFull ? (ctx.pending?.action ?? null) : null;
  const key = `${status}|${slotsFull ? `full:${pendingAction}` : 'free'}`;
  let allowed = allowedCache.get(key);
  if (allowed === undefined) {
    allowed = computeAllowed(status, slotsFull, pendingAction);
    allowedCache.set(key, allowed);
  }
  return allowed;
}

const allowedCache = new Map<string, Allowed>();

function computeAllowed(status: Status, slotsFull: boolean, pendingAction: PowerAction | null): Allowed {
  const power = POWER_ACTIONS.filter((action) => {
    if (action !== 'query' && !(POWER_GATE[status] as readonly PowerAction[]).includes(action)) return false;
    if (!slotsFull) return true;
    return action === 'query' || pendingAction === action;
  });
  const lifecycle = LIFECYCLE_EVENT_TYPES.filter((event) => LIFECYCLE_EVENTS[event].from.includes(status));
  return Object.freeze({ power: Object.freeze(power) as PowerAction[], lifecycle: Object.freeze(lifecycle) as LifecycleEventType[] });
}
