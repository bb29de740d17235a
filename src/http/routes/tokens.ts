/** API tokens (admin only). A new token's secret is in the create reply and nowhere else, ever. */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AppError } from '../../errors.ts';
import { fromDb } from '../db-errors.ts';
import {
  createToken, generateToken, inTransaction, listTokens, revokeTokenKeepingAnAdmin, type Database,
} from '../../db/index.ts';
import type { TokenAuthenticator } from '../auth.ts';
import { tokenView } from '../views.ts';
import { CreateTokenBody, IdParams, TokenSchema, errors } from '../schemas.ts';


export function tokenRoutes(app: FastifyInstance, deps: { db: Kysely<Database>; authenticator: TokenAuthenticator }): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { db, authenticator } = deps;

  r.post('/api/v1/tokens', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Create an API token',
      description: 'The reply holds the token itself; it is shown only this once (only its hash is stored).',
      tags: ['tokens'],
      body: CreateTokenBody,
      response: { 201: Type.Intersect([TokenSchema, Type.Object({ token: Type.String() })]), ...errors(413, 415) },
    },
  }, async (request, reply) => {
    const token = generateToken();
    const record = await fromDb(() => createToken(db, { id: randomUUID(), name: request.body.name, role: request.body.role, token }));
    request.log.info({ tokenId: record.id, role: record.role, by: request.principal?.name }, 'token created');
    return reply.code(201).send({ ...tokenView(record), token });
  });

  r.get('/api/v1/tokens', {
    config: { auth: 'admin' },
    schema: {
      summary: 'List API tokens (never their secrets)',
      tags: ['tokens'],
      response: { 200: Type.Object({ items: Type.Array(TokenSchema) }), ...errors() },
    },
  }, async () => ({ items: (await fromDb(() => listTokens(db))).map(tokenView) }));

  r.delete('/api/v1/tokens/:id', {
    config: { auth: 'admin' },
    schema: {
      summary: 'Revoke an API token',
      description: 'Takes effect at once: requests and open streams with it are refused. The last live admin token cannot be revoked.',
      tags: ['tokens'],
      params: IdParams,
      response: { 204: Type.Null(), ...errors(404, 409) },
    },
  }, async (request, reply) => {
    const { id } = request.params;
    const outcome = await fromDb(() => inTransaction(db, (tx) => revokeTokenKeepingAnAdmin(tx, id)));
    if (outcome === 'not_found') throw new AppError('token_not_found', `No live token with id "${id}".`);
    if (outcome === 'last_admin') throw new AppError('last_admin');
    authenticator.revoked(id);
    request.log.info({ tokenId: id, by: request.principal?.name }, 'token revoked');
    return reply.code(204).send(null);
  });
}
