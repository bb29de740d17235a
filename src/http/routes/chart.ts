/** The node chart's picture (generated from the machine) and the gating table as data. */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CHART_CONTENT_TYPES, renderChart } from '../../chart/index.ts';
import { LIFECYCLE_EVENTS, POWER_GATE } from '../../machines/gating.ts';
import { POWER_ACTIONS, STATUSES } from '../../machines/types.ts';
import { ChartFormatSchema, errors } from '../schemas.ts';

/** Status → user power ops it permits (`query` always), and each lifecycle event's rule. */
export function gatingTable() {
  return {
    statuses: [...STATUSES],
    powerActions: [...POWER_ACTIONS],
    power: Object.fromEntries(STATUSES.map((s) => [s, [...POWER_GATE[s], 'query']])),
    lifecycle: Object.fromEntries(
      Object.entries(LIFECYCLE_EVENTS).map(([event, rule]) => [
        event,
        { from: [...rule.from], to: rule.to, power: rule.power ?? null, operator: rule.operator, summary: rule.summary },
      ]),
    ),
  };
}

const GatingSchema = Type.Object({
  statuses: Type.Array(Type.String()),
  powerActions: Type.Array(Type.String()),
  power: Type.Record(Type.String(), Type.Array(Type.String())),
  lifecycle: Type.Record(
    Type.String(),
    Type.Object({
      from: Type.Array(Type.String()),
      to: Type.String(),
      power: Type.Union([Type.String(), Type.Null()]),
      operator: Type.Boolean(),
      summary: Type.String(),
    }),
  ),
});

export function chartRoutes(app: FastifyInstance): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/api/v1/statechart', {
    schema: {
      summary: 'The node statechart, generated from the machine definition',
      tags: ['docs'],
      querystring: Type.Object({ format: Type.Optional(ChartFormatSchema) }, { additionalProperties: false }),
      response: { 200: Type.String({ description: 'SVG, Graphviz DOT, Mermaid or JSON text' }), ...errors() },
    },
  }, async (request, reply) => {
    const format = request.query.format ?? 'svg';
    const text = await renderChart(format);
    return reply.type(CHART_CONTENT_TYPES[format]).serializer((body: unknown) => String(body)).send(text);
  });

  const table = gatingTable();
  r.get('/api/v1/gating', {
    schema: {
      summary: 'The gating table: which status permits which power op and lifecycle event',
      tags: ['docs'],
      response: { 200: GatingSchema, ...errors() },
    },
  }, async () => table);
}
