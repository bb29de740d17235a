/**
 * Pure slot logic: what a request, a result or a timer does to a node's context. Each function
 * works on a draft (`Tx`) and records what it emits; the chart wires them to events.
 */
import { humanize, lifecycleRefusalMessage, powerAllowedIn, powerRefusalMessage, statusesAllowingPower, isTransitional } from './gating.ts';
import type {
  Desired,
  InFlightOp,
  LifecycleEventType,
  NodeContext,
  NodeEmitted,
  Observed,
  Origin,
  PowerAction,
  Reading,
  Refusal,
  RequestOrigin,
  Step,
  StepFailure,
} from './types.ts';
import { attemptsLeft, retryDelay } from './retry.ts';

export class Tx {
  readonly ctx: NodeContext;
  readonly emits: NodeEmitted[] = [];
  constructor(context: NodeContext) {
    this.ctx = { ...context };
  }
  emit(e: NodeEmitted): void {
    this.emits.push(e);
  }
}

export const DRIFT_ENFORCE_LIMIT = 3;

export function desiredFor(action: PowerAction): Desired | undefined {
  if (action === 'on' || action === 'cycle') return 'on';
  if (action === 'off' || action === 'soft_off') return 'off';
  return undefined;
}

/** The reading a step aims at; null for a query, which any reading satisfies. */
export function stepTarget(step: Step): Reading | null {
  if (step === 'on') return 'on';
  if (step === 'off' || step === 'soft_off') return 'off';
  return null;
}

function firstStep(action: PowerAction, observed: Observed): Step {
  switch (action) {
    case 'cycle':
      // The off step is skipped when the node is observed off.
      return observed === 'off' ? 'on' : 'off';
    case 'on':
      return 'on';
    case 'off':
      return 'off';
    case 'soft_off':
      return 'soft_off';
    case 'query':
      return 'query';
  }
}

export function nextStep(op: InFlightOp): Step | null {
  return op.action === 'cycle' && op.step === 'off' ? 'on' : null;
}

function timeoutFor(ctx: NodeContext, step: Step): number {
  return step === 'soft_off' ? ctx.settings.softOffTimeoutMs : ctx.settings.stepTimeoutMs;
}

export function inBackoff(ctx: NodeContext): boolean {
  return ctx.inFlight !== null && ctx.inFlight.retryAt !== null;
}

function setDesired(tx: Tx, action: PowerAction): void {
  const desired = desiredFor(action);
  if (desired !== undefined) tx.ctx.desired = desired;
}

function supersede(tx: Tx, op: { opId: string; action: PowerAction; origin: Origin }, by: string, at: number): void {
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state: 'superseded', by });
  if (tx.ctx.tracked?.opId === op.opId) tx.ctx.tracked = null;
}

function coalesce(tx: Tx, requestId: string, name: PowerAction, opId: string, at: number): void {
  tx.emit({ type: 'request', at, requestId, kind: 'power', name, result: 'coalesced', opId });
}

function refusePower(tx: Tx, req: { opId: string; action: PowerAction; at: number }, refusal: Refusal): void {
  tx.emit({ type: 'request', at: req.at, requestId: req.opId, kind: 'power', name: req.action, result: 'refused', opId: null, refusal });
}

/** A POWER request of origin user, sync or recovery (invariants 2, 3 and 7). */
export function requestPower(tx: Tx, req: { opId: string; action: PowerAction; origin: RequestOrigin; at: number }): void {
  const { ctx } = tx;
  const { opId, action, origin, at } = req;
  if (origin === 'user' && !powerAllowedIn(ctx.status, action)) {
    return refusePower(tx, req, {
      code: 'not_allowed_in_status',
      status: ctx.status,
      allowedIn: statusesAllowingPower(action),
      message: powerRefusalMessage(ctx.status, action),
    });
  }
  const { inFlight, pending } = ctx;
  if (action === 'query' && inFlight) return coalesce(tx, opId, action, inFlight.opId, at);
  if (pending && pending.action === action) return coalesce(tx, opId, action, pending.opId, at);
  if (inFlight && !pending && !inFlight.superseded && inFlight.action === action) {
    return coalesce(tx, opId, action, inFlight.opId, at);
  }
  if (inFlight && pending && !inBackoff(ctx)) {
    return refusePower(tx, req, {
      code: 'slots_full',
      status: ctx.status,
      message: `node already has ${humanize(inFlight.action)} in flight and ${humanize(pending.action)} pending; wait for one to finish, then retry`,
    });
  }
  // A newer request supersedes an op waiting in backoff: no command is in flight then.
  if (inFlight && inBackoff(ctx)) {
    supersede(tx, inFlight, opId, at);
    ctx.inFlight = null;
  }
  if (ctx.pending) supersede(tx, ctx.pending, opId, at);
  ctx.pending = { opId, action, origin };
  setDesired(tx, action);
  if (origin === 'user' && action !== 'query') ctx.driftEnforcements = 0;
  tx.emit({ type: 'request', at, requestId: opId, kind: 'power', name: action, result: 'accepted', opId });
  tx.emit({ type: 'op', at, opId, action, origin, state: 'pending' });
}

/**
 * A lifecycle transition asking for power: it takes the pending slot and supersedes whatever
 * waits there, never coalesces, and never cancels a command in flight (an in-flight lifecycle
 * op ends after its current step).
 */
export function requestLifecyclePower(tx: Tx, req: { opId: string; action: PowerAction; at: number }): void {
  const { ctx } = tx;
  const { opId, action, at } = req;
  if (ctx.inFlight && inBackoff(ctx)) {
    supersede(tx, ctx.inFlight, opId, at);
    ctx.inFlight = null;
  } else if (ctx.inFlight && ctx.inFlight.origin === 'lifecycle' && !ctx.inFlight.superseded) {
    ctx.inFlight = { ...ctx.inFlight, superseded: true };
  }
  if (ctx.pending) supersede(tx, ctx.pending, opId, at);
  ctx.pending = { opId, action, origin: 'lifecycle' };
  ctx.tracked = { opId, result: 'running' };
  ctx.driftEnforcements = 0;
  setDesired(tx, action);
  tx.emit({ type: 'op', at, opId, action, origin: 'lifecycle', state: 'pending' });
}

export function acceptLifecycle(tx: Tx, req: { opId: string; event: LifecycleEventType; at: number; powerOpId: string | null }): void {
  tx.emit({ type: 'request', at: req.at, requestId: req.opId, kind: 'lifecycle', name: req.event, result: 'accepted', opId: req.powerOpId });
}

export function refuseLifecycle(tx: Tx, req: { opId: string; event: LifecycleEventType; at: number }): void {
  const { ctx } = tx;
  tx.emit({
    type: 'request',
    at: req.at,
    requestId: req.opId,
    kind: 'lifecycle',
    name: req.event,
    result: 'refused',
    opId: null,
    refusal: { code: 'not_allowed_in_status', status: ctx.status, message: lifecycleRefusalMessage(ctx.status, req.event) },
  });
}

/** Moves the pending op into flight with its first step. */
export function promotePending(tx: Tx, at: number): void {
  const { ctx } = tx;
  const op = ctx.pending;
  if (!op) return;
  const step = firstStep(op.action, ctx.observed);
  ctx.pending = null;
  ctx.inFlight = {
    ...op,
    step,
    attempt: 1,
    deadline: at + timeoutFor(ctx, step),
    startBy: at,
    latestEnd: at,
    abandonedUntil: null,
    recovering: false,
    retryAt: null,
    lastCheck: false,
    superseded: false,
    failure: null,
  };
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state: 'in_flight', step, attempt: 1 });
}

function withInFlight(tx: Tx, patch: Partial<InFlightOp>): InFlightOp {
  const current = tx.ctx.inFlight;
  if (!current) throw new Error('no op in flight');
  const next = { ...current, ...patch };
  tx.ctx.inFlight = next;
  return next;
}

export function beginStep(tx: Tx, step: Step, at: number): void {
  const op = withInFlight(tx, { step, attempt: 1, deadline: at + timeoutFor(tx.ctx, step), lastCheck: false, failure: null, retryAt: null });
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state: 'in_flight', step, attempt: 1 });
}

/**
 * The attempt failed and the BMC could not be read, so nobody knows whether the step took effect:
 * the next attempt reads the BMC first and re-sends the step only if the reading says it is needed
 * (never a blind repeat; after a restart, recovery verifies before it re-sends anything).
 */
export function retryVerification(tx: Tx, at: number): void {
  const current = tx.ctx.inFlight;
  if (!current) return;
  const op = withInFlight(tx, { attempt: current.attempt + 1, retryAt: null, lastCheck: true, failure: null });
  renewDeadline(tx, at);
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state: 'in_flight', step: op.step, attempt: op.attempt });
}

export function retryStep(tx: Tx, at: number): void {
  const current = tx.ctx.inFlight;
  if (!current) return;
  const op = withInFlight(tx, {
    attempt: current.attempt + 1,
    deadline: at + timeoutFor(tx.ctx, current.step),
    retryAt: null,
    lastCheck: false,
    failure: null,
  });
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state: 'in_flight', step: op.step, attempt: op.attempt });
}

export function escalateSoftOff(tx: Tx, at: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  tx.emit({ type: 'note', at, kind: 'soft_off_escalated', opId: op.opId, message: 'soft off did not finish by its deadline; sending a hard off' });
  beginStep(tx, 'off', at);
}

export function recordReading(tx: Tx, observed: Reading): void {
  tx.ctx.observed = observed;
}

/** A step or its verification did not reach the target; the next reading (if any) decides. */
export function recordFailure(tx: Tx, failure: StepFailure): void {
  withInFlight(tx, { failure, lastCheck: true });
}

/** A fresh deadline for what follows: the step's own, or a query's when the next reading decides. */
export function renewDeadline(tx: Tx, at: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  const timeout = op.lastCheck ? tx.ctx.settings.stepTimeoutMs : timeoutFor(tx.ctx, op.step);
  withInFlight(tx, { deadline: at + timeout });
}

/** A query op's reading: the op succeeds, and a change seen while idle may be drift. */
export function completeQuery(tx: Tx, reading: Reading, at: number): void {
  const before = tx.ctx.observed;
  recordReading(tx, reading);
  endOpSucceeded(tx, at, before);
}

/**
 * How long the host may take from the commit that names a command to its send without
 * committing again: a command that waited longer for its BMC or the global cap is re-stamped
 * (COMMAND_STARTED) before it goes out, so its committed latest end always covers it.
 */
export const START_GRACE_MS = 2_000;

/**
 * A command begins (a step in dispatching, a query in polling): when it must be sent by, and its
 * latest end. The attempt's deadline never falls before the latest end: a deadline cannot end a
 * command the BMC may still be carrying out (invariant 10).
 */
export function stampCommand(tx: Tx, at: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  const { commandBudgetMs, settleMs } = tx.ctx.settings;
  const startBy = at + START_GRACE_MS;
  const latestEnd = startBy + commandBudgetMs + settleMs;
  withInFlight(tx, { startBy, latestEnd, abandonedUntil: null, deadline: Math.max(op.deadline, latestEnd) });
}

/** The command went out only now, after waiting for a slot: a step's deadline counts from here. */
export function commandStarted(tx: Tx, at: number, restartsDeadline: boolean): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  if (restartsDeadline) withInFlight(tx, { deadline: at + timeoutFor(tx.ctx, op.step) });
  stampCommand(tx, at);
}

const seconds = (ms: number) => `${Math.ceil(ms / 1000)} s`;

/** The client gave up; the BMC may still carry the command out until its latest end. */
export function abandonCommand(tx: Tx, at: number, error: string, isQuery: boolean): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  withInFlight(tx, { abandonedUntil: op.latestEnd });
  const what = isQuery ? 'query' : `${humanize(op.step)} command`;
  tx.emit({
    type: 'note',
    at,
    kind: 'command_abandoned',
    opId: op.opId,
    message: `gave up waiting for the ${what} (attempt ${op.attempt}): ${error}; the BMC may still carry it out, so nothing else is sent to this node${op.latestEnd > at ? ` for ${seconds(op.latestEnd - at)}` : ''}`,
  });
}

/** A query failed or went unanswered: say so at once, once (invariant 8; a fault is never silent). */
export function noteReadError(tx: Tx, at: number, message: string): void {
  const { ctx } = tx;
  const known = ctx.readError !== null;
  ctx.readError = message;
  if (!known) tx.emit({ type: 'note', at, kind: 'bmc_unreadable', ...(ctx.inFlight ? { opId: ctx.inFlight.opId } : {}), message: `${message}; checking again on its own` });
}

/** The BMC answered a query: a read fault it showed is over. */
export function clearReadError(tx: Tx, at: number, reading: Reading): void {
  const { ctx } = tx;
  if (ctx.readError === null && ctx.observed !== 'error') return;
  ctx.readError = null;
  tx.emit({ type: 'note', at, kind: 'bmc_readable', ...(ctx.inFlight ? { opId: ctx.inFlight.opId } : {}), message: `the BMC answers again: power is ${reading}` });
}

/** Restored with this op in flight: nothing is re-sent before a reading says where the step got to. */
export function beginRecovery(tx: Tx, at: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  withInFlight(tx, { recovering: true });
  tx.emit({
    type: 'note',
    at,
    kind: 'recovery_started',
    opId: op.opId,
    message: `Switchboard restarted with ${humanize(op.action)} in flight (${humanize(op.step)}, attempt ${op.attempt}, origin ${op.origin}); reading the BMC before anything is sent again`,
  });
}

/** What the recovery's reading found, and what the op does next. */
export function reportRecovery(tx: Tx, at: number, found: { reading: Reading } | { error: string }): void {
  const op = tx.ctx.inFlight;
  if (!op?.recovering) return;
  withInFlight(tx, { recovering: false });
  const target = stepTarget(op.step);
  let message: string;
  if ('error' in found) {
    message = `after the restart the BMC could not be read (${found.error}); ${retryOrFail(tx.ctx, op)}`;
  } else if (op.step === 'query' || target === null || found.reading === target) {
    const next = nextStep(op);
    message = `after the restart the BMC reads ${found.reading}: ${humanize(op.step)} is done; ${next ? `next: ${next}` : `${humanize(op.action)} succeeds`}`;
  } else {
    message = `after the restart the BMC reads ${found.reading}, not ${target}: ${humanize(op.step)} did not take effect; ${retryOrFail(tx.ctx, op)}`;
  }
  tx.emit({ type: 'note', at, kind: 'recovery_verified', opId: op.opId, message });
}

function retryOrFail(ctx: NodeContext, op: InFlightOp): string {
  if (op.superseded) return 'the op was superseded and ends here';
  const { retry } = ctx.settings;
  return attemptsLeft(retry, op.attempt) ? `it is retried (attempt ${op.attempt + 1} of ${retry.attempts})` : `${humanize(op.action)} fails`;
}

/** Backoff after a failed attempt; `jitter` (0..1) is the event's random draw (see retry.ts). */
export function scheduleRetry(tx: Tx, at: number, jitter?: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  const delay = retryDelay(tx.ctx.settings.retry, op.attempt, jitter);
  withInFlight(tx, { retryAt: at + delay, lastCheck: false });
  tx.emit({
    type: 'note',
    at,
    kind: 'retry_scheduled',
    opId: op.opId,
    message: `${humanize(op.step)} attempt ${op.attempt} failed (${op.failure?.message ?? 'target not reached'}); ${op.failure?.unreadable ? `reading the BMC again in ${delay} ms before anything is re-sent` : `retrying in ${delay} ms`}`,
  });
}

function endOp(tx: Tx, state: 'succeeded' | 'failed' | 'superseded', at: number, error?: string): InFlightOp | null {
  const { ctx } = tx;
  const op = ctx.inFlight;
  if (!op) return null;
  ctx.inFlight = null;
  tx.emit({ type: 'op', at, opId: op.opId, action: op.action, origin: op.origin, state, step: op.step, attempt: op.attempt, ...(error ? { error } : {}) });
  if (ctx.tracked?.opId === op.opId) {
    ctx.tracked = state === 'superseded' ? null : { opId: op.opId, result: state };
  }
  return op;
}

export function endOpSuperseded(tx: Tx, at: number): void {
  endOp(tx, 'superseded', at);
}

export function endOpFailed(tx: Tx, at: number): void {
  const op = tx.ctx.inFlight;
  if (!op) return;
  const failure = op.failure;
  const message = `${humanize(op.action)} failed at step ${humanize(op.step)} after ${op.attempt} attempt(s): ${failure?.message ?? 'target not reached'}`;
  if (failure?.unreadable) tx.ctx.observed = 'error';
  tx.ctx.lastError = message;
  endOp(tx, 'failed', at, message);
}

/** The op reached its target: clear the failure it may show, and handle drift for queries. */
export function endOpSucceeded(tx: Tx, at: number, previousObserved: Observed): void {
  const op = endOp(tx, 'succeeded', at);
  if (!op) return;
  if (op.action !== 'query') tx.ctx.lastError = null;
  else handleDrift(tx, op, previousObserved, at);
}

/**
 * Drift: a change seen while idle after observed had matched desired (someone pressed the
 * button). Not handled in transitional statuses or while an op is pending.
 */
function handleDrift(tx: Tx, query: InFlightOp, before: Observed, at: number): void {
  const { ctx } = tx;
  const now = ctx.observed;
  if (ctx.desired === null || before !== ctx.desired) return;
  if ((now !== 'on' && now !== 'off') || now === ctx.desired) return;
  if (ctx.pending || isTransitional(ctx.status)) return;
  if (ctx.settings.driftPolicy === 'adopt') {
    tx.emit({ type: 'note', at, kind: 'drift_adopted', opId: query.opId, message: `power changed to ${now} outside Switchboard; desired is now ${now}` });
    ctx.desired = now;
    return;
  }
  const action = ctx.desired;
  if (ctx.driftEnforcements >= DRIFT_ENFORCE_LIMIT || !powerAllowedIn(ctx.status, action)) {
    const why =
      ctx.driftEnforcements >= DRIFT_ENFORCE_LIMIT
        ? `enforced ${DRIFT_ENFORCE_LIMIT} times already`
        : `power ${action} is not allowed while ${humanize(ctx.status)}`;
    tx.emit({ type: 'note', at, kind: 'drift_unresolved', opId: query.opId, message: `power is ${now} but desired is ${action}: ${why}; send a power request to settle it` });
    return;
  }
  ctx.driftEnforcements += 1;
  const opId = `${query.opId}.enforce`;
  ctx.pending = { opId, action, origin: 'sync' };
  tx.emit({ type: 'note', at, kind: 'drift_enforced', opId, message: `power changed to ${now} outside Switchboard; enforcing ${action} (${ctx.driftEnforcements}/${DRIFT_ENFORCE_LIMIT})` });
  tx.emit({ type: 'op', at, opId, action, origin: 'sync', state: 'pending' });
}
