import { getPathsFromEvents } from '@xstate/graph';
import { transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { nodeMachine, initialContext } from '../../src/machines/node-machine.ts';
import type { NodeEvent } from '../../src/machines/types.ts';
import { describeEachBackend } from '../support/database.ts';
import { replayPaths } from './host-replay.ts';
import { explore, machineStateIds, machineTransitions, modelKey, MODEL_CONFIGS, type Exploration } from './node-model.ts';

const started = performance.now();
const runs: Exploration[] = MODEL_CONFIGS.map((config) => explore(config, { soundnessSamples: 300 }));
const seconds = ((performance.now() - started) / 1000).toFixed(1);

describe('model-based exploration of the node chart', () => {
  it('reaches every state and fires every transition of the machine (invariants checked on every edge)', () => {
    const transitions = [...machineTransitions().values()];
    const states = machineStateIds();
    const fired = new Set(runs.flatMap((r) => [...r.fired]));
    const visited = new Set(runs.flatMap((r) => [...r.visited]));
    const paths = runs.reduce((n, r) => n + r.paths.length, 0);
    const reachedStates = states.filter((s) => visited.has(s)).length;
    const firedTransitions = transitions.filter((t) => fired.has(t)).length;
    console.log(`chart coverage: states ${reachedStates}/${states.length} transitions ${firedTransitions}/${transitions.length} paths ${paths}`);
    for (const r of runs) console.log(`  ${r.config}: ${r.states} abstract states, ${r.edges} edges, ${r.paths.length} cover paths`);
    console.log(`  exploration took ${seconds} s`);
    expect(states.filter((s) => !visited.has(s))).toEqual([]);
    expect(transitions.filter((t) => !fired.has(t))).toEqual([]);
  });

  it('saw requests of every outcome, so the request invariants were really checked', () => {
    for (const r of runs) {
      console.log(`  ${r.config}: requests ${JSON.stringify(r.requests)}`);
      expect(r.requests.accepted).toBeGreaterThan(1000);
      expect(r.requests.coalesced).toBeGreaterThan(1000);
      expect(r.requests.refused).toBeGreaterThan(1000);
    }
  });

  it('keeps a sound key: sampled states with equal keys fire the same transitions', () => {
    for (const r of runs) expect(r.duplicatesChecked).toBeGreaterThan(100);
  });

  it('hands the cover paths to @xstate/graph, which replays them to the same abstract states', () => {
    const config = MODEL_CONFIGS[0]!;
    const fromState = nodeMachine.resolveState({ value: { lifecycle: 'new', power: 'idle' }, context: initialContext({ settings: config.settings }) });
    const run = runs[0]!;
    for (const events of run.paths) {
      const [path] = getPathsFromEvents(nodeMachine as never, events as never, { fromState: fromState as never, serializeState: (s) => modelKey(s as never) });
      expect(path!.steps.length).toBe(events.length + 1);
      // Replaying with a real actor ends in the same abstract state as the graph's path.
      const last = path!.state;
      expect(modelKey(last as never)).toBe(modelKey(replay(events, config.settings) as never));
    }
  });
});

describeEachBackend('the cover paths replayed against the real host, database and sim BMC', (t) => {
  it('agrees with the model after every step: persisted key, open op rows, sim power', async () => {
    for (const [i, config] of MODEL_CONFIGS.entries()) {
      const result = await replayPaths(t.db, config, runs[i]!.paths);
      console.log(`  replay [${t.backend}] ${config.name}: ${result.paths} paths, ${result.steps} steps, ${result.restarts} restarts, ${result.staleSkipped} stale results skipped`);
      expect(result.paths).toBe(runs[i]!.paths.length);
      expect(result.restarts).toBeGreaterThan(0);
    }
  }, 240_000);
});

function replay(events: NodeEvent[], settings: object) {
  const snapshot = nodeMachine.resolveState({ value: { lifecycle: 'new', power: 'idle' }, context: initialContext({ settings }) });
  let state = snapshot;
  for (const event of events) [state] = transition(nodeMachine, state, event);
  return state;
}
