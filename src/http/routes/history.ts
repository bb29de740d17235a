/** A node's ops and events (newest first, keyset paged) and one op by id. */
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Host } from '../../actors/types.ts';
import { AppError } from '../../errors.ts';
import { fromDb } from '../db-errors.ts';
import { getOp, listEventsByNode, listOpsByNode, type Database } from '../../db/index.ts';
import { resolveNode } from '../resolve.ts';
import { eventView, opView } from '../views.ts';
import { EventSchema, IdParams, NodeRefParams, OpSchema, PageQuery, errors, page } from '../schemas.ts';


export function historyRoutes(app: FastifyInstance, deps: { host: Host; db: Kysely<Database> }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { host, db } = deps;

  r.get('/api/v1/nodes/:id/ops', {
    schema: {
      summary: 'A node\'s power ops, newest first',
      tags: ['history'],
      params: NodeRefParams,
      querystring: PageQuery,
      response: { 200: page(OpSchema), ...errors(404) },
    },
  }, async (request) => {
    const node = resolveNode(host, request.params.id);
    const result = await fromDb(() => listOpsByNode(db, node.id, request.query));
    return { items: result.items.map(opView), nextCursor: result.nextCursor };
  });

  r.get('/api/v1/nodes/:id/events', {
    schema: {
      summary: 'A node\'s history, newest first',
      tags: ['history'],
      params: NodeRefParams,
      querystring: PageQuery,
      response: { 200: page(EventSchema), ...errors(404) },
    },
  }, async (request) => {
    const node = resolveNode(host, request.params.id);
    const result = await fromDb(() => listEventsByNode(db, node.id, request.query));
    return { items: result.items.map(eventView), nextCursor: result.nextCursor };
  });

  r.get('/api/v1/ops/:id', {
    schema: {
      summary: 'One op',
      tags: ['history'],
      params: IdParams,
      response: { 200: OpSchema, ...errors(404) },
    },
  }, async (request) => {
    const op = await fromDb(() => getOp(db, request.params.id));
    if (op === undefined) throw new AppError('op_not_found', `No op with id "${request.params.id}".`);
    return opView(op);
  });
}
