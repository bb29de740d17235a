/**
 * Issue 4: latency of POST /api/v1/nodes/:id/power at a steady 2,000 requests/s against 10,000
 * sim nodes, on a real listening server (loopback) driven by an open-loop generator in another
 * process; and the same load against a trivial Fastify route in the same run, as the baseline.
 * The host runs with production defaults (group commit, 2 s verify polls, periodic sync), booted
 * without boot queries; nodes are seeded `broken` so both on and off are allowed.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { createToken, generateToken } from '../../src/db/index.ts';
import { buildApp } from '../../src/http/app.ts';
import { createMetrics } from '../../src/http/metrics.ts';
import { runChild } from '../lib/child.ts';
import { createBenchDatabase } from '../lib/database.ts';
import type { Figure, FigureContext } from '../lib/figure.ts';
import { benchHost } from '../lib/host.ts';
import type { LoadInput, LoadOutput } from '../lib/load-generator.ts';
import type { FigureResult } from '../lib/report.ts';
import { seedSimNodes } from '../lib/seed.ts';

const GENERATOR = new URL('../lib/load-generator.ts', import.meta.url);
const RATE = 2_000;
const NODES = 10_000;

function load(input: Omit<LoadInput, 'rate' | 'connections' | 'nodes'>, rate = RATE): Promise<LoadOutput> {
  return runChild<LoadOutput>(GENERATOR, { ...input, rate, connections: 64, nodes: NODES }, { timeoutMs: input.warmupMs + input.durationMs + 60_000 });
}

function summary(o: LoadOutput): string {
  return `${o.counted} counted of ${o.sent} sent, ${o.achievedRate.toFixed(0)} req/s, p50 ${o.p50.toFixed(2)} ms, p99 ${o.p99.toFixed(2)} ms, ` +
    `p99.9 ${o.p999.toFixed(2)} ms, max ${o.max.toFixed(1)} ms, statuses ${JSON.stringify(o.statuses)}, errors ${o.errors}` +
    `${o.firstError ? ` (${o.firstError})` : ''}, generator lag ≤ ${o.maxSendLagMs.toFixed(1)} ms`;
}

async function trivialRun(timing: { warmupMs: number; durationMs: number }): Promise<LoadOutput> {
  const app = Fastify();
  app.post('/trivial', async () => ({ ok: true }));
  const origin = await app.listen({ host: '127.0.0.1', port: 0 });
  try {
    return await load({ origin, target: 'trivial', token: 'none', ...timing });
  } finally {
    await app.close();
  }
}

export const latencyFigure: Figure = {
  name: 'latency',
  title: `POST /power latency at ${RATE} req/s over ${NODES} nodes (vs a trivial Fastify route)`,
  async run(ctx: FigureContext) {
    const timing = { warmupMs: ctx.quick ? 1_000 : 2_000, durationMs: ctx.quick ? 3_000 : 10_000 };
    ctx.log(`trivial route: ${timing.durationMs / 1000} s at ${RATE} req/s`);
    const trivial = await trivialRun(timing);
    ctx.log(summary(trivial));

    const bdb = await createBenchDatabase(ctx.serverUrl, 'latency');
    try {
      const handle = await bdb.open();
      try {
        await seedSimNodes(handle.db, { count: NODES, status: 'broken' });
        const metrics = createMetrics({ defaultMetrics: false });
        const { host, config } = await benchHost(handle.db, { hooks: metrics.hostHooks() });
        await host.start();
        const app = await buildApp({ host, db: handle.db, config, metrics, uiRoot: '/nonexistent-switchboard-ui' });
        const token = generateToken();
        await createToken(handle.db, { id: randomUUID(), name: 'bench', role: 'operator', token });
        const origin = await app.listen({ host: '127.0.0.1', port: 0 });
        let measured: LoadOutput;
        let half: LoadOutput;
        try {
          ctx.log(`switchboard: ${timing.durationMs / 1000} s at ${RATE} req/s, ${bdb.spec.backend}`);
          measured = await load({ origin, target: 'switchboard', token, ...timing });
          ctx.log(summary(measured));
          // Half the rate, to show where the knee is on this machine.
          ctx.log(`switchboard: ${timing.durationMs / 1000} s at ${RATE / 2} req/s`);
          half = await load({ origin, target: 'switchboard', token, ...timing }, RATE / 2);
          ctx.log(summary(half));
        } finally {
          await app.close();
          await host.stop();
        }
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
            key: 'latency.power_p99_ms_half_rate',
            label: `POST /power p99 at ${RATE / 2} req/s`,
            value: half.p99,
            unit: 'ms',
            baseline: trivial.p99,
            target: null,
            note: `same server, right after the ${RATE} req/s run: ${summary(half)}`,
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
