/** The node chart's picture (generated from the machine) and the gating table as data. */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { CHART_CONTENT_TYPES, renderChart } from '../../chart/index.ts';
import { LIFECYCLE_EVENTS, LIFECYCLE_EVENT_TYPES, POWER_GATE, humanize, isTransitional } from '../../machines/gating.ts';
import { OBSERVED_STATES, OP_STATES, ORIGINS, POWER_ACTIONS, STATUSES, STEPS, type PowerAction } from '../../machines/types.ts';
import { ChartFormatSchema, errors } from '../schemas.ts';

/** A power action as a button says it: `soft_off` → `Soft off`. */
const actionLabel = (action: PowerAction) => {
  const words = humanize(action);
  return words.charAt(0).toUpperCase() + words.slice(1);
};

/**
 * The chart's vocabulary and the gating table, as data: status → user power ops it permits
 * (`query` always), each lifecycle event's rule, and the words people read for each (the UI
 * takes its lists and labels from here, so it restates none of them).
 */
export function gatingTable() {
  const words = [...STATUSES, ...POWER_ACTIONS, ...STEPS, ...LIFECYCLE_EVENT_TYPES, ...ORIGINS, ...OP_STATES, ...OBSERVED_STATES];
  return {
    statuses: [...STATUSES],
    powerActions: [...POWER_ACTIONS],
    actionLabels: Object.fromEntries(POWER_ACTIONS.map((a) => [a, actionLabel(a)])),
    /** Statuses that wait on the power op they requested. */
    transitional: STATUSES.filter(isTransitional),
    labels: Object.fromEntries(words.map((w) => [w, humanize(w)])),
    power: Object.fromEntries(STATUSES.map((s) => [s, [...POWER_GATE[s], 'query']])),
    lifecycle: Object.fromEntries(
      Object.entries(LIFECYCLE_EVENTS).map(([event, rule]) => [
        event,
        { from: [...rule.from], to: rule.to, power: rule.power ?? null, operator: rule.operator, label: humanize(event), summary: rule.summary },
      ]),
    ),
  };
}

const GatingSchema = Type.Object({
  statuses: Type.Array(Type.String()),
  powerActions: Type.Array(Type.String()),
  actionLabels: Type.Record(Type.String(), Type.String()),
  transitional: Type.Array(Type.String()),
  labels: Type.Record(Type.String(), Type.String()),
  power: Type.Record(Type.String(), Type.Array(Type.String())),
  lifecycle: Type.Record(
    Type.String(),
    Type.Object({
      from: Type.Array(Type.String()),
      to: Type.String(),
      power: Type.Union([Type.String(), Type.Null()]),
      operator: Type.Boolean(),
      label: Type.String(),
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
