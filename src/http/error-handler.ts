/**
 * The one place errors become replies, and the one place an error code gets its HTTP status.
 * Every reply body is `{ error: { code, message, details? } }` with a code of src/errors.ts; a
 * 5xx never carries the real error (it is logged instead).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_MESSAGES, type ErrorCode } from '../errors.ts';
import { InvalidPageRequestError } from '../db/index.ts';

/** The HTTP status of each error code. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  invalid_params: 400,
  unauthorized: 401,
  forbidden: 403,
  forbidden_host: 403,
  forbidden_origin: 403,
  not_found: 404,
  node_not_found: 404,
  op_not_found: 404,
  token_not_found: 404,
  node_name_taken: 409,
  not_allowed_in_status: 409,
  slots_full: 409,
  node_busy: 409,
  node_faulted: 409,
  not_confirmable: 409,
  last_admin: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  upgrade_required: 426,
  rate_limited: 429,
  internal: 500,
  database_unavailable: 503,
  shutting_down: 503,
};

export const httpStatusOf = (err: AppError): number => HTTP_STATUS[err.code];

export interface ErrorReplyBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: ErrorCode, message?: string, details?: Record<string, unknown>): ErrorReplyBody {
  const error: ErrorReplyBody['error'] = { code, message: message ?? ERROR_MESSAGES[code] };
  if (details !== undefined) error.details = details;
  return { error };
}

/** What a client sees for any thrown value: a catalogued error, never an internal message. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof InvalidPageRequestError) return new AppError('bad_request', err.message);
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe !== null && typeof fe === 'object') {
    if (fe.validation !== undefined) {
      return new AppError('bad_request', `${fe.message ?? 'invalid request'}`);
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 0;
    if (status === 413 || fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new AppError('payload_too_large');
    if (status === 415 || fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new AppError('unsupported_media_type');
    if (status === 404) return new AppError('not_found');
    // Fastify's own 4xx (bad JSON, empty JSON body, bad content length...): the client's fault.
    if (status >= 400 && status < 500) return new AppError('bad_request', cleanClientMessage(fe.message));
  }
  return new AppError('internal', undefined, undefined, { cause: err });
}

/** Fastify's 4xx messages say what was wrong with the request; keep them short. */
function cleanClientMessage(message: unknown): string {
  if (typeof message !== 'string' || message === '') return ERROR_MESSAGES.bad_request;
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  const status = httpStatusOf(err);
  // 5xx: the generic catalogue message only.
  const message = status >= 500 ? ERROR_MESSAGES[err.code] : err.message;
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(err.code, message, err.details));
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(err);
    const status = httpStatusOf(appError);
    if (status >= 500) {
      request.log.error({ err: appError.code === 'internal' ? err : appError }, 'request failed');
    } else {
      request.log.info({ code: appError.code, status }, 'request refused');
    }
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, new AppError('not_found', `No route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}.`)),
  );
}
