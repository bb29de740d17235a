/**
 * Open-loop HTTP load generator, run in its own process: sends at a fixed rate from a schedule
 * (request i is due at start + i/rate) whatever the server's answers, and measures each latency
 * from the request's scheduled time, so a slow server cannot hide its queueing (no coordinated
 * omission). Requests due in the warm-up are sent but not counted.
 *
 * Targets: `switchboard` posts {action: on|off} to /api/v1/nodes/<seeded id>/power, node i mod
 * nodes, alternating on and off per round over the fleet; `trivial` posts {} to /trivial.
 */
import { Pool } from 'undici';
import { childMain } from './child.ts';
import { seededId } from './seed.ts';
import { percentile } from './stats.ts';

export interface LoadInput {
  readonly origin: string;
  readonly target: 'switchboard' | 'trivial';
  readonly nodes: number;
  readonly token: string;
  readonly rate: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly connections: number;
}

export interface LoadOutput {
  readonly sent: number;
  readonly counted: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** Counted requests per second actually completed. */
  readonly achievedRate: number;
  /** Worst lag between a request's due time and its send, in ms (the generator's own jitter). */
  readonly maxSendLagMs: number;
  readonly firstError?: string;
}

const DRAIN_MS = 10_000;

async function run(input: LoadInput): Promise<LoadOutput> {
  const pool = new Pool(input.origin, { connections: input.connections, pipelining: 1 });
  const total = Math.round((input.rate * (input.warmupMs + input.durationMs)) / 1000);
  const countFrom = Math.round((input.rate * input.warmupMs) / 1000);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let firstError: string | undefined;
  let sent = 0;
  let maxSendLagMs = 0;
  let lastCounted = 0;
  const inflight = new Set<Promise<void>>();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${input.token}` };

  const send = (i: number, due: number): void => {
    let path = '/trivial';
    let body = '{}';
    if (input.target === 'switchboard') {
      path = `/api/v1/nodes/${seededId(i % input.nodes)}/power`;
      body = Math.floor(i / input.nodes) % 2 === 0 ? '{"action":"on"}' : '{"action":"off"}';
    }
    const p = (async () => {
      try {
        const res = await pool.request({ method: 'POST', path, headers, body });
        await res.body.text();
        const done = performance.now();
        if (i >= countFrom) {
          latencies.push(done - due);
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          lastCounted = done;
        }
      } catch (err) {
        if (i >= countFrom) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  const start = performance.now() + 20;
  const interval = 1000 / input.rate;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && start + sent * interval <= now) {
        const due = start + sent * interval;
        maxSendLagMs = Math.max(maxSendLagMs, now - due);
        send(sent, due);
        sent++;
      }
      if (sent >= total) return resolve();
      setTimeout(tick, Math.max(0, Math.min(1, start + sent * interval - now)));
    };
    tick();
  });
  const countStart = start + countFrom * interval;
  await Promise.race([Promise.all(inflight), new Promise((r) => setTimeout(r, DRAIN_MS))]);
  const unanswered = inflight.size;
  await pool.destroy();
  const counted = latencies.length;
  return {
    sent,
    counted,
    errors: errors + unanswered,
    statuses,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    p999: percentile(latencies, 99.9),
    max: percentile(latencies, 100),
    achievedRate: counted / ((lastCounted - countStart) / 1000),
    maxSendLagMs,
    ...(firstError !== undefined ? { firstError } : {}),
  };
}

childMain(run);
