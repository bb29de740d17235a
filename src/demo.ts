/**
 * Demo seeding: N simulated nodes with realistic latency (50–400 ms), an occasional failure, a
 * few nodes per shared BMC, and some walked through commission / allocate / deploy, so a newcomer
 * sees a live fleet at once. Existing demo nodes are kept (a restart does not duplicate them).
 */
import type { Host, NodeView } from './actors/types.ts';

const NODES_PER_BMC = 4;
const CALLER = { requestedBy: 'demo' };

export interface SeedResult {
  created: number;
  existing: number;
}

/** A small deterministic PRNG, so every demo fleet looks the same. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const name = (i: number) => `demo-${String(i + 1).padStart(4, '0')}`;

async function waitIdle(host: Host, id: string, timeoutMs: number): Promise<NodeView | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const node = host.getNode(id);
    if (node === undefined || (node.power.inFlight === null && node.power.pending === null)) return node;
    if (Date.now() > until) return node;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates the demo fleet and starts some nodes on their way; resolves once all exist. */
export async function seedDemo(host: Host, n: number): Promise<SeedResult> {
  const random = prng(2014);
  let created = 0;
  let existing = 0;
  const fresh: NodeView[] = [];
  for (let i = 0; i < n; i++) {
    const latencyMs = 50 + Math.floor(random() * 250);
    const params = {
      bmc: `sim-chassis-${Math.floor(i / NODES_PER_BMC) + 1}`,
      latencyMs,
      latencyJitterMs: 100,
      failRate: random() < 0.1 ? 0.05 : 0.005,
      settleMs: 200,
      softOffMs: 2_000,
      initialPower: random() < 0.5 ? ('on' as const) : ('off' as const),
    };
    if (host.findNode(name(i)) !== undefined) {
      existing++;
      continue;
    }
    fresh.push(await host.createNode({ name: name(i), driver: 'sim', params }, CALLER));
    created++;
  }
  // Walk part of the new fleet forward in the background, so the stream shows life.
  void walk(host, fresh, random).catch(() => undefined);
  return { created, existing };
}

async function walk(host: Host, nodes: NodeView[], random: () => number): Promise<void> {
  await Promise.all(nodes.map(async (node) => {
    const roll = random();
    if (roll < 0.3) return; // stays new
    await host.lifecycle(node.id, 'commission', CALLER);
    await waitIdle(host, node.id, 30_000);
    await host.lifecycle(node.id, 'commissioning_done', CALLER);
    await waitIdle(host, node.id, 30_000);
    if (roll < 0.5) return; // ready
    await host.lifecycle(node.id, 'allocate', CALLER);
    if (roll < 0.65) return; // allocated
    await host.lifecycle(node.id, 'deploy', CALLER);
    await waitIdle(host, node.id, 30_000);
    if (roll < 0.7) return; // still deploying, as if the OS install were slow
    await host.lifecycle(node.id, 'deploy_done', CALLER);
  }));
}
