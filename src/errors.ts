/**
 * The one catalogue of error wordings: every error a client can see has a code here with its
 * default message, and the messages that name a node are worded here too, once. Nothing here
 * knows HTTP: the HTTP layer maps each code to a status (src/http/error-handler.ts).
 */
export const ERROR_MESSAGES = {
  bad_request: 'The request is malformed.',
  invalid_params: 'The driver params are not valid for this driver.',
  unauthorized: 'A valid bearer token is required.',
  forbidden: 'Your token does not have the role this needs.',
  forbidden_host:
    'This server does not answer to this Host name (a guard against DNS rebinding). If it is a name of this server, add it to SWITCHBOARD_ALLOWED_HOSTS.',
  forbidden_origin:
    'Requests from web pages of another origin are refused. To allow a site to call this API, add its origin to SWITCHBOARD_ALLOWED_ORIGINS.',
  not_found: 'No such resource.',
  node_not_found: 'No such node.',
  op_not_found: 'No such op.',
  node_name_taken: 'A node with this name exists already.',
  not_allowed_in_status: 'The node’s status does not allow this.',
  slots_full: 'The node already has an op in flight and one pending.',
  node_busy: 'The node has an op in flight or pending.',
  node_faulted: 'The node’s saved state could not be restored.',
  not_confirmable: 'Nothing waits for a confirmation on this node.',
  last_admin: 'This is the last live admin token; create another admin token before revoking it.',
  token_not_found: 'No such token.',
  upgrade_required: 'This is a WebSocket endpoint: connect with a WebSocket client.',
  payload_too_large: 'The request body is too large.',
  unsupported_media_type: 'Send JSON (Content-Type: application/json).',
  rate_limited: 'Too many requests.',
  internal: 'Something went wrong on our side.',
  database_unavailable: 'The database is unreachable; nothing was changed. Retry shortly.',
  shutting_down: 'The service is shutting down; retry shortly.',
} as const;

export type ErrorCode = keyof typeof ERROR_MESSAGES;

export const ERROR_CODES = Object.keys(ERROR_MESSAGES) as ErrorCode[];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message ?? ERROR_MESSAGES[code], options);
    this.name = 'AppError';
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_MESSAGES, code);
}

/** A name from a request, short enough to quote in a message. */
const quoted = (name: string) => `"${name.slice(0, 255)}"`;

/** No live node has this id or name (a path, a bulk request, a stream filter, the host). */
export function nodeNotFound(ref: string): AppError {
  return new AppError('node_not_found', `No node with id or name ${quoted(ref)}.`);
}

/** Another live node has this name. */
export function nodeNameTaken(name: string): AppError {
  return new AppError('node_name_taken', `A node named ${quoted(name)} exists already.`);
}
