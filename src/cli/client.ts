/**
 * The CLI's HTTP client: JSON over fetch with the bearer token. A non-2xx reply becomes an
 * ApiError carrying the server's code and message; an unreachable server a CliError saying how
 * to reach one.
 */
import { ApiError, CliError } from './errors.ts';

export interface ApiReply<T> {
  status: number;
  body: T;
}

const REQUEST_TIMEOUT_MS = 60_000;

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string | undefined,
  ) {}

  /** Sends a request; resolves with any reply, throws only when there is no reply. */
  async send<T>(method: string, path: string, body?: unknown): Promise<ApiReply<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token !== undefined) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new CliError(unreachableMessage(this.baseUrl, err));
    }
    const text = await res.text();
    let parsed: unknown = null;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CliError(`${this.baseUrl} answered ${method} ${path} with HTTP ${res.status} that is not JSON; is --url (or SWITCHBOARD_URL) pointing at a Switchboard server?`);
      }
    }
    return { status: res.status, body: parsed as T };
  }

  /** Sends a request and throws an ApiError unless the reply is 2xx. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await this.send<T>(method, path, body);
    if (reply.status >= 200 && reply.status < 300) return reply.body;
    throw apiErrorOf(reply);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
}

export interface ErrorPayload {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The `error` of an API error body, or a generic one for anything else. */
export function errorPayloadOf(status: number, body: unknown): ErrorPayload {
  const error = (body as { error?: Partial<ErrorPayload> } | null)?.error;
  if (error !== undefined && typeof error.code === 'string' && typeof error.message === 'string') {
    return { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) };
  }
  return { code: `http_${status}`, message: `HTTP ${status}` };
}

export function apiErrorOf(reply: ApiReply<unknown>): ApiError {
  const e = errorPayloadOf(reply.status, reply.body);
  return new ApiError(reply.status, e.code, e.message, e.details);
}

function unreachableMessage(baseUrl: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const name = (err as { name?: string }).name;
  const why = name === 'TimeoutError' ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` : cause?.code ?? cause?.message ?? String(err);
  return `cannot reach the Switchboard server at ${baseUrl} (${why}). Start one with "switchboard serve", or point --url (or SWITCHBOARD_URL) at a running server.`;
}
