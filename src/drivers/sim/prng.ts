/**
 * A tiny seeded PRNG (mulberry32) so a seeded sim node makes the same choices on every run.
 * The whole state is one 32-bit integer, which keeps 100,000 seeded nodes cheap.
 */
export function nextRandom(state: number): { value: number; state: number } {
  const next = (state + 0x6d2b79f5) | 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return { value: ((t ^ (t >>> 14)) >>> 0) / 4294967296, state: next };
}

/** Mixes a node id into a seed, so nodes sharing a seed still draw different sequences. */
export function seedFor(seed: number, nodeId: string): number {
  let h = (seed ^ 0x9e3779b9) | 0;
  for (let i = 0; i < nodeId.length; i++) {
    h = Math.imul(h ^ nodeId.charCodeAt(i), 0x01000193);
  }
  return h | 0;
}
