/**
 * Whether a DOT text draws a machine: every state id as a DOT node and every transition's key
 * in some tooltip (edges, fan-in notes and state boxes carry them). Used by the tests and by
 * `npm run chart` so the picture cannot silently lose part of the machine.
 */
import type { AnyStateMachine } from 'xstate';
import { transitionKey, walkMachine } from './walk.ts';

export interface DotGaps {
  states: string[];
  transitions: string[];
}

const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
const NODE_STATEMENT = new RegExp(String.raw`^\s*${QUOTED}\s*\[`, 'gm');
const TOOLTIP = new RegExp(String.raw`\btooltip=${QUOTED}`, 'g');

function unquote(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** What of the machine the DOT does not show; both lists empty when it shows everything. */
export function missingFromDot(machine: AnyStateMachine, dot: string): DotGaps {
  const graph = walkMachine(machine);
  const nodes = new Set([...dot.matchAll(NODE_STATEMENT)].map((m) => unquote(m[1]!)));
  const shown = new Set([...dot.matchAll(TOOLTIP)].flatMap((m) => unquote(m[1]!).split('\n')));
  return {
    states: graph.states.map((s) => s.id).filter((id) => !nodes.has(id)),
    transitions: graph.transitions.map(transitionKey).filter((key) => !shown.has(key)),
  };
}
