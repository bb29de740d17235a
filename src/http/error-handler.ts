/**
 * The one place errors become replies. Every reply body is `{ error: { code, message, details? } }`
 * with the code from ERROR_CATALOGUE; a 5xx never carries the real error (it is logged instead).
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CATALOGUE, type ErrorCode } from '../errors.ts';
import { InvalidPageRequestError } from '../db/index.ts';

export interface ErrorReplyBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function errorBody(code: ErrorCode, message?: string, details?: Record<string, unknown>): ErrorReplyBody {
  const error: ErrorReplyBody['error'] = { code, message: message ?? ERROR_CATALOGUE[code].message };
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
  if (typeof message !== 'string' || message === '') return ERROR_CATALOGUE.bad_request.message;
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  const status = ERROR_CATALOGUE[err.code].status;
  // 5xx: the generic catalogue message only.
  const message = status >= 500 ? ERROR_CATALOGUE[err.code].message : err.message;
  return reply.code(status).type('application/json; charset=utf-8').send(errorBody(err.code, message, err.details));
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const appError = toAppError(err);
    if (appError.status >= 500) {
      request.log.error({ err: appError.code === 'internal' ? err : appError }, 'request failed');
    } else {
      request.log.info({ code: appError.code, status: appError.status }, 'request refused');
    }
    return sendError(reply, appError);
  });
  app.setNotFoundHandler((request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, new AppError('not_found', `No route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}.`)),
  );
}
