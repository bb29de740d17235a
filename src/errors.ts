/**
 * The one error catalogue: every error a client can see has a code here, with its HTTP status.
 * The Fastify error handler maps AppError (and schema/auth errors) through it; 5xx messages are
 * replaced by a generic one so internals never leak.
 */
export const ERROR_CATALOGUE = {
  bad_request: { status: 400, message: 'The request is malformed.' },
  invalid_params: { status: 400, message: 'The driver params are not valid for this driver.' },
  unauthorized: { status: 401, message: 'A valid bearer token is required.' },
  forbidden: { status: 403, message: 'Your token does not have the role this needs.' },
  not_found: { status: 404, message: 'No such resource.' },
  node_not_found: { status: 404, message: 'No such node.' },
  op_not_found: { status: 404, message: 'No such op.' },
  node_name_taken: { status: 409, message: 'A node with this name exists already.' },
  not_allowed_in_status: { status: 409, message: 'The node’s status does not allow this.' },
  slots_full: { status: 409, message: 'The node already has an op in flight and one pending.' },
  node_busy: { status: 409, message: 'The node has an op in flight or pending.' },
  node_faulted: { status: 409, message: 'The node’s saved state could not be restored.' },
  not_confirmable: { status: 409, message: 'Nothing waits for a confirmation on this node.' },
  last_admin: { status: 409, message: 'This is the last live admin token; create another admin token before revoking it.' },
  token_not_found: { status: 404, message: 'No such token.' },
  upgrade_required: { status: 426, message: 'This is a WebSocket endpoint: connect with a WebSocket client.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send JSON (Content-Type: application/json).' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  internal: { status: 500, message: 'Something went wrong on our side.' },
  database_unavailable: { status: 503, message: 'The database is unreachable; nothing was changed. Retry shortly.' },
  shutting_down: { status: 503, message: 'The service is shutting down; retry shortly.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message ?? ERROR_CATALOGUE[code].message, options);
    this.name = 'AppError';
    this.status = ERROR_CATALOGUE[code].status;
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}
