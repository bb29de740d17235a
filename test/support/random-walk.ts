/**
 * Seeded random walks over the chart for tests that must hold in every state it reaches: each
 * model configuration, `walks` walks of `steps` events, each event picked from what the model
 * offers in the current state. A failing walk replays the same way.
 */
import { createActor, type Actor } from 'xstate';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import type { NodeEvent } from '../../src/machines/types.ts';
import { MODEL_CONFIGS, eventsFor } from '../model/node-model.ts';

/** xorshift32 in [0, 1). */
function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Calls visit with the walking actor and the event it sends next, before sending it. */
export function randomWalks(options: { walks: number; steps: number; seed: number }, visit: (actor: Actor<typeof nodeMachine>, next: NodeEvent) => void): void {
  for (const config of MODEL_CONFIGS) {
    for (let walk = 0; walk < options.walks; walk++) {
      const random = seededRandom(walk * options.seed + config.name.length);
      const actor = createActor(nodeMachine, { input: { settings: config.settings } }).start();
      let at = 1_000;
      for (let step = 0; step < options.steps; step++) {
        const events = eventsFor(actor.getSnapshot(), (at += 1_000));
        const event = events[Math.floor(random() * events.length)] as NodeEvent;
        visit(actor, event);
        actor.send(event);
      }
      actor.stop();
    }
  }
}
