/**
 * Webhook driver: for power controllers with a plain HTTP API (smart PDUs, relay boards, a
 * site's own automation). A command is one request to onUrl / offUrl / softOffUrl (POST unless
 * `method` says otherwise) and any 2xx is the acknowledgement. A query GETs queryUrl and
 * matches the body with onRegex / offRegex; a body matching neither reads 'unknown'.
 *
 * Without softOffUrl the driver has no soft off (the host sends a hard off instead); without
 * queryUrl it is not queryable and the host waits for a person's confirmation, as for manual.
 */
import { Type } from '@sinclair/typebox';
import { createHttpClient, errorForStatus, type HttpClient, urlOrigin } from './http-client.ts';
import { LIMIT_PARAMS, DEFAULT_ATTEMPTS, resolveLimits, resolveTiming, type RetryParams, type Timing, type TimingParams } from './timing.ts';
import {
  DriverError,
  type DriverCapabilities,
  type DriverTarget,
  type PowerDriver,
  type Reading,
  type StepAck,
} from './types.ts';
import { checkBmcUrl } from './redact.ts';

export interface WebhookParams {
  onUrl: string;
  offUrl: string;
  softOffUrl?: string;
  queryUrl?: string;
  /** JavaScript regular expression source, matched against the query body. */
  onRegex?: string;
  offRegex?: string;
  /** Sent as `Authorization: Bearer <bearer>`. */
  bearer?: string;
  /** Basic auth; not together with bearer. */
  user?: string;
  password?: string;
  /** Method of the command requests (the query is always GET). Default POST. */
  method?: 'POST' | 'PUT' | 'GET';
  /** Accept a self-signed TLS certificate. */
  insecure?: boolean;
  timing?: TimingParams;
  retry?: RetryParams;
}

/** A webhook usually fronts a PDU or a script; it may apply a change after it answered. */
export const WEBHOOK_TIMING: Timing = {
  requestTimeoutMs: 15_000,
  commandBudgetMs: 30_000,
  settleMs: 15_000,
  stepTimeoutMs: 90_000,
  attempts: DEFAULT_ATTEMPTS,
  minIntervalMs: 0,
};

export interface WebhookDriverDeps {
  readonly http?: HttpClient;
  readonly requestTimeoutMs?: number;
}

const url = (description: string) => Type.String({ pattern: '^https?://', description });

const paramsSchema = Type.Object(
  {
    onUrl: url('URL that powers the node on'),
    offUrl: url('URL that powers the node off (hard)'),
    softOffUrl: Type.Optional(url('URL for a graceful shutdown; without it soft off is a hard off')),
    queryUrl: Type.Optional(url('URL whose GET body tells the power state; needs onRegex and offRegex')),
    onRegex: Type.Optional(Type.String({ minLength: 1 })),
    offRegex: Type.Optional(Type.String({ minLength: 1 })),
    bearer: Type.Optional(Type.String({ minLength: 1 })),
    user: Type.Optional(Type.String({ minLength: 1 })),
    password: Type.Optional(Type.String()),
    method: Type.Optional(Type.Union([Type.Literal('POST'), Type.Literal('PUT'), Type.Literal('GET')])),
    insecure: Type.Optional(Type.Boolean()),
    ...LIMIT_PARAMS,
  },
  { additionalProperties: false },
);

export function createWebhookDriver(deps: WebhookDriverDeps = {}): PowerDriver<WebhookParams> {
  const http = deps.http ?? createHttpClient({ requestTimeoutMs: deps.requestTimeoutMs });

  async function call(
    params: WebhookParams,
    method: string,
    target: string,
    signal: AbortSignal,
  ): Promise<string> {
    const what = `webhook ${method} ${redactUrl(target)}`;
    const res = await http.request({
      method,
      url: target,
      headers: authHeaders(params),
      insecure: params.insecure,
      timeoutMs: resolveTiming(WEBHOOK_TIMING, params.timing).requestTimeoutMs,
      signal,
      what,
    });
    if (res.status < 200 || res.status > 299) throw errorForStatus(res.status, what, excerpt(res.text));
    return res.text;
  }

  async function command(target: DriverTarget<WebhookParams>, urlParam: 'onUrl' | 'offUrl' | 'softOffUrl', signal: AbortSignal): Promise<StepAck> {
    const commandUrl = target.params[urlParam];
    if (commandUrl === undefined) throw new DriverError('unsupported', `webhook: no ${urlParam} configured`);
    await call(target.params, target.params.method ?? 'POST', commandUrl, signal);
    return {};
  }

  return {
    name: 'webhook',
    paramsSchema,
    secretParams: ['bearer', 'password'],
    validateParams: validateWebhookParams,
    capabilities: (params): DriverCapabilities => ({
      softOff: params.softOffUrl !== undefined,
      queryable: params.queryUrl !== undefined,
      ...resolveLimits(WEBHOOK_TIMING, params),
    }),
    defaultBmc: (params) => urlOrigin(params.onUrl),
    powerOn: (target, signal) => command(target, 'onUrl', signal),
    powerOff: (target, signal) => command(target, 'offUrl', signal),
    softOff: (target, signal) => command(target, 'softOffUrl', signal),
    async query(target, signal): Promise<Reading> {
      const { params } = target;
      if (params.queryUrl === undefined) throw new DriverError('unsupported', 'webhook: no queryUrl configured');
      const body = await call(params, 'GET', params.queryUrl, signal);
      return readBody(body, params);
    },
  };
}

/** Matches a query body. Both patterns matching is a configuration that cannot decide. */
export function readBody(body: string, params: Pick<WebhookParams, 'onRegex' | 'offRegex'>): Reading {
  const on = compile('onRegex', params.onRegex).test(body);
  const off = compile('offRegex', params.offRegex).test(body);
  if (on && off) {
    throw new DriverError('protocol', `webhook: both onRegex and offRegex match the query answer ${JSON.stringify(excerpt(body))}; make them exclusive`);
  }
  return on ? 'on' : off ? 'off' : 'unknown';
}

export function validateWebhookParams(params: WebhookParams): void {
  for (const key of ['onUrl', 'offUrl', 'softOffUrl', 'queryUrl'] as const) {
    const value = params[key];
    if (value !== undefined) checkBmcUrl(key, value, 'params.user and params.password, or params.bearer');
  }
  compile('onRegex', params.onRegex);
  compile('offRegex', params.offRegex);
  if (params.queryUrl !== undefined && (params.onRegex === undefined || params.offRegex === undefined)) {
    throw new DriverError('config', 'queryUrl needs both onRegex and offRegex to read the power state');
  }
  if (params.bearer !== undefined && params.user !== undefined) {
    throw new DriverError('config', 'give either bearer or user/password, not both');
  }
  if (params.password !== undefined && params.user === undefined) {
    throw new DriverError('config', 'password needs user');
  }
}

/** Compiles a regex param; a missing one never matches. */
function compile(key: string, source: string | undefined): RegExp {
  if (source === undefined) return /(?!)/;
  try {
    return new RegExp(source);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new DriverError('config', `${key}: not a valid regular expression (${reason})`);
  }
}

function authHeaders(params: WebhookParams): Record<string, string> {
  if (params.bearer !== undefined) return { authorization: `Bearer ${params.bearer}` };
  if (params.user !== undefined) {
    const basic = Buffer.from(`${params.user}:${params.password ?? ''}`, 'utf8').toString('base64');
    return { authorization: `Basic ${basic}` };
  }
  return {};
}

/** URL for messages: no userinfo, no query string (either may carry a token). */
function redactUrl(raw: string): string {
  try {
    const parsed = new URL(raw);
    return `${parsed.origin}${parsed.pathname}${parsed.search ? '?…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

function excerpt(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}
