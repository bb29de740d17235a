/**
 * GET /api/v1/stream (WebSocket): a snapshot of the fleet (or of `?nodes=a,b`), then one
 * `change` message per committed node change, coalesced per node for a client that falls behind.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Host } from '../../actors/types.ts';
import type { Metrics } from '../metrics.ts';
import type { TokenAuthenticator } from '../auth.ts';
import { AppError, nodeNotFound } from '../../errors.ts';
import { StreamClient } from '../stream-client.ts';
import { errors } from '../schemas.ts';

export interface StreamOptions {
  highWaterBytes?: number;
  flushIntervalMs?: number;
}

const StreamQuery = Type.Object(
  {
    token: Type.Optional(Type.String({ maxLength: 512 })),
    nodes: Type.Optional(Type.String({ maxLength: 100_000, description: 'Comma-separated node ids or names' })),
  },
  { additionalProperties: false },
);

export function streamRoutes(
  app: FastifyInstance,
  deps: { host: Host; metrics: Metrics; authenticator: TokenAuthenticator; options: StreamOptions },
): void {
  const clients = new Map<StreamClient, { tokenId: string | null; close: () => void }>();
  deps.authenticator.onRevoke((tokenId) => {
    for (const entry of clients.values()) if (entry.tokenId === tokenId) entry.close();
  });
  app.addHook('onClose', async () => {
    for (const entry of clients.values()) entry.close();
  });

  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/api/v1/stream',
    {
      websocket: true,
      config: { auth: 'viewer', tokenInQuery: true },
      // Resolving `?nodes=` before the upgrade lets an unknown node be a plain 404.
      preValidation: async (request) => {
        const names = request.query.nodes;
        if (names === undefined || names === '') return;
        const parts = names.split(',').map((s) => s.trim()).filter((s) => s !== '');
        if (parts.length > 10_000) throw new AppError('bad_request', 'at most 10000 nodes per stream');
        for (const part of parts) {
          if (deps.host.findNode(part) === undefined) throw nodeNotFound(part);
        }
      },
      // After validation, so a bad query is a 400 before it is a 426.
      preHandler: async (request) => {
        if (!request.ws) throw new AppError('upgrade_required');
      },
      schema: {
        summary: 'Live fleet changes (WebSocket)',
        description:
          'Upgrade to a WebSocket. Token as Authorization header or ?token=. First message: {type:"snapshot", nodes}; ' +
          'then {type:"change", node, events} per committed change, coalesced per node when the client falls behind.',
        tags: ['stream'],
        querystring: StreamQuery,
        response: errors(404, 426),
      },
    },
    (socket, request) => {
      const names = request.query.nodes;
      let nodeIds: Set<string> | undefined;
      if (names !== undefined && names !== '') {
        nodeIds = new Set();
        for (const part of names.split(',')) {
          const node = deps.host.findNode(part.trim());
          if (node !== undefined) nodeIds.add(node.id);
        }
      }
      const client = new StreamClient(socket, {
        highWaterBytes: deps.options.highWaterBytes ?? 256 * 1024,
        flushIntervalMs: deps.options.flushIntervalMs ?? 50,
        ...(nodeIds === undefined ? {} : { nodeIds }),
        onCoalesced: () => deps.metrics.streamCoalesced.inc(),
        onSent: () => deps.metrics.streamMessages.inc(),
      });
      deps.metrics.streamClients.inc();
      // Everything from here to the snapshot runs in one tick: no change can slip between them.
      const unsubscribe = deps.host.subscribe((change) => client.push(change));
      let cleaned = false;
      const cleanup = () => {
        if (cleaned) return;
        cleaned = true;
        unsubscribe();
        client.close();
        clients.delete(client);
        deps.metrics.streamClients.dec();
      };
      clients.set(client, {
        tokenId: request.principal?.tokenId ?? null,
        close: () => {
          cleanup();
          socket.close(1008, 'token revoked or server closing');
        },
      });
      socket.on('close', cleanup);
      socket.on('error', cleanup);
      // Ignore whatever the client sends; the stream is one-way.
      socket.on('message', () => undefined);
      client.snapshot(deps.host.listNodes());
      client.flush();
    },
  );
}
