/** Who made a request, as the host records it with ops and events. */
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../actors/types.ts';

export function callerOf(request: FastifyRequest): Caller {
  const principal = request.principal;
  return { requestedBy: principal === null ? null : `token:${principal.name}` };
}
