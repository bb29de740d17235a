/** Node CRUD: create, list (filter + keyset paging by name), get, patch, delete. */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Host, NodeView } from '../../actors/types.ts';
import { AppError } from '../../errors.ts';
import { callerOf } from '../caller.ts';
import { resolveNode } from '../resolve.ts';
import {
  CreateNodeBody, ListNodesQuery, NodeRefParams, NodeViewSchema, UpdateNodeBody, errors, page,
} from '../schemas.ts';

const NODE_CURSOR = /^[A-Za-z0-9_-]{1,700}$/;

function encodeNameCursor(name: string): string {
  return Buffer.from(name, 'utf8').toString('base64url');
}

function decodeNameCursor(cursor: string): string {
  if (!NODE_CURSOR.test(cursor)) throw new AppError('bad_request', 'cursor is not one this server issued');
  return Buffer.from(cursor, 'base64url').toString('utf8');
}

const byName = (a: NodeView, b: NodeView) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function nodeRoutes(app: FastifyInstance, deps: { host: Host }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { host } = deps;

  r.post('/api/v1/nodes', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Create a node',
      description: 'Driver params are checked against the driver\'s schema. Secrets in them (passwords, bearer tokens) are write-only.',
      tags: ['nodes'],
      body: CreateNodeBody,
      response: { 201: NodeViewSchema, ...errors(409, 413, 415) },
    },
  }, async (request, reply) => {
    const node = await host.createNode(request.body, callerOf(request));
    return reply.code(201).send(node);
  });

  r.get('/api/v1/nodes', {
    schema: {
      summary: 'List nodes',
      description: 'Ordered by name. Filter by lifecycle status and observed power; page with limit and the nextCursor of the previous page.',
      tags: ['nodes'],
      querystring: ListNodesQuery,
      response: { 200: page(NodeViewSchema), ...errors() },
    },
  }, async (request) => {
    const { status, power, cursor } = request.query;
    const limit = request.query.limit ?? 100;
    const statuses = status === undefined ? undefined : new Set<string>(status);
    const powers = power === undefined ? undefined : new Set<string>(power);
    const after = cursor === undefined ? undefined : decodeNameCursor(cursor);
    const selected = host.listNodes().filter((n) =>
      (statuses === undefined || statuses.has(n.status)) &&
      (powers === undefined || powers.has(n.power.observed)) &&
      (after === undefined || n.name > after));
    selected.sort(byName);
    const items = selected.slice(0, limit);
    const last = items[items.length - 1];
    const nextCursor = selected.length > limit && last !== undefined ? encodeNameCursor(last.name) : null;
    return { items, nextCursor };
  });

  r.get('/api/v1/nodes/:id', {
    schema: {
      summary: 'Get a node by id or name',
      tags: ['nodes'],
      params: NodeRefParams,
      response: { 200: NodeViewSchema, ...errors(404) },
    },
  }, async (request) => resolveNode(host, request.params.id));

  r.patch('/api/v1/nodes/:id', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Change a node',
      description: 'Give only what changes. New params replace the old ones as a whole.',
      tags: ['nodes'],
      params: NodeRefParams,
      body: UpdateNodeBody,
      response: { 200: NodeViewSchema, ...errors(404, 409, 413, 415) },
    },
  }, async (request) => {
    const node = resolveNode(host, request.params.id);
    return host.updateNode(node.id, request.body, callerOf(request));
  });

  r.delete('/api/v1/nodes/:id', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Delete a node',
      description: 'Refused (409 node_busy) while an op is in flight or pending. Its history stays.',
      tags: ['nodes'],
      params: NodeRefParams,
      response: { 204: Type.Null(), ...errors(404, 409) },
    },
  }, async (request, reply) => {
    const node = resolveNode(host, request.params.id);
    await host.deleteNode(node.id, callerOf(request));
    return reply.code(204).send(null);
  });
}
