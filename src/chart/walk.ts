/**
 * Walks an XState machine's own definition (its state nodes and transition definitions) into a
 * plain graph the renderers draw. Nothing here is maintained by hand, so the pictures follow the
 * machine when it changes.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export type StateKind = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

export interface ChartState {
  /** XState's state node id, e.g. `node.power.verifying.check`. */
  id: string;
  /** The last segment of the id: the name people read. */
  key: string;
  parent: string | null;
  type: StateKind;
  /** Entered by default when its parent is entered (the root, a parallel region, a compound's initial child). */
  initial: boolean;
  /** Has only eventless transitions: a decision the machine passes through, never rests in. */
  transient: boolean;
}

export interface ChartTransition {
  source: string;
  /** Target state ids; empty for a targetless transition (it runs actions and stays). */
  targets: string[];
  /** The event type, or `always` for an eventless transition. */
  event: string;
  eventless: boolean;
  guard?: string;
  actions: string[];
}

export interface ChartGraph {
  id: string;
  states: ChartState[];
  transitions: ChartTransition[];
}

/** The event name eventless (`always`) transitions are drawn and listed under. */
export const EVENTLESS = 'always';

interface TransitionLike {
  target?: readonly AnyStateNode[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
}

export function walkMachine(machine: AnyStateMachine): ChartGraph {
  const states: ChartState[] = [];
  const transitions: ChartTransition[] = [];
  const visit = (node: AnyStateNode): void => {
    const parent = node.parent;
    const own = [...node.transitions.entries()];
    const always = (node.always ?? []) as readonly TransitionLike[];
    states.push({
      id: node.id,
      key: node.key,
      parent: parent ? parent.id : null,
      type: node.type,
      initial: isInitial(node),
      transient: always.length > 0 && own.length === 0,
    });
    for (const [event, list] of own) {
      for (const t of list as readonly TransitionLike[]) transitions.push(describeTransition(node.id, event, false, t));
    }
    for (const t of always) transitions.push(describeTransition(node.id, EVENTLESS, true, t));
    for (const child of Object.values(node.states) as AnyStateNode[]) visit(child);
  };
  visit(machine.root);
  return { id: machine.root.id, states, transitions };
}

function isInitial(node: AnyStateNode): boolean {
  const parent = node.parent;
  if (!parent || parent.type === 'parallel') return true;
  return (parent.initial?.target ?? []).some((t: AnyStateNode) => t.id === node.id);
}

function describeTransition(source: string, event: string, eventless: boolean, t: TransitionLike): ChartTransition {
  const guard = t.guard === undefined ? undefined : guardLabel(t.guard);
  return {
    source,
    targets: (t.target ?? []).map((n) => n.id),
    event,
    eventless,
    ...(guard === undefined ? {} : { guard }),
    actions: t.actions.map(actionLabel),
  };
}

/** `source --event [guard]--> target`: one line that names a transition everywhere (DOT tooltips, tests). */
export function transitionKey(t: ChartTransition): string {
  const guard = t.guard === undefined ? '' : ` [${t.guard}]`;
  const target = t.targets.length ? t.targets.join(', ') : '(no target)';
  return `${t.source} --${t.event}${guard}--> ${target}`;
}

/** `event [guard]`, the way an edge is labelled. */
export function triggerLabel(t: Pick<ChartTransition, 'event' | 'guard'>): string {
  return t.guard === undefined ? t.event : `${t.event} [${t.guard}]`;
}

const HIGHER_ORDER: Record<string, string> = { checkAnd: 'and', checkOr: 'or', checkNot: 'not' };

/**
 * A readable guard: `stale`, `trackedIs(succeeded, needsOff)`, `and(softOffExpired, escalates)`,
 * `in(#node.power.idle)`. A `true` boolean parameter reads as its name; `false` ones are left out.
 */
export function guardLabel(guard: unknown): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const fn = guard as { name: string; check?: { name: string }; guards?: unknown[]; stateValue?: unknown };
    const combinator = fn.check ? HIGHER_ORDER[fn.check.name] : undefined;
    if (combinator && Array.isArray(fn.guards)) {
      // and(x) and or(x) are just x.
      if (combinator !== 'not' && fn.guards.length === 1) return guardLabel(fn.guards[0]);
      return `${combinator}(${fn.guards.map(guardLabel).join(', ')})`;
    }
    if (fn.stateValue !== undefined) return `in(${valueLabel(fn.stateValue)})`;
    return fn.name || 'inline';
  }
  if (guard && typeof guard === 'object' && 'type' in guard) {
    const { type, params } = guard as { type: unknown; params?: unknown };
    const args = paramsLabel(params);
    return args === '' ? String(type) : `${String(type)}(${args})`;
  }
  return valueLabel(guard);
}

function paramsLabel(params: unknown): string {
  if (params === undefined || params === null) return '';
  if (typeof params !== 'object' || Array.isArray(params)) return valueLabel(params);
  return Object.entries(params)
    .filter(([, v]) => v !== false && v !== undefined)
    .map(([k, v]) => (v === true ? k : valueLabel(v)))
    .join(', ');
}

function valueLabel(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

export function actionLabel(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const fn = action as { name: string; type?: unknown };
    if (typeof fn.type === 'string') return fn.type.replace(/^xstate\./, '');
    return fn.name || 'inline';
  }
  if (action && typeof action === 'object' && 'type' in action) {
    const { type, params } = action as { type: unknown; params?: unknown };
    const args = typeof params === 'function' ? '' : paramsLabel(params);
    return args === '' ? String(type) : `${String(type)}(${args})`;
  }
  return valueLabel(action);
}
