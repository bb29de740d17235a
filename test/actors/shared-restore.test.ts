/**
 * The host restores snapshots through restoreShared (src/actors/shared-restore.ts), which resolves
 * each state value once and shares the result between nodes. It must be indistinguishable from
 * XState's own restoreSnapshot: same state, same tags, same context, and the same next
 * transition, for every state the chart reaches (random walks over the model's events).
 */
import { createActor, type AnyActorScope } from 'xstate';
import { describe, expect, it } from 'vitest';
import { restoreShared, restoringMachine } from '../../src/actors/shared-restore.ts';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import { randomWalks } from '../support/random-walk.ts';

type Restored = ReturnType<typeof nodeMachine.restoreSnapshot>;

/** Everything observable about a restored snapshot, as plain data. */
function shape(s: Restored) {
  return {
    status: s.status,
    value: s.value,
    nodes: s._nodes.map((n) => n.id),
    tags: [...s.tags].sort(),
    context: s.context,
    children: s.children,
    historyValue: s.historyValue,
    output: s.output,
    error: s.error,
  };
}


const scope = {} as AnyActorScope;
/** Through JSON, as it comes back from the database (and with its keys reordered, as jsonb does). */
const stored = (persisted: unknown): unknown => {
  const copy = JSON.parse(JSON.stringify(persisted)) as { value: Record<string, unknown> };
  copy.value = Object.fromEntries(Object.entries(copy.value).reverse());
  return copy;
};

describe('restoreShared', () => {
  it('equals XState restoreSnapshot in every state a random walk reaches, and continues the same way', () => {
    const seen = new Set<string>();
    let checked = 0;
    randomWalks({ walks: 40, steps: 60, seed: 7919 }, (actor, event) => {
      const persisted = actor.getPersistedSnapshot();
      const viaXState = nodeMachine.restoreSnapshot(stored(persisted) as never, scope);
      const shared = restoreShared(stored(persisted), scope);
      expect(shape(shared)).toEqual(shape(viaXState));
      seen.add(JSON.stringify(viaXState.value));
      checked++;
      // Both restored snapshots must take the event to the same persisted state.
      const a = createActor(nodeMachine, { snapshot: stored(persisted) as never, input: undefined }).start();
      const b = createActor(restoringMachine, { snapshot: stored(persisted) as never, input: undefined }).start();
      a.send(event);
      b.send(event);
      expect(b.getPersistedSnapshot()).toEqual(a.getPersistedSnapshot());
      a.stop();
      b.stop();
    });
    // The walks must have gone somewhere: many lifecycle statuses and every power phase.
    const power = new Set([...seen].map((v) => JSON.stringify((JSON.parse(v) as { power: unknown }).power)));
    const lifecycle = new Set([...seen].map((v) => (JSON.parse(v) as { lifecycle: string }).lifecycle));
    expect(checked).toBeGreaterThan(5_000);
    expect(lifecycle.size).toBeGreaterThanOrEqual(10);
    for (const phase of ['"idle"', '"dispatching"', '"backoff"', '{"verifying":"polling"}', '{"verifying":"waiting"}', '{"verifying":"confirming"}']) {
      expect(power, `no walk reached power ${phase}`).toContain(phase);
    }
  });

  it('gives every node its own context and children, never the shared ones', () => {
    const actor = createActor(nodeMachine, { input: {} }).start();
    const persisted = actor.getPersistedSnapshot();
    const one = restoreShared(stored(persisted), scope);
    const two = restoreShared(stored(persisted), scope);
    expect(one.context).not.toBe(two.context);
    expect(one.children).not.toBe(two.children);
    expect(one.value).toBe(two.value); // resolved once, shared
  });

  it('leaves snapshots it does not handle to XState', () => {
    expect(() => restoreShared({ status: 'active', value: { lifecycle: 'nowhere', power: 'idle' }, context: {}, children: {}, historyValue: {} }, scope)).toThrow();
    const done = { status: 'done', value: { lifecycle: 'new', power: 'idle' }, context: {}, children: {}, historyValue: {}, output: 1 };
    expect(restoreShared(done, scope).status).toBe('done');
  });
});
