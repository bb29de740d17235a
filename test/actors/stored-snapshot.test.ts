/**
 * The host stores storedSnapshotOf(state) after every transition (src/actors/stored-snapshot.ts).
 * It must write exactly what XState's getPersistedSnapshot minus the settings would have written,
 * in every state the chart reaches, and restore to the same state.
 */
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { storedSnapshotOf, toStoredSnapshot, attachSettings } from '../../src/actors/stored-snapshot.ts';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import { randomWalks } from '../support/random-walk.ts';

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value));


describe('storedSnapshotOf', () => {
  it('stores what XState persists, without the settings, in every state a random walk reaches', () => {
    const values = new Set<string>();
    let checked = 0;
    randomWalks({ walks: 25, steps: 50, seed: 104_729 }, (actor) => {
      const state = actor.getSnapshot();
      const direct = json(storedSnapshotOf(state));
      expect(direct).toEqual(json(toStoredSnapshot(actor.getPersistedSnapshot())));
      expect((direct as { context: object }).context).not.toHaveProperty('settings');
      // Restored with the node's settings it is the same state again.
      const restored = createActor(nodeMachine, { snapshot: attachSettings(direct, state.context.settings) as never, input: undefined }).start();
      expect(restored.getSnapshot().value).toEqual(state.value);
      expect(restored.getSnapshot().context).toEqual(state.context);
      restored.stop();
      values.add(JSON.stringify(state.value));
      checked++;
    });
    expect(checked).toBeGreaterThan(3_000);
    expect(values.size).toBeGreaterThan(20);
  });

  it('goes the stock way for a snapshot it does not know the shape of', () => {
    const actor = createActor(nodeMachine, { input: {} }).start();
    actor.stop();
    const stopped = actor.getSnapshot();
    expect(stopped.status).toBe('stopped');
    expect(json(storedSnapshotOf(stopped))).toEqual(json(toStoredSnapshot(nodeMachine.getPersistedSnapshot(stopped))));
  });
});
