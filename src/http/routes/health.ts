/** Liveness, readiness (database reachable) and Prometheus metrics. */
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Host } from '../../actors/types.ts';
import type { Database } from '../../db/index.ts';
import type { Metrics } from '../metrics.ts';
import { errors } from '../schemas.ts';

const PING_TIMEOUT_MS = 2_000;

async function pingDatabase(db: Kysely<Database>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
  });
  try {
    return await Promise.race([sql`select 1`.execute(db).then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const Readiness = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Object({ database: Type.Boolean(), host: Type.Boolean() }),
  nodes: Type.Integer(),
  faulted: Type.Integer(),
});

export function healthRoutes(app: FastifyInstance, deps: { host: Host; db: Kysely<Database>; metrics: Metrics }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/healthz', {
    config: { auth: 'public' },
    schema: { summary: 'Liveness: the process answers', tags: ['ops'], response: { 200: Type.Object({ ok: Type.Boolean() }) } },
  }, async () => ({ ok: true }));

  r.get('/readyz', {
    // Probes carry no token; the answer holds nothing but booleans and counts.
    config: { auth: 'public' },
    schema: {
      summary: 'Readiness: the database answers and the host can commit',
      tags: ['ops'],
      response: { 200: Readiness, 503: Readiness },
    },
  }, async (_request, reply) => {
    const database = await pingDatabase(deps.db);
    const stats = deps.host.stats();
    const ready = database && stats.databaseAvailable;
    return reply.code(ready ? 200 : 503).send({
      ready,
      checks: { database, host: stats.databaseAvailable },
      nodes: stats.nodes,
      faulted: stats.faulted,
    });
  });

  r.get('/metrics', {
    schema: { summary: 'Prometheus metrics', tags: ['ops'], response: { 200: Type.String(), ...errors() } },
  }, async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).serializer((body: unknown) => String(body)).send(text);
  });
}
