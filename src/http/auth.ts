/**
 * Bearer-token authentication and role checks. Tokens are looked up by their sha256 in the
 * tokens repository; results are cached for at most CACHE_TTL_MS, and a revocation through this
 * app drops the cache entry at once (elsewhere it takes effect within the TTL).
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { AppError } from '../errors.ts';
import { findTokenByHash, hashToken, touchToken, type Database, type TokenRecord, type TokenRole } from '../db/index.ts';

export const CACHE_TTL_MS = 1_000;
const CACHE_MAX_ENTRIES = 10_000;
const TOUCH_EVERY_MS = 60_000;
/** Printable ASCII without spaces; anything else cannot be a token of ours. */
const TOKEN_SHAPE = /^[\x21-\x7e]{1,512}$/;

const RANK: Record<TokenRole, number> = { viewer: 1, operator: 2, admin: 3 };

/** The role a route needs, or 'public' for none. Set per route in `config.auth`. */
export type RouteAccess = TokenRole | 'public';

export interface Principal {
  tokenId: string | null;
  name: string;
  role: TokenRole;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAccess;
    /** The route also takes the token as `?token=` (the WebSocket). */
    tokenInQuery?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface AuthOptions {
  /** Demo mode: viewer access without a token from the loopback address. */
  openReadOnLocalhost?: boolean;
  now?: () => number;
}

interface CacheEntry {
  token: TokenRecord | undefined;
  expires: number;
}

export class TokenAuthenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly touched = new Map<string, number>();
  private readonly revokeListeners = new Set<(tokenId: string) => void>();
  private readonly now: () => number;

  constructor(private readonly db: Kysely<Database>, now?: () => number) {
    this.now = now ?? Date.now;
  }

  /** The live token for this secret, or undefined. */
  async lookup(secret: string): Promise<TokenRecord | undefined> {
    if (!TOKEN_SHAPE.test(secret)) return undefined;
    const hash = hashToken(secret);
    const at = this.now();
    const cached = this.cache.get(hash);
    if (cached !== undefined && cached.expires > at) return cached.token;
    let token: TokenRecord | undefined;
    try {
      token = await findTokenByHash(this.db, hash);
    } catch (err) {
      throw new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    // Bounded: a flood of random tokens cannot grow memory without limit.
    if (this.cache.size >= CACHE_MAX_ENTRIES) this.cache.clear();
    this.cache.set(hash, { token, expires: at + CACHE_TTL_MS });
    if (token !== undefined) this.touch(token.id, at);
    return token;
  }

  /** Forget a revoked token now and tell listeners (open streams close). */
  revoked(tokenId: string): void {
    for (const [hash, entry] of this.cache) if (entry.token?.id === tokenId) this.cache.delete(hash);
    for (const listener of this.revokeListeners) listener(tokenId);
  }

  onRevoke(listener: (tokenId: string) => void): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  private touch(tokenId: string, at: number): void {
    const last = this.touched.get(tokenId);
    if (last !== undefined && at - last < TOUCH_EVERY_MS) return;
    this.touched.set(tokenId, at);
    touchToken(this.db, tokenId, new Date(at)).catch(() => undefined);
  }
}

export function hasRole(principal: Principal, needed: TokenRole): boolean {
  return RANK[principal.role] >= RANK[needed];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** The bearer token of a request: the Authorization header, or `?token=` (browsers cannot set WebSocket headers). */
export function bearerOf(request: FastifyRequest, allowQuery: boolean): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && header !== '') {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    // A malformed header is a wrong token, not a missing one.
    return match?.[1] ?? '';
  }
  if (allowQuery) {
    const query = request.query as Record<string, unknown> | undefined;
    const token = query?.token;
    if (typeof token === 'string') return token;
  }
  return undefined;
}

/** Registers the onRequest hook that authenticates every routed request and checks its role. */
export function installAuth(app: FastifyInstance, authenticator: TokenAuthenticator, options: AuthOptions): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (request.is404) return;
    const access: RouteAccess = request.routeOptions.config.auth ?? 'viewer';
    if (access === 'public') return;
    const allowQuery = request.routeOptions.config.tokenInQuery === true;
    const secret = bearerOf(request, allowQuery);
    if (secret === undefined) {
      if (options.openReadOnLocalhost === true && access === 'viewer' && LOOPBACK.has(request.ip)) {
        request.principal = { tokenId: null, name: 'localhost (open read)', role: 'viewer' };
        return;
      }
      throw new AppError('unauthorized', 'A bearer token is required: send "Authorization: Bearer <token>".');
    }
    const token = await authenticator.lookup(secret);
    if (token === undefined) throw new AppError('unauthorized', 'The bearer token is not valid (unknown or revoked).');
    const principal: Principal = { tokenId: token.id, name: token.name, role: token.role };
    if (!hasRole(principal, access)) {
      throw new AppError('forbidden', `This needs the ${access} role; your token has the ${token.role} role.`, {
        needed: access,
        role: token.role,
      });
    }
    request.principal = principal;
  });
}

/**
 * Which Host names the server answers to and which web origins may call it: the guard against
 * DNS rebinding (a page of attacker.example whose name now resolves to this server) and against
 * cross-site requests and WebSockets (a page of another site calling the API from a browser that
 * can reach it, e.g. demo mode's open read from localhost).
 */
export interface OriginPolicy {
  /** The configured listen address (HOST): always an allowed Host name. */
  listenHost: string;
  /** Extra Host names: `name` (any port) or `name:port`, lower-case (SWITCHBOARD_ALLOWED_HOSTS). */
  allowedHosts: readonly string[];
  /** Extra origins, as URL.origin gives them (SWITCHBOARD_ALLOWED_ORIGINS). */
  allowedOrigins: readonly string[];
}

/** Names that are this machine wherever it is reached from; their port is not checked. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** `name` and `port` of a Host header (name lower-case, IPv6 in brackets, no trailing dot). */
function splitHost(value: string): { name: string; port: string | undefined } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(value.trim().toLowerCase());
  if (match === null) return undefined;
  return { name: match[1]!.replace(/\.$/, ''), port: match[2] };
}

/** An IP address cannot be rebound: only a DNS name can be made to point at this server. */
function isIpLiteral(name: string): boolean {
  if (name.startsWith('[')) return isIP(name.slice(1, -1)) === 6;
  return isIP(name) === 4;
}

function listenName(host: string): string {
  const name = host.toLowerCase();
  return isIP(name) === 6 ? `[${name}]` : name;
}

/** Whether a Host header names this server under the policy. */
export function hostAllowed(policy: OriginPolicy, value: string): boolean {
  const host = splitHost(value);
  if (host === undefined) return false;
  if (LOOPBACK_NAMES.has(host.name) || isIpLiteral(host.name) || host.name === listenName(policy.listenHost)) return true;
  const withPort = host.port === undefined ? host.name : `${host.name}:${host.port}`;
  return policy.allowedHosts.some((entry) => entry === host.name || entry === withPort);
}

/**
 * Whether a browser's Origin may call: the server's own origin (the page was served under the
 * Host this request names; the scheme is not compared, so a TLS-terminating proxy in front
 * still counts as the same origin) or a configured one. `null` (sandboxed frames, file://) never.
 */
export function originAllowed(policy: OriginPolicy, origin: string, hostHeader: string | undefined): boolean {
  if (!URL.canParse(origin)) return false;
  const url = new URL(origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  if (policy.allowedOrigins.includes(url.origin)) return true;
  if (hostHeader === undefined) return false;
  const host = splitHost(hostHeader);
  if (host === undefined) return false;
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  return url.hostname === host.name && (url.port || defaultPort) === (host.port ?? defaultPort);
}

const shown = (value: string) => value.slice(0, 255);

/**
 * Registers the onRequest hook that refuses, before anything else runs (auth, the WebSocket
 * upgrade, a route), a request whose Host is not a name of this server, and a browser request
 * whose Origin is another site's. Requests without Origin (curl, the CLI) pass the Origin check.
 */
export function installOriginChecks(app: FastifyInstance, policy: OriginPolicy): void {
  app.addHook('onRequest', async (request) => {
    const host = request.headers.host;
    if (host !== undefined && !hostAllowed(policy, host)) {
      throw new AppError('forbidden_host', undefined, { host: shown(host), variable: 'SWITCHBOARD_ALLOWED_HOSTS' });
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !originAllowed(policy, origin, host)) {
      throw new AppError('forbidden_origin', undefined, { origin: shown(origin), variable: 'SWITCHBOARD_ALLOWED_ORIGINS' });
    }
  });
}
