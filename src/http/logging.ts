/**
 * Logger options: driver secrets, tokens and authorization headers never reach a log line.
 * Fastify logs only method, url, host and address of a request; the url loses its `token=`.
 */
import type { FastifyServerOptions } from 'fastify';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.body.params.password',
  'req.body.params.bearer',
  'body.params.password',
  'body.params.bearer',
  'params.password',
  'params.bearer',
  '*.params.password',
  '*.params.bearer',
  '*.password',
  '*.bearer',
  'token',
  '*.token',
];

/** The url with any `token` query value replaced. */
export function redactUrlToken(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, '$1***');
}

export interface LogOptions {
  level?: string;
  /** Where lines go (default stdout); tests pass a collector. */
  stream?: { write(line: string): void };
}

export function loggerOptions(base: LogOptions): NonNullable<FastifyServerOptions['logger']> {
  return {
    level: base.level ?? 'info',
    ...(base.stream === undefined ? {} : { stream: base.stream }),
    redact: { paths: REDACT_PATHS, censor: '***' },
    serializers: {
      req(request: { method: string; url: string; hostname?: string; ip?: string }) {
        return { method: request.method, url: redactUrlToken(request.url), host: request.hostname, remoteAddress: request.ip };
      },
    },
  };
}
