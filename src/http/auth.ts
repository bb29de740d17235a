/**
 * Bearer-token authentication and role checks. Tokens are looked up by their sha256 in the
 * tokens repository; results are cached for at most CACHE_TTL_MS, and a revocation through this
 * app drops the cache entry at once (elsewhere it takes effect within the TTL).
 */
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
