/**
 * The machine as a Mermaid `stateDiagram-v2` (for Markdown viewers). Regions of a parallel state
 * are separated by `--`; each transition is written in the innermost composite that holds both
 * ends; targetless transitions become notes, since Mermaid cannot draw them.
 */
import { triggerLabel, type ChartGraph, type ChartState, type ChartTransition } from './walk.ts';

/** Mermaid ids allow no dots: `node.power.idle` → `node__power__idle`. */
export function mermaidId(stateId: string): string {
  return stateId.replace(/[^A-Za-z0-9_]/g, '__');
}

export function graphToMermaid(graph: ChartGraph): string {
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  const children = new Map<string, ChartState[]>();
  for (const s of graph.states) if (s.parent !== null) children.set(s.parent, [...(children.get(s.parent) ?? []), s]);
  const ancestors = (id: string): string[] => {
    const chain: string[] = [];
    for (let s = byId.get(id); s; s = s.parent === null ? undefined : byId.get(s.parent)) chain.push(s.id);
    return chain;
  };
  // The innermost composite holding both ends (a self-transition lives in its state's parent).
  const home = (t: ChartTransition, target: string): string => {
    const outer = ancestors(target).slice(1);
    return ancestors(t.source).slice(1).find((a) => outer.includes(a)) ?? graph.id;
  };
  const edgesIn = new Map<string, string[]>();
  const notes: string[] = [];
  const targetless = new Map<string, ChartTransition[]>();
  for (const t of graph.transitions) {
    if (t.targets.length === 0) {
      targetless.set(t.source, [...(targetless.get(t.source) ?? []), t]);
      continue;
    }
    for (const target of t.targets) {
      const line = `${mermaidId(t.source)} --> ${mermaidId(target)} : ${label(t)}`;
      const where = home(t, target);
      edgesIn.set(where, [...(edgesIn.get(where) ?? []), line]);
    }
  }
  for (const [source, list] of targetless) {
    notes.push(`note right of ${mermaidId(source)}`);
    for (const t of list) notes.push(`  ${label(t)} (stays)`);
    notes.push('end note');
  }

  const out = ['stateDiagram-v2', '  direction TB', '  classDef transient fill:#fff3e0,stroke:#ef6c00'];
  const emit = (s: ChartState, depth: number): void => {
    const pad = '  '.repeat(depth);
    const kids = children.get(s.id) ?? [];
    if (kids.length === 0) {
      out.push(`${pad}state "${text(s.key)}" as ${mermaidId(s.id)}`);
      return;
    }
    out.push(`${pad}state "${text(s.key)}" as ${mermaidId(s.id)} {`);
    if (s.type === 'parallel') {
      kids.forEach((kid, i) => {
        if (i > 0) out.push(`${pad}  --`);
        emit(kid, depth + 1);
      });
    } else {
      const initial = kids.find((k) => k.initial);
      if (initial) out.push(`${pad}  [*] --> ${mermaidId(initial.id)}`);
      for (const kid of kids) emit(kid, depth + 1);
    }
    for (const line of edgesIn.get(s.id) ?? []) out.push(`${pad}  ${line}`);
    out.push(`${pad}}`);
  };
  const root = graph.states.find((s) => s.parent === null);
  if (root) emit(root, 1);
  for (const line of notes) out.push(`  ${line}`);
  const transient = graph.states.filter((s) => s.transient).map((s) => mermaidId(s.id));
  if (transient.length) out.push(`  class ${transient.join(',')} transient`);
  return out.join('\n') + '\n';
}

function label(t: ChartTransition): string {
  const actions = t.actions.length ? ` / ${t.actions.map((a) => a.replace(/\(.*$/, '')).join(', ')}` : '';
  return text(`${triggerLabel(t)}${actions}`);
}

/** Mermaid labels end at a newline and treat `;`, `:` and quotes specially. */
function text(s: string): string {
  return s.replace(/[\n;]/g, ' ').replace(/:/g, '∶').replace(/"/g, "'");
}
