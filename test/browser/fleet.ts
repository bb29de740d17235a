/**
 * A small demo-like fleet for the browser test: sim nodes with visible latency, a few walked
 * to `allocated`, one always failing, and one slow node whose slots the test fills.
 */
import type { NodeView } from '../../src/actors/types.ts';
import type { HttpStack } from '../support/http.ts';
import { eventually } from '../support/http.ts';

export const LATENCY_MS = 200;
export const SLOW_LATENCY_MS = 4_000;

const CALLER = { requestedBy: 'test' };

export interface TestFleet {
  nodes: NodeView[];
  /** Observed on, status new: the one the test powers off through the UI. */
  target: NodeView;
  slow: NodeView;
}

const idle = (t: HttpStack, id: string) =>
  eventually(() => {
    const n = t.host.getNode(id);
    return n !== undefined && n.power.inFlight === null && n.power.pending === null ? n : undefined;
  }, 20_000, `node ${id} idle`);

const nameOf = (i: number) => `r${String(Math.floor(i / 16) + 1).padStart(2, '0')}-n${String((i % 16) + 1).padStart(2, '0')}`;

export async function buildFleet(t: HttpStack, size: number): Promise<TestFleet> {
  // First, so its slow first query overlaps the rest of the setup.
  const slow = await t.simNode('slow-01', { latencyMs: SLOW_LATENCY_MS, initialPower: 'on' });
  const nodes = await Promise.all(Array.from({ length: size }, (_, i) =>
    t.simNode(nameOf(i), { latencyMs: LATENCY_MS, latencyJitterMs: 50, initialPower: i % 3 === 0 ? 'off' : 'on' })));
  // A node that keeps failing, so the table shows what errors look like (not asserted).
  await t.simNode('flaky-01', { latencyMs: LATENCY_MS, initialPower: 'on', failRate: 1, seed: 7 });
  await Promise.all([
    idle(t, slow.id),
    (async () => {
      // Only the nodes the test touches must be idle; the others may still be on their first query.
      await Promise.all(nodes.slice(0, 10).map((n) => idle(t, n.id)));
      // Some status variety, as a real fleet would have.
      await Promise.all(nodes.slice(4, 10).map(async (n) => {
        await t.host.lifecycle(n.id, 'commission', CALLER);
        await idle(t, n.id);
        await t.host.lifecycle(n.id, 'commissioning_done', CALLER);
        await idle(t, n.id);
        await t.host.lifecycle(n.id, 'allocate', CALLER);
      }));
    })(),
  ]);
  const target = t.host.getNode(nodes[1]!.id)!;
  if (target.power.observed !== 'on' || target.status !== 'new') throw new Error(`fleet setup: ${target.name} is not new and on`);
  return { nodes, target, slow: t.host.getNode(slow.id)! };
}
