/** Repository records as the API shows them: dates as ISO strings, nothing else added. */
import type { EventRecord, OpRecord, TokenRecord } from '../db/index.ts';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function opView(op: OpRecord) {
  return {
    id: op.id,
    nodeId: op.nodeId,
    action: op.action,
    origin: op.origin,
    requestedBy: op.requestedBy,
    state: op.state,
    error: op.error,
    attempts: op.attempts,
    requestedAt: op.requestedAt.toISOString(),
    startedAt: iso(op.startedAt),
    finishedAt: iso(op.finishedAt),
  };
}

export function eventView(event: EventRecord) {
  return {
    id: event.id,
    nodeId: event.nodeId,
    at: event.at.toISOString(),
    kind: event.kind,
    origin: event.origin,
    actor: event.actor,
    opId: event.opId,
    detail: event.detail,
  };
}

export function tokenView(token: TokenRecord) {
  return {
    id: token.id,
    name: token.name,
    role: token.role,
    createdAt: token.createdAt.toISOString(),
    lastUsedAt: iso(token.lastUsedAt),
    revokedAt: iso(token.revokedAt),
  };
}
