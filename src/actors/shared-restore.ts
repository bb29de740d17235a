/** Restoring many nodes cheaply: XState's restore, resolved once per state value. */
import type { AnyActorScope } from 'xstate';
import { nodeMachine } from '../machines/node-machine.ts';
import { isPlainActive } from './stored-snapshot.ts';

type PersistedNode = { status?: unknown; value?: unknown; context?: unknown; children?: unknown; historyValue?: unknown };

/**
 * XState's restoreSnapshot resolves the state value to its state nodes, the active tags and the
 * value again; at boot that was a third of the cost of a node (about 8 µs of 20). All of it
 * depends on the state value alone, and a fleet sits in a handful of state values. So each
 * distinct value is resolved once, with an empty context, and every node in it gets a copy of
 * that resolution with its own context. Snapshots are never mutated by XState (every transition
 * builds a new one), so sharing the resolved parts is safe; test/actors/shared-restore.test.ts
 * checks that the result equals XState's own restore for every state the chart reaches.
 */
const resolved = new Map<string, ReturnType<typeof nodeMachine.restoreSnapshot>>();

export function restoreShared(persisted: unknown, scope: AnyActorScope): ReturnType<typeof nodeMachine.restoreSnapshot> {
  const p = persisted as PersistedNode;
  // Anything unusual (children, history, a finished or failed actor) goes the stock way.
  if (!isPlainActive(p)) return nodeMachine.restoreSnapshot(persisted as never, scope);
  const key = JSON.stringify(p.value);
  let template = resolved.get(key);
  if (template === undefined) {
    template = nodeMachine.restoreSnapshot({ ...p, context: {} } as never, scope);
    if (resolved.size < 1000) resolved.set(key, template);
  }
  return { ...template, context: p.context as never, children: {} };
}

/** nodeMachine with the shared restore; everything else is the machine's own. */
export const restoringMachine: typeof nodeMachine = Object.create(nodeMachine, {
  restoreSnapshot: { value: restoreShared },
});

