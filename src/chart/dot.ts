/**
 * The machine as Graphviz DOT, laid out for people:
 * - compound and parallel states are clusters; each has a header node with the state's id that
 *   anchors edges into or out of the cluster and lists its targetless (region-level) handlers;
 * - transient decision states (only eventless transitions) are diamonds, eventless edges read
 *   `always [guard]`;
 * - targetless transitions of a state are listed inside its box, UML style, not drawn as loops;
 * - transitions between the same two states share one edge, a label line each;
 * - one event sent to the same target from many states (e.g. mark_broken from 13 statuses) is
 *   one note naming the sources and one bold edge, not a fan of crossing edges.
 * Every transition still carries its key (see transitionKey) in a tooltip: the SVG shows it on
 * hover and the coverage check (dot-coverage.ts) finds every transition there.
 */
import { transitionKey, triggerLabel, type ChartGraph, type ChartState, type ChartTransition } from './walk.ts';

/** An event sent to one target from at least this many states is drawn as one fan-in note and edge. */
const FAN_IN_MIN_SOURCES = 5;
const WRAP_AT = 56;
/** A trigger and its actions share a line up to this many characters. */
const SAME_LINE_UP_TO = 30;

const COLORS = {
  edge: '#37474f',
  eventless: '#6d4c41',
  action: '#757575',
  state: '#e3f2fd',
  stateBorder: '#1565c0',
  transient: '#fff3e0',
  transientBorder: '#ef6c00',
  note: '#fffde7',
  cluster: ['#fafafa', '#f1f8e9', '#ede7f6'],
};

export function graphToDot(graph: ChartGraph): string {
  const layout = new Layout(graph);
  const out: string[] = [];
  out.push(`digraph ${q(graph.id)} {`);
  out.push(
    `  graph [rankdir=TB, compound=true, newrank=true, fontname="Helvetica", fontsize=12, nodesep=0.3, ranksep=0.45, ` +
      `labelloc=t, label=${legend(graph.id)}];`,
  );
  out.push(`  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", fillcolor=${q(COLORS.state)}, color=${q(COLORS.stateBorder)}];`);
  out.push(`  edge [fontname="Helvetica", fontsize=9, color=${q(COLORS.edge)}, fontcolor=${q(COLORS.edge)}, arrowsize=0.7];`);
  const root = graph.states.find((s) => s.parent === null);
  if (root) layout.emitState(root, out, 1);
  layout.emitEdges(out);
  out.push('}');
  return out.join('\n') + '\n';
}

class Layout {
  private readonly byId = new Map<string, ChartState>();
  private readonly children = new Map<string, ChartState[]>();
  private readonly targetless = new Map<string, ChartTransition[]>();
  /** Transitions drawn through a fan-in note rather than an edge of their own. */
  private readonly fanIn = new Set<ChartTransition>();
  /** Composite state id → fan-in groups drawn inside its cluster as one edge each. */
  private readonly fanIns = new Map<string, ChartTransition[][]>();

  constructor(private readonly graph: ChartGraph) {
    for (const s of graph.states) {
      this.byId.set(s.id, s);
      if (s.parent !== null) push(this.children, s.parent, s);
    }
    for (const t of graph.transitions) if (t.targets.length === 0) push(this.targetless, t.source, t);
    this.findFanIns();
  }

  private findFanIns(): void {
    const groups = new Map<string, ChartTransition[]>();
    for (const t of this.graph.transitions) {
      if (t.eventless || t.targets.length === 0) continue;
      push(groups, `${triggerLabel(t)}\u0000${t.targets.join(',')}`, t);
    }
    for (const group of groups.values()) {
      const sources = [...new Set(group.map((t) => t.source))];
      if (sources.length < FAN_IN_MIN_SOURCES) continue;
      group.forEach((t) => this.fanIn.add(t));
      const owner = this.commonAncestor([...sources, ...group[0]!.targets]);
      push(this.fanIns, owner, group);
    }
  }

  private isComposite(s: ChartState): boolean {
    return s.type === 'compound' || s.type === 'parallel';
  }

  private ancestors(id: string): string[] {
    const chain: string[] = [];
    for (let s = this.byId.get(id); s; s = s.parent === null ? undefined : this.byId.get(s.parent)) chain.push(s.id);
    return chain;
  }

  /** The deepest composite state containing all ids (a state is not its own container). */
  private commonAncestor(ids: string[]): string {
    const chains = ids.map((id) => this.ancestors(id).slice(1));
    const [first = [], ...rest] = chains;
    return first.find((a) => rest.every((c) => c.includes(a))) ?? this.graph.id;
  }

  emitState(s: ChartState, out: string[], depth: number): void {
    const pad = '  '.repeat(depth);
    if (!this.isComposite(s)) {
      out.push(`${pad}${q(s.id)} [${this.stateAttrs(s)}];`);
      return;
    }
    const kids = this.children.get(s.id) ?? [];
    out.push(`${pad}subgraph ${q(`cluster_${s.id}`)} {`);
    const kind = s.type === 'parallel' ? ' (parallel: regions run side by side)' : '';
    out.push(
      `${pad}  graph [label=${q(s.key + kind)}, labeljust=l, style="rounded,filled", ` +
        `fillcolor=${q(COLORS.cluster[depth % COLORS.cluster.length]!)}, color="#90a4ae", fontsize=${Math.max(11, 16 - 2 * depth)}];`,
    );
    out.push(`${pad}  ${q(s.id)} [${this.headerAttrs(s)}];`);
    if (s.type === 'compound') {
      const initial = kids.find((k) => k.initial);
      if (initial) {
        const dot = `${s.id}#initial`;
        out.push(`${pad}  ${q(dot)} [shape=point, width=0.12, style=filled, fillcolor=black, color=black, label=""];`);
        const attrs = [...this.headAttrs(s.id, initial), `tooltip=${q(`initial: ${initial.id}`)}`];
        out.push(`${pad}  ${q(dot)} -> ${q(initial.id)} [${attrs.join(', ')}];`);
      }
    }
    for (const kid of kids) this.emitState(kid, out, depth + 1);
    for (const [i, group] of (this.fanIns.get(s.id) ?? []).entries()) this.emitFanIn(`${s.id}#fan-in-${i}`, group, out, `${pad}  `);
    out.push(`${pad}}`);
  }

  private stateAttrs(s: ChartState): string {
    const own = this.targetless.get(s.id) ?? [];
    const tooltip = q([s.id, ...own.map(transitionKey)].join('\n'));
    const shape = s.transient
      ? `shape=diamond, style=filled, fillcolor=${q(COLORS.transient)}, color=${q(COLORS.transientBorder)}, fontsize=10, margin=0.02`
      : s.type === 'final'
        ? 'peripheries=2'
        : '';
    return [shape, `label=${htmlLabel(s.key, internalLines(own))}`, `tooltip=${tooltip}`].filter(Boolean).join(', ');
  }

  /** The header of a cluster: a note with its targetless handlers, or an invisible edge anchor. */
  private headerAttrs(s: ChartState): string {
    const own = this.targetless.get(s.id) ?? [];
    const lines = internalLines(own);
    const outgoing = this.graph.transitions.some((t) => t.source === s.id && t.targets.length > 0);
    const tooltip = q([s.id, ...own.map(transitionKey)].join('\n'));
    if (lines.length === 0 && !outgoing) return `shape=point, style=invis, width=0.01, label="", tooltip=${tooltip}`;
    const title = own.length ? `any ${s.key} state, unless it handles the event:` : `any ${s.key} state`;
    return `shape=note, style=filled, fillcolor=${q(COLORS.note)}, color="#bdbdbd", fontsize=9, label=${noteLabel(title, lines)}, tooltip=${tooltip}`;
  }

  /** lhead when an edge enters a cluster from outside it. */
  private headAttrs(from: string, to: ChartState): string[] {
    if (!this.isComposite(to) || this.ancestors(from).includes(to.id)) return [];
    return [`lhead=${q(`cluster_${to.id}`)}`];
  }

  /** ltail when an edge leaves a cluster for a state outside it. */
  private tailAttrs(from: ChartState, to: string): string[] {
    if (!this.isComposite(from) || this.ancestors(to).includes(from.id)) return [];
    return [`ltail=${q(`cluster_${from.id}`)}`];
  }

  /**
   * One event from many states to the same target: a note naming the sources and one edge,
   * whose tooltip lists every transition it stands for.
   */
  private emitFanIn(id: string, group: readonly ChartTransition[], out: string[], pad: string): void {
    const first = group[0]!;
    const sources = group.map((t) => this.byId.get(t.source)?.key ?? t.source);
    const lines = wrap(sources, '');
    out.push(
      `${pad}${q(id)} [shape=note, style=filled, fillcolor=${q(COLORS.note)}, color="#bdbdbd", fontsize=9, ` +
        `label=${noteLabel(`from any of these ${sources.length} states:`, lines)}, tooltip=${q(group.map(transitionKey).join('\n'))}];`,
    );
    for (const targetId of first.targets) {
      const target = this.byId.get(targetId);
      if (!target) continue;
      const attrs = [...this.headAttrs(id, target), `label=${edgeLabel([first])}`, `tooltip=${q(group.map(transitionKey).join('\n'))}`, `style=bold`];
      out.push(`  ${q(id)} -> ${q(targetId)} [${attrs.join(', ')}];`);
    }
  }

  /** One edge per source and target; parallel transitions share it, a label line each, in priority order. */
  emitEdges(out: string[]): void {
    const edges = new Map<string, { source: ChartState; target: ChartState; list: ChartTransition[] }>();
    for (const t of this.graph.transitions) {
      const source = this.byId.get(t.source);
      if (!source || this.fanIn.has(t)) continue;
      for (const targetId of t.targets) {
        const target = this.byId.get(targetId);
        if (!target) continue;
        const key = `${t.source}\u0000${targetId}`;
        const edge = edges.get(key) ?? { source, target, list: [] };
        edge.list.push(t);
        edges.set(key, edge);
      }
    }
    for (const { source, target, list } of edges.values()) {
      const attrs = [
        ...this.tailAttrs(source, target.id),
        ...this.headAttrs(source.id, target),
        `label=${edgeLabel(list)}`,
        `tooltip=${q(list.map(transitionKey).join('\n'))}`,
      ];
      if (list.every((t) => t.eventless)) attrs.push(`style=dashed, color=${q(COLORS.eventless)}, fontcolor=${q(COLORS.eventless)}`);
      out.push(`  ${q(source.id)} -> ${q(target.id)} [${attrs.join(', ')}];`);
    }
  }

}

function legend(id: string): string {
  const lines = [
    'event [guard] / actions. Dashed edges: eventless (always), tried in the order listed. Diamonds: transient decisions, never rested in.',
    'Grey lines in a state: events it handles without leaving (targetless). Notes: handlers of a whole region. Hover an edge for its transitions.',
  ];
  return `<<B>${escapeHtml(id)}</B> statechart, generated from the machine definition<BR/><FONT POINT-SIZE="10">${lines.map(escapeHtml).join('<BR/>')}</FONT>>`;
}

/** Targetless handlers, grouped by guard and actions: `STEP_ACK, DEADLINE [stale]: ignored`. */
function internalLines(list: readonly ChartTransition[]): string[] {
  const groups = new Map<string, { events: string[]; guard: string | undefined; actions: string[] }>();
  for (const t of list) {
    const key = `${t.guard ?? ''}\u0000${t.actions.join(',')}`;
    const group = groups.get(key) ?? { events: [], guard: t.guard, actions: t.actions };
    group.events.push(t.event);
    groups.set(key, group);
  }
  return [...groups.values()].flatMap(({ events, guard, actions }) => {
    const tail = `${guard === undefined ? '' : ` [${guard}]`}${actions.length ? ` / ${actions.map(actionName).join(', ')}` : ': ignored'}`;
    return wrap(events, tail);
  });
}

/** Comma-separated events wrapped onto lines, the guard/action tail on the last one. */
function wrap(events: readonly string[], tail: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, e] of events.entries()) {
    const piece = e + (i < events.length - 1 ? ',' : '');
    if (line && line.length + piece.length + 1 > WRAP_AT) {
      lines.push(line);
      line = piece;
    } else line = line ? `${line} ${piece}` : piece;
  }
  const last = line + tail;
  if (line && last.length > WRAP_AT) lines.push(line, tail.trim());
  else lines.push(last);
  return lines;
}

const actionName = (label: string) => label.replace(/\(.*$/, '');

/** `event [guard]` over `/ actions`, one pair per transition. */
function edgeLabel(list: readonly ChartTransition[]): string {
  const parts = list.map((t) => {
    const trigger = escapeHtml(triggerLabel(t));
    if (t.actions.length === 0) return trigger;
    const actions = `/ ${t.actions.map(actionName).join(', ')}`;
    const gap = triggerLabel(t).length + actions.length <= SAME_LINE_UP_TO ? ' ' : '<BR/>';
    return `${trigger}${gap}<FONT COLOR="${COLORS.action}">${escapeHtml(actions)}</FONT>`;
  });
  return `<${parts.join('<BR/>')}>`;
}

function htmlLabel(title: string, lines: readonly string[]): string {
  if (lines.length === 0) return q(title);
  const body = lines.map((l) => `${escapeHtml(l)}<BR ALIGN="LEFT"/>`).join('');
  return (
    `<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">` +
    `<TR><TD>${escapeHtml(title)}</TD></TR><HR/>` +
    `<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="${COLORS.action}">${body}</FONT></TD></TR></TABLE>>`
  );
}

function noteLabel(title: string, lines: readonly string[]): string {
  const body = lines.map((l) => `${escapeHtml(l)}<BR ALIGN="LEFT"/>`).join('');
  return `<<I>${escapeHtml(title)}</I><BR ALIGN="LEFT"/>${body}>`;
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A DOT double-quoted string; newlines become the `\n` escape. */
export function q(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
