/**
 * --wait: polls each accepted or coalesced op (GET /api/v1/ops/:id) until it reaches a final
 * state or the time is up. Polling keeps this simple and correct across reconnects; the number
 * of requests in flight is bounded.
 */
import type { ApiClient } from './client.ts';
import { mapLimit } from './pool.ts';
import type { Progress } from './progress.ts';
import { FINAL_OP_STATES, type NodeResult, type OpView } from './results.ts';

export interface WaitOptions {
  timeoutMs: number;
  pollMs: number;
  progress: Progress;
}

const POLL_CONCURRENCY = 16;

/** Sets `final` on every result that has an op; resolves false when the time ran out first. */
export async function waitForOps(client: ApiClient, results: NodeResult[], options: WaitOptions): Promise<boolean> {
  const waiting = results.filter((r) => r.op != null && (r.outcome === 'accepted' || r.outcome === 'coalesced'));
  for (const r of waiting) r.final = r.op ?? undefined;
  const until = Date.now() + options.timeoutMs;
  const total = waiting.length;
  for (;;) {
    const open = waiting.filter((r) => r.final !== undefined && !FINAL_OP_STATES.has(r.final.state));
    options.progress.update(total - open.length);
    if (open.length === 0) {
      options.progress.finish();
      return true;
    }
    if (Date.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    await mapLimit(open, POLL_CONCURRENCY, async (r) => {
      r.final = await client.get<OpView>(`/api/v1/ops/${encodeURIComponent(r.final?.id ?? '')}`);
    });
  }
}
