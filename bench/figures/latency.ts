/**
 * Issue 4: latency of POST /api/v1/nodes/:id/power at a steady 2,000 requests/s against 10,000
 * sim nodes, on a real listening server (loopback) driven by an open-loop generator in another
 * process; and the same load against a trivial Fastify route in the same run, as the baseline.
 * The host runs with production defaults (group commit, 2 s verify polls, periodic sync), booted
 * without boot queries; nodes are seeded `broken` so both on and off are allowed.
 *
 * Each accepted op brings its verification query one verify-poll interval later, so the load
 * doubles a few seconds into a run: the warm-up lasts past that, and only the steady state counts.
 * Before the 2,000 req/s run, a ladder of lower rates finds the highest rate this machine serves
 * with p99 <= 10 ms (it stops at the first rate that misses).
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createToken, generateToken } from '../../src/db/index.ts';
import type { Host } from '../../src/actors/types.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { runChild } from '../lib/child.ts';
import { cpuMark, cpuSince } from '../lib/cpu.ts';
import { createBenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { benchHost } from '../lib/host.ts';
import type { LoadInput, LoadOutput } from '../lib/load-generator.ts';
import type { FigureResult } from '../lib/report.ts';
import { seedSimNodes } from '../lib/seed.ts';

const GENERATOR = new URL('../lib/load-generator.ts', import.meta.url);
const RATE = 2_000;
const NODES = 10_000;
const P99_LIMIT_MS = 10;
const LADDER = [250, 500, 750, 1_000, 1_250, 1_500] as const;

/**
 * A run's answers, and what serving it cost this process (the server; the generator is another
 * process): CPU per request sent, and the share of a core its main thread was busy.
 */
type LoadRun = LoadOutput & { readonly serverCpuUsPerRequest: number; readonly mainThreadBusy: number | null; readonly mainThreadWaiting: number | null };

async function load(input: Omit<LoadInput, 'rate' | 'connections' | 'nodes'>, rate = RATE): Promise<LoadRun> {
  const mark = cpuMark();
  const out = await runChild<LoadOutput>(GENERATOR, { ...input, rate, connections: 64, nodes: NODES }, { timeoutMs: input.warmupMs + input.durationMs + 60_000 });
  const cpu = cpuSince(mark);
  return { ...out, serverCpuUsPerRequest: cpu.processUs / Math.max(1, out.sent), mainThreadBusy: cpu.threadRan, mainThreadWaiting: cpu.threadWaited };
}

function summary(o: LoadRun): string {
  return `${o.counted} counted of ${o.sent} sent, ${o.achievedRate.toFixed(0)} req/s, p50 ${o.p50.toFixed(2)} ms, p99 ${o.p99.toFixed(2)} ms, ` +
    `p99.9 ${o.p999.toFixed(2)} ms, max ${o.max.toFixed(1)} ms, statuses ${JSON.stringify(o.statuses)}, errors ${o.errors}` +
    `${o.firstError ? ` (${o.firstError})` : ''}, generator lag ≤ ${o.maxSendLagMs.toFixed(1)} ms, ` +
    `server CPU ${o.serverCpuUsPerRequest.toFixed(0)} µs/request` +
    `${o.mainThreadBusy === null ? '' : `, main thread ran ${(o.mainThreadBusy * 100).toFixed(0)} %`}` +
    `${o.mainThreadWaiting === null ? '' : ` and waited for a core ${(o.mainThreadWaiting * 100).toFixed(0)} %`} (whole run, warm-up included)`;
}

async function trivialRun(timing: { warmupMs: number; durationMs: number }): Promise<LoadRun> {
  const app = Fastify();
  app.post('/trivial', async () => ({ ok: true }));
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    return await load({ origin, target: 'trivial', token: 'none', ...timing });
  } finally {
    await app.close();
  }
}

/** Waits for the ops of a run to finish, so the next run starts from a quiet host. */
async function untilIdle(host: Host, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (host.listNodes().every((n) => n.power.phase === 'idle')) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the host was not idle ${timeoutMs / 1000} s after a run`);
}

export const latencyFigure: Figure = {
  name: 'latency',
  title: `POST /power latency at ${RATE} req/s over ${NODES} nodes (vs a trivial Fastify route)`,
  async run(ctx: FigureContext) {
    const timing = { warmupMs: ctx.quick ? 3_000 : 6_000, durationMs: ctx.quick ? 3_000 : 10_000 };
    const ladderTiming = { warmupMs: ctx.quick ? 3_000 : 6_000, durationMs: ctx.quick ? 2_000 : 5_000 };
    ctx.log(`trivial route: ${timing.durationMs / 1000} s at ${RATE} req/s`);
    const trivial = await trivialRun(timing);
    ctx.log(summary(trivial));

    const bdb = await createBenchDatabase(ctx.serverUrl, 'latency');
    try {
      const handle = await bdb.open();
      try {
        await seedSimNodes(handle.db, { count: NODES, status: 'broken' });
        const metrics = createMetrics({ defaultMetrics: false });
        const bench = await benchHost(handle, { metrics, app: { uiRoot: '/nonexistent-switchboard-ui' } });
        const { host } = bench;
        const app = bench.app!;
        await host.start();
        const token = generateToken();
        await createToken(handle.db, { id: randomUUID(), name: 'bench', role: 'operator', token });
        const origin = await app.listen({ host: '127.0.0.1', port: 0 });
        let measured: LoadRun;
        const ladder: { rate: number; out: LoadRun }[] = [];
        try {
          for (const rate of ctx.quick ? LADDER.filter((r) => r % 500 === 0).slice(0, 2) : LADDER) {
            ctx.log(`switchboard: ${ladderTiming.durationMs / 1000} s at ${rate} req/s`);
            const out = await load({ origin, target: 'switchboard', token, ...ladderTiming }, rate);
            ctx.log(summary(out));
            ladder.push({ rate, out });
            await untilIdle(host);
            if (!(out.p99 <= P99_LIMIT_MS) || out.errors > 0) break;
          }
          ctx.log(`switchboard: ${timing.durationMs / 1000} s at ${RATE} req/s, ${bdb.spec.backend}`);
          measured = await load({ origin, target: 'switchboard', token, ...timing });
          ctx.log(summary(measured));
        } finally {
          await app.close();
          await host.stop();
        }
        const passing = ladder.filter((l) => l.out.p99 <= P99_LIMIT_MS && l.out.errors === 0);
        const sustained = passing.length === 0 ? 0 : passing[passing.length - 1]!.rate;
        const answered = (measured.statuses['202'] ?? 0) + (measured.statuses['200'] ?? 0);
        if (measured.counted === 0 || answered < measured.counted * 0.9) {
          throw new Error(`too few accepted answers to measure: ${summary(measured)}`);
        }
        const note = `open loop from a separate process (undici, 64 connections), latency from each request's scheduled send time, ` +
          `${timing.durationMs / 1000} s after ${timing.warmupMs / 1000} s warm-up, ${bdb.spec.backend}; ` +
          `switchboard: ${summary(measured)}; trivial: ${summary(trivial)}`;
        const rows: FigureResult[] = [
          { key: 'latency.power_p50_ms', label: 'POST /power p50', value: measured.p50, unit: 'ms', baseline: trivial.p50, target: null },
          {
            key: 'latency.power_p99_ms',
            label: 'POST /power p99',
            value: measured.p99,
            unit: 'ms',
            baseline: trivial.p99,
            target: { on: 'value', better: 'lower', limit: 10 },
            note,
          },
          {
            key: 'latency.max_rate_at_p99_10ms',
            label: `highest rate of ${ladder.map((l) => l.rate).join('/')} req/s served with p99 <= ${P99_LIMIT_MS} ms`,
            value: sustained,
            unit: 'req/s',
            baseline: RATE,
            target: null,
            note: `same server, before the ${RATE} req/s run, ${ladderTiming.durationMs / 1000} s per rate after ` +
              `${ladderTiming.warmupMs / 1000} s warm-up, waiting for every node to be idle in between: ` +
              ladder.map((l) => `${l.rate} req/s: p50 ${l.out.p50.toFixed(2)} ms, p99 ${l.out.p99.toFixed(2)} ms, server CPU ${l.out.serverCpuUsPerRequest.toFixed(0)} µs/request`).join('; '),
          },
        ];
        return rows;
      } finally {
        await handle.close();
      }
    } finally {
      await bdb.dispose();
    }
  },
};
