/**
 * A first look at POST /power latency through the whole stack (inject → auth → host → group
 * commit to PGlite in memory) against a few hundred sim nodes. Prints p50/p99; the load
 * benchmark proper lives in bench/. Asserts only that every request got a defined answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpStack, type HttpStack } from '../support/http.ts';

const NODES = 300;
const REQUESTS = 3_000;

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
  for (let i = 0; i < NODES; i++) await t.simNode(`lat-${i}`, { latencyMs: 20, latencyJitterMs: 30 });
  await t.quiet();
}, 60_000);
afterAll(async () => {
  await t?.close();
});

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

describe('POST /api/v1/nodes/:id/power latency', () => {
  it.each([1, 50])(`${REQUESTS} requests over ${NODES} sim nodes, %i at a time`, async (CONCURRENCY) => {
    const durations: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const headers = t.auth('operator');
    const started = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        const i = next++;
        const action = i % 3 === 0 ? 'query' : i % 3 === 1 ? 'off' : 'soft_off';
        const t0 = performance.now();
        const res = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/lat-${i % NODES}/power`, headers, payload: { action } });
        durations.push(performance.now() - t0);
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      }
    }));
    const wall = performance.now() - started;
    durations.sort((a, b) => a - b);
    console.log(
      `POST /power via inject: ${REQUESTS} requests, ${NODES} nodes, concurrency ${CONCURRENCY}: ` +
        `p50 ${percentile(durations, 50).toFixed(2)} ms, p99 ${percentile(durations, 99).toFixed(2)} ms, ` +
        `max ${durations[durations.length - 1]!.toFixed(2)} ms, ${(REQUESTS / (wall / 1000)).toFixed(0)} req/s; ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
    );
    expect(durations).toHaveLength(REQUESTS);
    for (const status of statuses.keys()) expect([200, 202, 409]).toContain(status);
  }, 60_000);
});
