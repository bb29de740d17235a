/**
 * Power and lifecycle requests: 202 accepted (committed before the reply), 200 coalesced with an
 * existing op, 409 refused with the chart's reason. Bulk power answers every node in one reply.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Host, LifecycleOutcome, RequestOutcome } from '../../actors/types.ts';
import type { PowerAction } from '../../machines/types.ts';
import type { Caller } from '../../actors/types.ts';
import { AppError, nodeNotFound } from '../../errors.ts';
import { callerOf } from '../caller.ts';
import { resolveNode } from '../resolve.ts';
import { errorBody, httpStatusOf, toAppError, type ErrorReplyBody } from '../error-handler.ts';
import type { Metrics } from '../metrics.ts';
import { opView } from '../views.ts';
import {
  BulkPowerBody, BulkResult, ConfirmBody, LifecycleBody, MAX_BULK_NODES, NodeRefParams, NodeViewSchema, OpAndNode, PowerBody, errors,
} from '../schemas.ts';
import { Type } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';

function refusalError(outcome: RequestOutcome | LifecycleOutcome): AppError {
  const refusal = outcome.refusal;
  if (refusal === undefined) return new AppError('not_allowed_in_status');
  const details: Record<string, unknown> = { status: refusal.status };
  if (refusal.allowedIn !== undefined) details.allowedIn = refusal.allowedIn;
  return new AppError(refusal.code, refusal.message, details);
}

const STATUS_OF = { accepted: 202, coalesced: 200 } as const;

interface BulkItem {
  node: string;
  nodeId?: string;
  status: number;
  op?: ReturnType<typeof opView>;
  error?: ErrorReplyBody['error'];
}

async function requestOne(host: Host, ref: string, action: PowerAction, caller: Caller, metrics: Metrics, log: FastifyBaseLogger): Promise<BulkItem> {
  const node = host.findNode(ref);
  if (node === undefined) {
    const err = nodeNotFound(ref);
    return { node: ref, status: httpStatusOf(err), error: errorBody(err.code, err.message).error };
  }
  try {
    const outcome = await host.requestPower(node.id, action, caller);
    metrics.ops.inc({ action, origin: 'user', result: outcome.result });
    if (outcome.result === 'refused') {
      const err = refusalError(outcome);
      return { node: ref, nodeId: node.id, status: httpStatusOf(err), error: errorBody(err.code, err.message, err.details).error };
    }
    const item: BulkItem = { node: ref, nodeId: node.id, status: STATUS_OF[outcome.result] };
    if (outcome.op !== null) item.op = opView(outcome.op);
    return item;
  } catch (cause) {
    const err = toAppError(cause);
    const status = httpStatusOf(err);
    if (status >= 500) log.error({ err: cause, node: node.id }, 'bulk power request failed for one node');
    const message = status >= 500 ? undefined : err.message;
    return { node: ref, nodeId: node.id, status, error: errorBody(err.code, message, err.details).error };
  }
}

export function powerRoutes(app: FastifyInstance, deps: { host: Host; metrics: Metrics }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { host, metrics } = deps;

  r.post('/api/v1/nodes/:id/power', {
    config: { auth: 'operator' },
    schema: {
      summary: 'Request a power action',
      description:
        '202: accepted and committed. 200: equal to the op already pending (or in flight with nothing pending): that op. ' +
        '409 not_allowed_in_status: the node\'s status forbids it (details name the statuses that allow it). ' +
        '409 slots_full: an op is in flight and another pending.',
      tags: ['power'],
      params: NodeRefParams,
      body: PowerBody,
      response: { 200: OpAndNode, 202: OpAndNode, ...errors(404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const node = resolveNode(host, request.params.id);
    const { action } = request.body;
    const outcome = await host.requestPower(node.id, action, callerOf(request));
    metrics.ops.inc({ action, origin: 'user', result: outcome.result });
    if (outcome.result === 'refused') throw refusalError(outcome);
    return reply.code(STATUS_OF[outcome.result]).send({ op: outcome.op === null ? null : opView(outcome.op), node: outcome.node });
  });

  r.post('/api/v1/nodes/:id/power/confirm', {
    config: { auth: 'operator' },
    schema: {
      summary: 'Confirm the power state of a manual node',
      description: 'For the manual driver: a person says what the node\'s power is now. 409 not_confirmable when nothing waits.',
      tags: ['power'],
      params: NodeRefParams,
      body: ConfirmBody,
      response: { 200: Type.Object({ node: NodeViewSchema }), ...errors(404, 409, 413, 415) },
    },
  }, async (request) => {
    const node = resolveNode(host, request.params.id);
    return { node: await host.confirm(node.id, request.body.observed, callerOf(request)) };
  });

  r.post('/api/v1/power', {
    config: { auth: 'operator' },
    schema: {
      summary: 'Request one power action for many nodes',
      description:
        `One result per node, in the order given, each with the status the single request would have had ` +
        `(202, 200, 409, 404). At most ${MAX_BULK_NODES} nodes; naming a node twice is a 400 and changes nothing.`,
      tags: ['power'],
      body: BulkPowerBody,
      response: { 200: Type.Object({ results: Type.Array(BulkResult) }), ...errors(413, 415) },
    },
  }, async (request) => {
    const { nodes, action } = request.body;
    const seen = new Map<string, string>();
    for (const ref of nodes) {
      const id = host.findNode(ref)?.id ?? `unknown:${ref}`;
      const earlier = seen.get(id);
      if (earlier !== undefined) {
        throw new AppError('bad_request', `"${ref.slice(0, 255)}" names the same node as "${earlier.slice(0, 255)}"; name each node once.`);
      }
      seen.set(id, ref);
    }
    const caller = callerOf(request);
    const results = await Promise.all(nodes.map((ref) => requestOne(host, ref, action, caller, metrics, request.log)));
    return { results };
  });

  r.post('/api/v1/nodes/:id/lifecycle', {
    config: { auth: 'operator' },
    schema: {
      summary: 'Send a lifecycle event',
      description: '202 with the power op the transition requested (null when it needs none); 409 not_allowed_in_status when the status forbids it.',
      tags: ['lifecycle'],
      params: NodeRefParams,
      body: LifecycleBody,
      response: { 202: OpAndNode, ...errors(404, 409, 413, 415) },
    },
  }, async (request, reply) => {
    const node = resolveNode(host, request.params.id);
    const outcome = await host.lifecycle(node.id, request.body.event, callerOf(request));
    if (outcome.result === 'refused') throw refusalError(outcome);
    if (outcome.op !== null) metrics.ops.inc({ action: outcome.op.action, origin: 'lifecycle', result: 'accepted' });
    return reply.code(202).send({ op: outcome.op === null ? null : opView(outcome.op), node: outcome.node });
  });
}
