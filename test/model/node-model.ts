/**
 * Model exploration of the node chart: a breadth-first walk over a guard-complete abstract key,
 * with every edge checked against the chart's invariants, and a greedy transition cover (the
 * shortest path to each transition's first firing) exported for replay against the real host.
 *
 * Why not @xstate/graph's getAdjacencyMap for the walk: it keeps a snapshot for every edge
 * (states × events) alive, which does not fit at this size; the walk here keeps one per key.
 * The cover paths are handed to @xstate/graph's getPathsFromEvents so they are standard paths.
 */
import { createActor, createMachine, type AnyStateNode, type AnyTransitionDefinition } from 'xstate';
import { isTransitional, lifecycleAllowedIn, powerAllowedIn, LIFECYCLE_EVENT_TYPES } from '../../src/machines/gating.ts';
import { commandFor, powerPhase, type ChartState } from '../../src/machines/derive.ts';
import { nodeMachine, initialContext } from '../../src/machines/node-machine.ts';
import { desiredFor, stepTarget } from '../../src/machines/ops.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
import {
  POWER_ACTIONS,
  type NodeContext,
  type NodeEmitted,
  type NodeEvent,
  type NodeSettings,
  type Reading,
  type Status,
} from '../../src/machines/types.ts';

type Snapshot = ReturnType<typeof nodeMachine.getInitialSnapshot>;

export interface ModelConfig {
  name: string;
  settings: Partial<NodeSettings>;
}

/** Two attempts per step keep retries finite and small; the delays change no guard. */
const retry = { ...DEFAULT_RETRY_POLICY, attempts: 2 };

/** Configurations that change which guards can pass. */
export const MODEL_CONFIGS: ModelConfig[] = [
  { name: 'adopt/escalate', settings: { driftPolicy: 'adopt', softOffEscalate: true, retry } },
  { name: 'enforce/fail-soft-off', settings: { driftPolicy: 'enforce', softOffEscalate: false, retry } },
  { name: 'manual (not queryable)', settings: { queryable: false, softOffEscalate: true, retry } },
];

const LIFECYCLE_TYPES = new Set<string>(LIFECYCLE_EVENT_TYPES);
const ABORT_SOURCES = new Set<Status>(['commissioning', 'deploying', 'entering_rescue']);
const RESCUE_READERS = new Set<Status>(['rescue', 'exiting_rescue', 'entering_rescue']);

/**
 * Everything a guard reads, nothing else (ids, instants and messages are dropped). A test checks
 * that states with the same key fire the same transitions, so nobody can narrow it unnoticed.
 */
/** State values with sorted keys, so a value read back from jsonb has the same key. */
function canonical(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Record<string, unknown>)[k])]));
}

export function modelKey(state: ChartState): string {
  const c = state.context;
  const op = c.inFlight;
  const where = (id: string | undefined) => (id === undefined ? '-' : id === op?.opId ? 'F' : id === c.pending?.opId ? 'P' : 'x');
  return JSON.stringify([
    canonical(state.value),
    op && [op.action, op.step, op.attempt, op.origin, op.superseded, op.lastCheck, op.retryAt !== null, op.failure && [op.failure.kind, op.failure.retryable, op.failure.unreadable]],
    c.pending && [c.pending.action, c.pending.origin],
    c.observed,
    c.desired,
    c.tracked && [c.tracked.result, where(c.tracked.opId)],
    ABORT_SOURCES.has(c.status) ? c.prevStatus : null,
    RESCUE_READERS.has(c.status) ? c.rescueFrom : null,
    c.driftEnforcements,
    c.settings.driftPolicy,
    c.settings.softOffEscalate,
    c.settings.queryable,
    c.settings.retry.attempts,
  ]);
}

/** Every transition definition of the machine, named `source#event#index` (eventless: `always`). */
export function machineTransitions(root: AnyStateNode = nodeMachine.root): Map<AnyTransitionDefinition, string> {
  const names = new Map<AnyTransitionDefinition, string>();
  const visit = (node: AnyStateNode) => {
    for (const [eventType, defs] of node.transitions) defs.forEach((d, i) => names.set(d, `${node.id}#${eventType}#${i}`));
    (node.always ?? []).forEach((d, i) => names.set(d, `${node.id}#always#${i}`));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(root);
  return names;
}

export function machineStateIds(root: AnyStateNode = nodeMachine.root): string[] {
  const ids: string[] = [];
  const visit = (node: AnyStateNode) => {
    ids.push(node.id);
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(root);
  return ids;
}

function valueIds(value: unknown, prefix: string, out: Set<string>): void {
  out.add(prefix);
  if (typeof value === 'string') out.add(`${prefix}.${value}`);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) valueIds(v, `${prefix}.${k}`, out);
}

/* ---- Stepping the machine with a probe that sees fired transitions and emitted events ---- */

interface StepResult {
  next: Snapshot;
  fired: AnyTransitionDefinition[];
  emitted: NodeEmitted[];
  visited: Set<string>;
}

function createProber() {
  let fired: AnyTransitionDefinition[] = [];
  let emitted: NodeEmitted[] = [];
  let visited = new Set<string>();
  const inspector = createActor(createMachine({}), {
    inspect: (e) => {
      if (e.type !== '@xstate.microstep') return;
      const micro = e as unknown as { _transitions: AnyTransitionDefinition[]; snapshot: { value: unknown } };
      fired.push(...micro._transitions);
      valueIds(micro.snapshot.value, 'node', visited);
    },
  });
  const baseScope = {
    self: inspector,
    logger: () => {},
    id: '',
    sessionId: 'model',
    defer: () => {},
    system: inspector.system,
    stopChild: () => {},
    emit: () => {},
    // transition() runs no actions; emits are actions too, so collect them here (params: {event}).
    actionExecutor: (action: { type: string; params?: { event?: unknown } }) => {
      if (action.type === 'xstate.emit' && action.params?.event) emitted.push(action.params.event as NodeEmitted);
    },
  };
  return {
    initial(settings: Partial<NodeSettings>): Snapshot {
      return nodeMachine.resolveState({ value: { lifecycle: 'new', power: 'idle' }, context: initialContext({ settings }) });
    },
    step(snapshot: Snapshot, event: NodeEvent): StepResult {
      fired = [];
      emitted = [];
      visited = new Set();
      const next = nodeMachine.transition(snapshot, event, baseScope as never) as Snapshot;
      return { next, fired, emitted, visited };
    },
  };
}

/* ---- Events worth sending from a state: only values guards can tell apart ---- */

let requestSeq = 0;
const newId = (prefix: string) => `${prefix}${++requestSeq}`;

export function eventsFor(state: ChartState, at: number): NodeEvent[] {
  const c = state.context;
  const op = c.inFlight;
  const phase = powerPhase(state);
  const events: NodeEvent[] = [];
  for (const action of POWER_ACTIONS) events.push({ type: 'POWER', action, origin: 'user', opId: newId('u'), at });
  // Refusals of lifecycle events are self-loops; sending every type only while quiet keeps the walk small.
  for (const type of LIFECYCLE_EVENT_TYPES) {
    if (phase === 'idle' || lifecycleAllowedIn(c.status, type)) events.push({ type, opId: newId('l'), at });
  }
  if (phase === 'idle') {
    events.push({ type: 'SYNC_DUE', opId: newId('s'), at });
    events.push({ type: 'POWER', action: 'query', origin: 'recovery', opId: newId('r'), at });
    events.push({ type: 'CONFIGURE', settings: {}, at });
    return events;
  }
  if (!op) return events;
  const ref = { opId: op.opId, step: op.step, attempt: op.attempt, at };
  const stale = { ...ref, attempt: op.attempt + 1 };
  const readings: Reading[] = ['on', 'off', 'unknown'];
  switch (phase) {
    case 'dispatching':
      // An ack without a reading, and one whose reply carries the target (drivers that report state).
      events.push({ type: 'STEP_ACK', ...ref });
      if (stepTarget(op.step)) events.push({ type: 'STEP_ACK', ...ref, observed: stepTarget(op.step)! });
      events.push({ type: 'STEP_FAILED', ...ref, retryable: true, error: 'busy' });
      events.push({ type: 'STEP_FAILED', ...ref, retryable: false, error: 'auth' });
      events.push({ type: 'DEADLINE', ...ref });
      events.push({ type: 'STEP_ACK', ...stale });
      events.push({ type: 'STEP_FAILED', ...stale, retryable: true, error: 'late' });
      events.push({ type: 'DEADLINE', ...stale });
      events.push({ type: 'RECOVER', at });
      events.push({ type: 'COMMAND_STARTED', ...ref });
      events.push({ type: 'COMMAND_ABANDONED', ...ref, error: 'timeout' });
      events.push({ type: 'COMMAND_STARTED', ...stale });
      events.push({ type: 'COMMAND_ABANDONED', ...stale, error: 'late' });
      break;
    case 'polling':
      for (const observed of readings) events.push({ type: 'QUERY_DONE', ...ref, observed });
      events.push({ type: 'QUERY_FAILED', ...ref, retryable: true, error: 'timeout' });
      events.push({ type: 'QUERY_FAILED', ...ref, retryable: false, error: 'auth' });
      events.push({ type: 'DEADLINE', ...ref });
      events.push({ type: 'QUERY_DONE', ...stale, observed: 'on' });
      events.push({ type: 'QUERY_FAILED', ...stale, retryable: true, error: 'late' });
      events.push({ type: 'DEADLINE', ...stale });
      events.push({ type: 'RECOVER', at });
      events.push({ type: 'COMMAND_STARTED', ...ref });
      events.push({ type: 'COMMAND_ABANDONED', ...ref, error: 'timeout' });
      events.push({ type: 'COMMAND_STARTED', ...stale });
      events.push({ type: 'COMMAND_ABANDONED', ...stale, error: 'late' });
      break;
    case 'waiting':
      events.push({ type: 'POLL_DUE', opId: op.opId, at });
      events.push({ type: 'DEADLINE', ...ref });
      events.push({ type: 'POLL_DUE', opId: 'stale', at });
      events.push({ type: 'DEADLINE', ...stale });
      events.push({ type: 'RECOVER', at });
      break;
    case 'confirming':
      for (const observed of readings) events.push({ type: 'CONFIRM', opId: op.opId, observed, at });
      events.push({ type: 'DEADLINE', ...ref });
      events.push({ type: 'CONFIRM', opId: 'stale', observed: 'on', at });
      events.push({ type: 'DEADLINE', ...stale });
      events.push({ type: 'RECOVER', at });
      break;
    case 'backoff':
      events.push({ type: 'RETRY_DUE', opId: op.opId, at });
      events.push({ type: 'RETRY_DUE', opId: 'stale', at });
      break;
  }
  return events;
}

/* ---- Invariants that belong to the chart, checked on every explored edge ---- */

export class InvariantViolation extends Error {}

function fail(message: string, before: ChartState, event: NodeEvent, after: ChartState): never {
  throw new InvariantViolation(`${message}\n  event: ${JSON.stringify(event)}\n  before: ${modelKey(before)}\n  after: ${modelKey(after)}`);
}

const sameContext = (a: NodeContext, b: NodeContext) => JSON.stringify(a) === JSON.stringify(b);

export type RequestTally = Record<'accepted' | 'coalesced' | 'refused', number>;

export function checkEdge(before: ChartState, event: NodeEvent, after: ChartState, emitted: NodeEmitted[], visited: Set<string>, tally?: RequestTally): void {
  const a = after.context;
  const phase = powerPhase(after);
  // 1 + 2. Single flight, bounded intent: the state and the slots agree; nothing waits while idle.
  if (phase === 'idle' && (a.inFlight !== null || a.pending !== null)) fail('idle with an op in a slot', before, event, after);
  if (phase !== 'idle' && a.inFlight === null) fail(`${phase} without an op in flight`, before, event, after);
  if (a.pending && !a.inFlight) fail('pending without an op in flight', before, event, after);
  if (a.inFlight && a.pending && a.inFlight.opId === a.pending.opId) fail('one op in both slots', before, event, after);
  const request = emitted.find((e) => e.type === 'request');
  if ((event.type === 'POWER' || LIFECYCLE_TYPES.has(event.type)) && !request) fail('a request got no answer', before, event, after);
  if (request && tally) tally[request.result]++;
  if (request) {
    // Refusals change nothing.
    if (request.result === 'refused' && (!sameContext(before.context, a) || JSON.stringify(before.value) !== JSON.stringify(after.value))) {
      fail('a refused request changed the node', before, event, after);
    }
    // Gating respected.
    if (request.result === 'accepted' && event.type === 'POWER' && event.origin === 'user' && !powerAllowedIn(before.context.status, event.action)) {
      fail('a power op the status forbids was accepted', before, event, after);
    }
    if (request.result === 'accepted' && request.kind === 'lifecycle' && !lifecycleAllowedIn(before.context.status, request.name as never)) {
      fail('a lifecycle event the status forbids was accepted', before, event, after);
    }
    // Desired follows the last accepted op.
    if (request.result === 'accepted' && event.type === 'POWER') {
      const d = desiredFor(event.action);
      if (d !== undefined && a.desired !== d) fail(`desired is ${a.desired} after accepting ${event.action}`, before, event, after);
    }
    // Idempotent repeats: coalesced requests change nothing and answer with an existing op.
    if (request.result === 'coalesced') {
      if (!sameContext(before.context, a)) fail('a coalesced request changed the node', before, event, after);
      const existing = [before.context.inFlight?.opId, before.context.pending?.opId];
      if (!existing.includes(request.opId ?? undefined)) fail('coalesced with an op that is not in a slot', before, event, after);
    }
    if (event.type === 'POWER' && event.origin === 'user' && powerAllowedIn(before.context.status, event.action)) {
      const b = before.context;
      const repeat =
        b.pending?.action === event.action ||
        (event.action === 'query' && b.inFlight !== null) ||
        (!b.pending && b.inFlight?.action === event.action && !b.inFlight.superseded);
      if (repeat && request.result !== 'coalesced') fail('a repeat was not coalesced', before, event, after);
    }
  }
  // Recovery always goes through verifying: after RECOVER no step is re-sent.
  if (event.type === 'RECOVER' && commandFor(after)?.kind === 'step') fail('RECOVER re-sent a step without verifying', before, event, after);
  if (event.type === 'RECOVER' && powerPhase(before) !== 'backoff' && powerPhase(before) !== 'idle' && ![...visited].some((id) => id.startsWith('node.power.verifying'))) {
    fail('RECOVER did not go through verifying', before, event, after);
  }
  // An attempt whose verification could not read the BMC is followed by a reading, never a blind re-send.
  if (event.type === 'RETRY_DUE' && before.context.inFlight?.failure?.unreadable && commandFor(after)?.kind === 'step') {
    fail('a step was re-sent after an attempt that could not read the BMC', before, event, after);
  }
  // A step is sent again (a later attempt) only from backoff, which a verification preceded.
  const cmd = commandFor(after);
  const was = commandFor(before);
  if (cmd?.kind === 'step' && cmd.attempt > 1 && !(was?.opId === cmd.opId && was.attempt === cmd.attempt) && event.type !== 'RETRY_DUE') {
    fail('a step was re-sent other than by a retry', before, event, after);
  }
  // Transitional statuses never accept user power.
  if (isTransitional(before.context.status) && event.type === 'POWER' && event.origin === 'user' && event.action !== 'query' && request?.result === 'accepted') {
    fail('user power accepted in a transitional status', before, event, after);
  }
}

/* ---- The walk ---- */

export interface Exploration {
  config: string;
  states: number;
  edges: number;
  fired: Set<string>;
  visited: Set<string>;
  /** Greedy transition cover: for each transition, the shortest event path that first fires it. */
  paths: NodeEvent[][];
  duplicatesChecked: number;
  /** How many answered requests the invariant checks saw, by result. */
  requests: RequestTally;
}

interface Entry {
  snapshot: Snapshot;
  parent: string | null;
  event: NodeEvent | null;
  depth: number;
}

function pathTo(entries: Map<string, Entry>, key: string): NodeEvent[] {
  const events: NodeEvent[] = [];
  for (let k: string | null = key; k !== null; ) {
    const e: Entry = entries.get(k)!;
    if (e.event) events.push(e.event);
    k = e.parent;
  }
  return events.reverse();
}

const firedSignature = (names: Map<AnyTransitionDefinition, string>, fired: AnyTransitionDefinition[]) => fired.map((t) => names.get(t)).join('|');

/**
 * Walks every abstract state reachable under one configuration. `soundnessSamples` duplicates
 * (a state whose key was already seen) are stepped with the representative's events to check
 * that the key is sound: the same key fires the same transitions.
 */
export function explore(config: ModelConfig, options: { soundnessSamples?: number; stepMs?: number } = {}): Exploration {
  const names = machineTransitions();
  const prober = createProber();
  const entries = new Map<string, Entry>();
  const start = prober.initial(config.settings);
  const startKey = modelKey(start);
  entries.set(startKey, { snapshot: start, parent: null, event: null, depth: 0 });
  const queue: string[] = [startKey];
  const fired = new Set<string>();
  const visited = new Set<string>(['node', 'node.lifecycle', 'node.lifecycle.new', 'node.power', 'node.power.idle']);
  const paths: NodeEvent[][] = [];
  let edges = 0;
  let samplesLeft = options.soundnessSamples ?? 0;
  let duplicatesChecked = 0;
  const requests: RequestTally = { accepted: 0, coalesced: 0, refused: 0 };
  const stepMs = options.stepMs ?? 1000;
  for (let head = 0; head < queue.length; head++) {
    const key = queue[head]!;
    const entry = entries.get(key)!;
    const at = (entry.depth + 1) * stepMs;
    for (const event of eventsFor(entry.snapshot, at)) {
      const { next, fired: firedNow, emitted, visited: seen } = prober.step(entry.snapshot, event);
      edges++;
      checkEdge(entry.snapshot, event, next, emitted, seen, requests);
      seen.forEach((id) => visited.add(id));
      let fresh = false;
      for (const t of firedNow) {
        const name = names.get(t);
        if (name === undefined) throw new Error('a fired transition is not in the machine definition');
        if (!fired.has(name)) {
          fired.add(name);
          fresh = true;
        }
      }
      if (fresh) paths.push([...pathTo(entries, key), event]);
      const nextKey = modelKey(next);
      const known = entries.get(nextKey);
      if (!known) {
        entries.set(nextKey, { snapshot: next, parent: key, event, depth: entry.depth + 1 });
        queue.push(nextKey);
      } else if (samplesLeft > 0 && JSON.stringify(known.snapshot.context) !== JSON.stringify(next.context)) {
        samplesLeft--;
        duplicatesChecked++;
        assertSameBehaviour(prober, names, known.snapshot, next, at);
      }
    }
  }
  return { config: config.name, states: entries.size, edges, fired, visited, paths, duplicatesChecked, requests };
}

function assertSameBehaviour(prober: ReturnType<typeof createProber>, names: Map<AnyTransitionDefinition, string>, a: Snapshot, b: Snapshot, at: number): void {
  const eventsA = eventsFor(a, at);
  const eventsB = eventsFor(b, at);
  if (eventsA.length !== eventsB.length) throw new InvariantViolation(`key is unsound: different events for ${modelKey(a)}`);
  eventsA.forEach((ea, i) => {
    const eb = eventsB[i]!;
    const fa = prober.step(a, ea);
    const fb = prober.step(b, eb);
    const sa = firedSignature(names, fa.fired);
    const sb = firedSignature(names, fb.fired);
    if (sa !== sb || modelKey(fa.next) !== modelKey(fb.next)) {
      throw new InvariantViolation(`key is unsound: ${modelKey(a)} on ${ea.type} fires ${sa} but an equal-key state fires ${sb}`);
    }
  });
}
