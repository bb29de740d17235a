/**
 * The statechart in every format the docs and the API serve. All but toSvg are pure and
 * deterministic (definition order, no timestamps), so committed files can be checked for drift.
 */
import { instance, type Viz } from '@viz-js/viz';
import type { AnyStateMachine } from 'xstate';
import { graphToDot } from './dot.ts';
import { graphToMermaid } from './mermaid.ts';
import { walkMachine, type StateKind } from './walk.ts';

export interface ChartJson {
  states: { id: string; parent: string | null; type: StateKind; initial: boolean; transient: boolean }[];
  transitions: { source: string; target: string | string[] | null; event: string; eventless: boolean; guard?: string; actions: string[] }[];
}

export function toDot(machine: AnyStateMachine): string {
  return graphToDot(walkMachine(machine));
}

export function toMermaid(machine: AnyStateMachine): string {
  return graphToMermaid(walkMachine(machine));
}

/** A JSON graph: `target` is null for a targetless transition, an array only for several targets. */
export function toJson(machine: AnyStateMachine): ChartJson {
  const graph = walkMachine(machine);
  return {
    states: graph.states.map(({ id, parent, type, initial, transient }) => ({ id, parent, type, initial, transient })),
    transitions: graph.transitions.map((t) => ({
      source: t.source,
      target: t.targets.length === 0 ? null : t.targets.length === 1 ? t.targets[0]! : t.targets,
      event: t.event,
      eventless: t.eventless,
      ...(t.guard === undefined ? {} : { guard: t.guard }),
      actions: t.actions,
    })),
  };
}

let viz: Promise<Viz> | undefined;

/** Graphviz (WebAssembly) lays the DOT out offline; its start-up is slow, so it is shared. */
export async function dotToSvg(dot: string): Promise<string> {
  viz ??= instance();
  const result = (await viz).render(dot, { format: 'svg' });
  if (result.status !== 'success') {
    throw new Error(`Graphviz could not render the statechart: ${result.errors.map((e) => e.message).join('; ')}`);
  }
  return result.output;
}

export function toSvg(machine: AnyStateMachine): Promise<string> {
  return dotToSvg(toDot(machine));
}
