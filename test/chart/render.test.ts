import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { and, createMachine, not, or, setup, stateIn, type AnyStateMachine, type AnyStateNode } from 'xstate';
import { missingFromDot } from '../../src/chart/dot-coverage.ts';
import { renderChart } from '../../src/chart/index.ts';
import { mermaidId } from '../../src/chart/mermaid.ts';
import { toDot, toJson, toMermaid, toSvg } from '../../src/chart/render.ts';
import { transitionKey, walkMachine } from '../../src/chart/walk.ts';
import { LIFECYCLE_EVENTS, LIFECYCLE_EVENT_TYPES } from '../../src/machines/gating.ts';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import { STATUSES } from '../../src/machines/types.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every state node id, found without the code under test. */
function stateIds(machine: AnyStateMachine): string[] {
  const ids: string[] = [];
  const visit = (node: AnyStateNode) => {
    ids.push(node.id);
    Object.values(node.states).forEach((child) => visit(child as AnyStateNode));
  };
  visit(machine.root);
  return ids;
}

/** A DOT node statement for id, and the DOT attributes of that statement. */
function nodeStatement(dot: string, id: string): string | undefined {
  return dot.split('\n').find((line) => line.trimStart().startsWith(`"${id}" [`));
}

const smallMachine = (extra: boolean) =>
  createMachine({
    id: 'toy',
    initial: 'a',
    states: {
      a: { on: { GO: { target: 'b', guard: 'ready' } } },
      b: {
        always: { guard: 'done', target: 'a' },
        on: extra ? { JUMP: 'c' } : {},
      },
      ...(extra ? { c: {} } : {}),
    },
  });

describe('the node chart as DOT', () => {
  const dot = toDot(nodeMachine);

  it('shows every state and every transition of the machine', () => {
    expect(missingFromDot(nodeMachine, dot)).toEqual({ states: [], transitions: [] });
    for (const id of stateIds(nodeMachine)) expect(nodeStatement(dot, id), id).toBeDefined();
  });

  it('shows every lifecycle event the gating table permits, from each status it names', () => {
    const keys = new Set(walkMachine(nodeMachine).transitions.map(transitionKey));
    for (const event of LIFECYCLE_EVENT_TYPES) {
      const rule = LIFECYCLE_EVENTS[event];
      for (const from of rule.from) {
        const source = `node.lifecycle.${from}`;
        const drawn = [...keys].filter((k) => k.startsWith(`${source} --${event}`) && !k.endsWith('(no target)'));
        expect(drawn.length, `${event} from ${from}`).toBeGreaterThan(0);
        if (rule.to !== 'prevStatus' && rule.to !== 'rescueFrom') expect(drawn).toContain(`${source} --${event}--> node.lifecycle.${rule.to}`);
      }
    }
    for (const status of STATUSES) expect(nodeStatement(dot, `node.lifecycle.${status}`), status).toBeDefined();
  });

  it('draws regions and the compound verifying state as clusters, decisions as diamonds', () => {
    for (const id of ['node', 'node.lifecycle', 'node.power', 'node.power.verifying']) expect(dot).toContain(`subgraph "cluster_${id}" {`);
    for (const id of ['node.power.route', 'node.power.stepDone', 'node.power.attemptFailed', 'node.power.verifying.check']) {
      expect(nodeStatement(dot, id)).toMatch(/shape=diamond/);
    }
    for (const id of ['node.power.idle', 'node.power.backoff', 'node.lifecycle.ready']) expect(nodeStatement(dot, id)).not.toMatch(/shape=diamond/);
  });

  it('labels eventless edges `always [guard]` and higher-order guards readably', () => {
    expect(dot).toContain('always [hasPending]');
    expect(dot).toContain('always [and(softOffExpired, escalates)]');
    expect(dot).toContain('always [and(trackedIs(succeeded), rescueFromIs(deployed))]');
    expect(dot).toContain('abort [prevStatusIs(allocated)]');
  });

  it('draws region-level refusals once, on the region, not as a loop per event', () => {
    const region = nodeStatement(dot, 'node.lifecycle')!;
    expect(region).toMatch(/shape=note/);
    for (const event of LIFECYCLE_EVENT_TYPES) {
      expect(region).toContain(`node.lifecycle --${event}--> (no target)`);
      expect(dot).not.toContain(`"node.lifecycle" -> "node.lifecycle"`);
    }
  });

  it('is the same text every time', () => {
    expect(toDot(nodeMachine)).toBe(dot);
  });
});

describe('missingFromDot', () => {
  it('finds the state and transition a DOT drawn from another machine lacks', () => {
    const small = smallMachine(false);
    const bigger = smallMachine(true);
    expect(missingFromDot(small, toDot(small))).toEqual({ states: [], transitions: [] });
    expect(missingFromDot(bigger, toDot(bigger))).toEqual({ states: [], transitions: [] });
    expect(missingFromDot(bigger, toDot(small))).toEqual({ states: ['toy.c'], transitions: ['toy.b --JUMP--> toy.c'] });
  });

  it('notices a transition whose guard changed', () => {
    const guarded = (guard: string) => createMachine({ id: 'g', initial: 'a', states: { a: { on: { GO: { target: 'b', guard } } }, b: {} } });
    expect(missingFromDot(guarded('old'), toDot(guarded('new'))).transitions).toEqual(['g.a --GO [old]--> g.b']);
  });

  it('notices an edge drawn without its tooltip', () => {
    const small = smallMachine(false);
    const stripped = toDot(small).replace(/tooltip="toy\.a --GO \[ready\]--> toy\.b"/, 'tooltip="something else"');
    expect(missingFromDot(small, stripped).transitions).toEqual(['toy.a --GO [ready]--> toy.b']);
  });
});

describe('guard labels', () => {
  it('reads and/or/not/stateIn and parameterized guards', () => {
    const machine = setup({
      guards: {
        p: () => true,
        q: (_: unknown, _params: { n: number; strict: boolean }) => true,
      },
    }).createMachine({
      id: 'm',
      type: 'parallel',
      states: {
        x: {
          initial: 'a',
          states: {
            a: {
              on: {
                A: { target: 'b', guard: and(['p', not('p')]) },
                B: { target: 'b', guard: or([{ type: 'q', params: { n: 2, strict: true } }, stateIn('#m.y.on')]) },
              },
            },
            b: {},
          },
        },
        y: { initial: 'on', states: { on: {} } },
      },
    });
    const keys = walkMachine(machine).transitions.map(transitionKey);
    expect(keys).toEqual(['m.x.a --A [and(p, not(p))]--> m.x.b', 'm.x.a --B [or(q(2, strict), in(#m.y.on))]--> m.x.b']);
  });
});

describe('Mermaid and JSON', () => {
  it('Mermaid declares every state and writes every transition with a target', () => {
    const mermaid = toMermaid(nodeMachine);
    expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true);
    for (const id of stateIds(nodeMachine)) expect(mermaid).toMatch(new RegExp(`state "[^"]+" as ${mermaidId(id)}\\b`));
    for (const t of walkMachine(nodeMachine).transitions) {
      for (const target of t.targets) expect(mermaid).toContain(`${mermaidId(t.source)} --> ${mermaidId(target)} : ${t.event}`);
    }
    expect(mermaid).toContain('note right of node__lifecycle');
  });

  it('JSON lists every state and transition', () => {
    const json = toJson(nodeMachine);
    expect(json.states.map((s) => s.id)).toEqual(stateIds(nodeMachine));
    expect(json.states.find((s) => s.id === 'node.power.idle')).toMatchObject({ parent: 'node.power', type: 'atomic', initial: true });
    expect(json.states.find((s) => s.id === 'node.power.route')).toMatchObject({ initial: false, transient: true });
    expect(json.transitions).toContainEqual({
      source: 'node.power.attemptFailed',
      target: 'node.power.route',
      event: 'always',
      eventless: true,
      guard: 'and(softOffExpired, escalates)',
      actions: ['escalate'],
    });
    expect(json.transitions.filter((t) => t.source === 'node.lifecycle' && t.target === null)).toHaveLength(LIFECYCLE_EVENT_TYPES.length);
    expect(json.transitions).toHaveLength(walkMachine(nodeMachine).transitions.length);
  });
});

describe('SVG and renderChart', () => {
  it('renders the same SVG twice, naming every state', async () => {
    const [first, second] = [await toSvg(nodeMachine), await toSvg(nodeMachine)];
    expect(first).toBe(second);
    expect(first).toMatch(/^<\?xml[\s\S]*<svg /);
    for (const state of walkMachine(nodeMachine).states) expect(first).toContain(`>${state.key}<`);
  });

  it('serves each format and refuses an unknown one', async () => {
    const json = JSON.parse(await renderChart('json')) as { states: unknown[] };
    expect(json.states).toHaveLength(stateIds(nodeMachine).length);
    expect(await renderChart('dot')).toBe(toDot(nodeMachine));
    expect(await renderChart('mermaid')).toBe(toMermaid(nodeMachine));
    expect(await renderChart('svg')).toBe(await toSvg(nodeMachine));
    await expect(renderChart('png' as never)).rejects.toThrow(/unknown statechart format png; use one of svg, dot, mermaid, json/);
  });
});

describe('npm run chart', () => {
  let dir: string;
  const chart = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'scripts/chart.ts', ...args], { cwd: ROOT });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchboard-chart-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the files, passes --check on them and fails it once one is stale', async () => {
    const missing = await chart('--check', '--dir', dir).catch((err: { code: number; stderr: string }) => err);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/statechart\.dot is missing/) });

    await chart('--dir', dir);
    expect(await readFile(join(dir, 'statechart.dot'), 'utf8')).toBe(toDot(nodeMachine));
    expect(await readFile(join(dir, 'statechart.mmd'), 'utf8')).toBe(toMermaid(nodeMachine));
    expect(await readFile(join(dir, 'statechart.svg'), 'utf8')).toBe(await toSvg(nodeMachine));
    await expect(chart('--check', '--dir', dir)).resolves.toMatchObject({ stdout: expect.stringMatching(/match the machine/) });

    await writeFile(join(dir, 'statechart.mmd'), 'stateDiagram-v2\n');
    const stale = await chart('--check', '--dir', dir).catch((err: { code: number; stderr: string }) => err);
    expect(stale).toMatchObject({ code: 1, stderr: expect.stringMatching(/statechart\.mmd differs[\s\S]*npm run chart/) });
    expect((stale as { stderr: string }).stderr).not.toMatch(/statechart\.(dot|svg)/);
  });

  it('rejects an unknown argument with the usage', async () => {
    const bad = await chart('--bogus').catch((err: { code: number; stderr: string }) => err);
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringMatching(/unknown argument --bogus[\s\S]*usage/) });
  });
});
