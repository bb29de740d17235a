/**
 * HTTP for the HTTP-speaking drivers (redfish, webhook): undici fetch bounded by the caller's
 * AbortSignal and a per-request deadline, optional acceptance of self-signed TLS, and one
 * classification of failures into DriverError kinds so every driver retries the same things.
 *
 * `request` never throws for an HTTP status: drivers need to see a 401 (to log in again) or a
 * 404 (to rediscover a system). They call `errorForStatus` for statuses they do not handle.
 *
 * Redirects are followed only within the request's own origin (scheme, host, port), at most
 * MAX_REDIRECTS hops, with fetch's method rules. A redirect to another origin is a 'config'
 * error naming that origin, and nothing is sent there: the request carries the node's
 * credentials (Basic, X-Auth-Token, bearer), and an answer from another host is no reading of
 * this BMC.
 */
import { connect as tlsConnect } from 'node:tls';
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
  /**
   * Upper bound on the deadline of one request (from sending to the last body byte), whatever the
   * request asks for. Unset: each request's own `timeoutMs` (the node's timing), else 15 s.
   */
  readonly requestTimeoutMs?: number;
  /** Largest body read; a larger answer is a protocol error. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_BODY = 1024 * 1024;
/** Same-origin redirects followed for one request (fetch allows 20; a BMC needs one or two). */
export const MAX_REDIRECTS = 5;
/** How long the check "does this port speak TLS?" may take after a plain-HTTP request failed. */
const TLS_PROBE_TIMEOUT_MS = 2_000;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
/** Headers that describe a body; dropped with the body when a redirect turns a request into GET. */
const BODY_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-location'];

export function createHttpClient(options: HttpClientOptions = {}): HttpClient {
  const defaultTimeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const capMs = options.requestTimeoutMs ?? Infinity;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const verifying = new Agent();
  const trusting = new Agent({ connect: { rejectUnauthorized: false } });

  async function request(req: HttpRequest): Promise<HttpResponse> {
    if (req.signal.aborted) throw abortError(req.signal);
    const url = parseHttpUrl(req.url, req.what);
    const timeoutMs = Math.min(req.timeoutMs ?? defaultTimeoutMs, capMs);
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
      let current = url;
      let method = req.method;
      for (let hop = 0; ; hop++) {
        const res = await fetch(current, { method, headers, body, signal, dispatcher, redirect: 'manual' });
        const location = REDIRECT_STATUSES.has(res.status) ? res.headers.get('location') : null;
        if (location === null) {
          const text = await readBounded(res.body, maxBodyBytes, req.what);
          return { status: res.status, headers: res.headers, text };
        }
        await res.body?.cancel().catch(() => undefined);
        const next = redirectTarget(location, current, req.what);
        if (next.origin !== url.origin) {
          throw new DriverError(
            'config',
            `${req.what}: the server redirected (HTTP ${res.status}) to another origin, ${next.origin}; ` +
              `not followed, so no credential or reading crosses to it. If that is the BMC, use ${next.origin} in the URL`,
          );
        }
        if (hop >= MAX_REDIRECTS) {
          throw new DriverError('config', `${req.what}: more than ${MAX_REDIRECTS} redirects (last to ${next.pathname}); a redirect loop?`);
        }
        // fetch's rules: 303 turns anything but HEAD into GET; 301/302 turn POST into GET.
        if ((res.status === 303 && method !== 'GET' && method !== 'HEAD') || ((res.status === 301 || res.status === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          for (const name of BODY_HEADERS) delete headers[name];
        }
        current = next;
      }
    } catch (err) {
      if (req.signal.aborted) throw abortError(req.signal);
      if (deadline.aborted) {
        throw new DriverError('timeout', `${req.what}: no answer within ${timeoutMs} ms`, { cause: err });
      }
      if (err instanceof DriverError) throw err;
      if (url.protocol === 'http:' && looksLikeWrongProtocol(err) && (await speaksTls(url, signal))) {
        throw new DriverError(
          'config',
          `${req.what}: port ${url.port || '80'} of ${url.hostname} speaks TLS (HTTPS), but the URL says http://; use https://${url.host}`,
          { cause: err },
        );
      }
      throw classifyFetchError(err, req.what);
    }
  }

  async function close(): Promise<void> {
    await Promise.all([verifying.close(), trusting.close()]);
  }

  return { request, close };
}

/** The absolute URL a Location header points to; a Location that is no URL is a protocol error. */
function redirectTarget(location: string, from: URL, what: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new DriverError('protocol', `${what}: redirect to something that is not a URL`);
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new DriverError('config', `${what}: redirect to a ${next.protocol} URL; not followed`);
  }
  return next;
}

/**
 * A plain-HTTP request whose answer was no HTTP: the server closed the connection without a
 * byte (a TLS server given a plain request does that) or answered bytes the HTTP parser
 * rejects (a TLS alert record).
 */
function looksLikeWrongProtocol(err: unknown): boolean {
  const cause = innermostCause(err);
  const code = errorCode(cause) ?? '';
  const name = cause instanceof Error ? cause.name : '';
  return code === 'UND_ERR_SOCKET' || code.startsWith('HPE_') || name === 'HTTPParserError' || name === 'SocketError' || code === 'ECONNRESET';
}

/**
 * Whether the server at the URL's host and port completes (or refuses with a TLS alert) a TLS
 * handshake. Sends no HTTP request, so nothing of the node's credentials.
 */
async function speaksTls(url: URL, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  const port = Number(url.port || 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise<boolean>((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false, ...(isIpLiteral(host) ? {} : { servername: host }) });
    const done = (answer: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(answer);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(false), TLS_PROBE_TIMEOUT_MS);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('secureConnect', () => done(true));
    socket.once('error', (err: Error) => {
      // A TLS alert from the server (old ciphers, client certificate required) is TLS too;
      // "wrong version number" and resets mean the server answered something else.
      done(/alert/i.test(err.message) || /ALERT/.test(errorCode(err) ?? ''));
    });
  });
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
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
