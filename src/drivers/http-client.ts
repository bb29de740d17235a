/**
 * HTTP for the HTTP-speaking drivers (redfish, webhook): undici fetch bounded by the caller's
 * AbortSignal and a per-request deadline, optional acceptance of self-signed TLS, and one
 * classification of failures into DriverError kinds so every driver retries the same things.
 *
 * `request` never throws for an HTTP status: drivers need to see a 401 (to log in again) or a
 * 404 (to rediscover a system). They call `errorForStatus` for statuses they do not handle.
 */
import { Agent, fetch, type Dispatcher } from 'undici';
import { DriverError, abortError } from './types.ts';

export interface HttpRequest {
  readonly method: string;
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON with a JSON content type. */
  readonly json?: unknown;
  /** Sent as is; ignored when `json` is given. */
  readonly body?: string;
  /** Accept any TLS certificate (BMCs with self-signed certificates). */
  readonly insecure?: boolean;
  readonly signal: AbortSignal;
  /** Overrides the client's per-request deadline. */
  readonly timeoutMs?: number;
  /** Names the request in error messages, e.g. "redfish GET /redfish/v1/Systems". */
  readonly what: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
}

export interface HttpClient {
  request(req: HttpRequest): Promise<HttpResponse>;
  /** Closes pooled connections. */
  close(): Promise<void>;
}

export interface HttpClientOptions {
  /** Deadline of one request, from sending to the last body byte. Default 15 s. */
  readonly requestTimeoutMs?: number;
  /** Largest body read; a larger answer is a protocol error. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BODY = 1024 * 1024;

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const defaultTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const verifying = new Agent();
  const trusting = new Agent({ connect: { rejectUnauthorized: false } });

  async function request(req: HttpRequest): Promise<HttpResponse> {
    if (req.signal.aborted) throw abortError(req.signal);
    const url = parseHttpUrl(req.url, req.what);
    const timeoutMs = req.timeoutMs ?? defaultTimeoutMs;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = AbortSignal.any([req.signal, deadline]);
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined = req.body;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers['content-type'] = 'application/json';
    }
    const dispatcher: Dispatcher = req.insecure ? trusting : verifying;
    try {
      const res = await fetch(url, { method: req.method, headers, body, signal, dispatcher });
      const text = await readBounded(res.body, maxBodyBytes, req.what);
      return { status: res.status, headers: res.headers, text };
    } catch (err) {
      if (req.signal.aborted) throw abortError(req.signal);
      if (deadline.aborted) {
        throw new DriverError('timeout', `${req.what}: no answer within ${timeoutMs} ms`, { cause: err });
      }
      if (err instanceof DriverError) throw err;
      throw classifyFetchError(err, req.what);
    }
  }

  async function close(): Promise<void> {
    await Promise.all([verifying.close(), trusting.close()]);
  }

  return { request, close };
}

function parseHttpUrl(raw: string, what: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DriverError('config', `${what}: "${raw}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DriverError('config', `${what}: URL must be http or https, got "${url.protocol}"`);
  }
  return url;
}

async function readBounded(
  body: AsyncIterable<Uint8Array> | null,
  maxBytes: number,
  what: string,
): Promise<string> {
  if (!body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new DriverError('protocol', `${what}: answer larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const TLS_TRUST_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Maps a fetch failure (no HTTP status) to a DriverError. */
export function classifyFetchError(err: unknown, what: string): DriverError {
  const cause = innermostCause(err);
  const code = errorCode(cause) ?? errorCode(err);
  const message = cause instanceof Error ? cause.message : String(cause);
  if (code && TLS_TRUST_CODES.has(code)) {
    return new DriverError(
      'config',
      `${what}: TLS certificate not trusted (${code}); set "insecure": true to accept a self-signed BMC certificate`,
      { cause: err },
    );
  }
  if (code?.startsWith('ERR_SSL_') || code === 'EPROTO') {
    return new DriverError('config', `${what}: TLS handshake failed (${message}); does the URL's scheme match the port?`, {
      cause: err,
    });
  }
  if (code && TIMEOUT_CODES.has(code)) {
    return new DriverError('timeout', `${what}: ${code} (${message})`, { cause: err });
  }
  return new DriverError('unreachable', `${what}: ${code ?? 'connection failed'} (${message})`, { cause: err });
}

function innermostCause(err: unknown): unknown {
  let current = err;
  for (let depth = 0; depth < 5; depth++) {
    if (current instanceof Error && current.cause !== undefined) current = current.cause;
    else break;
  }
  return current;
}

function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** The DriverError for an HTTP status the caller does not handle itself. */
export function errorForStatus(status: number, what: string, detail?: string): DriverError {
  const text = `${what}: HTTP ${status}${detail ? ` (${detail})` : ''}`;
  if (status === 401 || status === 403) return new DriverError('auth', `${text}; check user and password/token`);
  if (status === 404) return new DriverError('config', `${text}; check the URL / system id`);
  if (status === 405 || status === 501) return new DriverError('unsupported', text);
  if (status === 408) return new DriverError('timeout', text);
  if (status === 409 || status === 429 || status === 503) return new DriverError('busy', text);
  if (status === 502 || status === 504) return new DriverError('unreachable', text);
  if (status >= 400 && status < 500) return new DriverError('config', text);
  return new DriverError('protocol', text);
}

/** Parses a JSON body, or fails with a retryable 'protocol' error naming the request. */
export function parseJson(res: HttpResponse, what: string): unknown {
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    const excerpt = res.text.length > 80 ? `${res.text.slice(0, 80)}…` : res.text;
    throw new DriverError('protocol', `${what}: answer is not JSON: ${JSON.stringify(excerpt)}`);
  }
}

/** A URL's origin (scheme, host, port), the BMC key of HTTP drivers; the text itself if it is no URL. */
export function urlOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
