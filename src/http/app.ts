/**
 * The Fastify app: every route, the one error handler, auth, OpenAPI at /docs, metrics and the
 * stream. Built from its dependencies and never listening by itself (server.ts listens; tests
 * inject).
 */
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import type { Kysely } from 'kysely';
import type { Host } from '../actors/types.ts';
import type { Config } from '../config.ts';
import type { Database } from '../db/index.ts';
import { TokenAuthenticator, installAuth, installOriginChecks } from './auth.ts';
import { installErrorHandling, sendError, toAppError } from './error-handler.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { loggerOptions, type LogOptions } from './logging.ts';
import { chartRoutes } from './routes/chart.ts';
import { healthRoutes } from './routes/health.ts';
import { historyRoutes } from './routes/history.ts';
import { nodeRoutes } from './routes/nodes.ts';
import { powerRoutes } from './routes/power.ts';
import { streamRoutes, type StreamOptions } from './routes/stream.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { staticUiRoutes } from './static-ui.ts';

/** A WebSocket upgrade request (the plugin's request.ws is unset when an earlier hook refused it). */
const isUpgrade = (request: FastifyRequest): boolean =>
  request.headers.upgrade !== undefined && /\bupgrade\b/i.test(request.headers.connection ?? '');

export const BODY_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_UI_ROOT = fileURLToPath(new URL('./ui/', import.meta.url));

/**
 * The Content-Security-Policy of every reply (UI, /docs, API). The UI and Swagger UI load their
 * scripts, styles, images and fonts from this server only and call it (fetch, the WebSocket:
 * CSP3 `'self'` covers ws:/wss: to the same host), with no inline script or style markup (the UI
 * sets sizes through element.style, which CSP allows). No page may frame it or post a form
 * elsewhere. No upgrade-insecure-requests: the server is often reached over plain HTTP (an IP, a
 * lab network), where it would break every subresource. Swagger UI renders fully; the one thing
 * it is refused is the `<style>` inside its bundled (unused) logo SVG.
 */
export const CSP_DIRECTIVES = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'"],
};

export interface AppDeps {
  host: Host;
  db: Kysely<Database>;
  config: Config;
  /** true/false, or pino options (level etc.); secrets are always redacted. Default: off. */
  logger?: boolean | LogOptions;
  auth?: { openReadOnLocalhost?: boolean };
  /** The metrics the host was given, so both report into one registry. Default: a new set. */
  metrics?: Metrics;
  stream?: StreamOptions;
  /** Folder of the web UI (default src/http/ui/). */
  uiRoot?: string;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const options: FastifyServerOptions = {
    bodyLimit: BODY_LIMIT_BYTES,
    // Return every 4xx for bad input, never strip unknown fields silently.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    routerOptions: { maxParamLength: 500 },
    trustProxy: false,
    // Router-level refusals (bad URL encoding, a too-long param) go through the one error format too.
    frameworkErrors: (err, _request, reply) => {
      void sendError(reply, toAppError(err));
    },
  };
  if (deps.logger !== undefined && deps.logger !== false) {
    options.logger = loggerOptions(deps.logger === true ? {} : deps.logger);
  }
  const app = Fastify(options);
  const metrics = deps.metrics ?? createMetrics();
  metrics.setNodeSource(() => deps.host.listNodes());
  const authenticator = new TokenAuthenticator(deps.db);

  // JSON only: no text/plain bodies (415 instead of a confusing schema error).
  app.removeContentTypeParser('text/plain');
  installErrorHandling(app);
  // Headers first, so refusals carry them too; then Host/Origin, before auth and any route.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // TLS is terminated in front of the service (if at all); HSTS is that proxy's to send.
    strictTransportSecurity: false,
  });
  installOriginChecks(app, {
    listenHost: deps.config.host,
    allowedHosts: deps.config.allowedHosts,
    allowedOrigins: deps.config.allowedOrigins,
  });
  installAuth(app, authenticator, deps.auth ?? {});

  app.addHook('onResponse', async (request, reply) => {
    // A refused WebSocket upgrade (403 origin, 401, 404…) is answered on the raw socket, which
    // nothing reads or closes after that: close it, or it lingers and holds up the server's close.
    if (reply.statusCode !== 101 && isUpgrade(request)) {
      const socket = request.raw.socket as Socket | undefined;
      // (light-my-request's fake socket has no destroySoon)
      if (socket !== undefined && !socket.destroyed && typeof socket.destroySoon === 'function') socket.destroySoon();
    }
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // The docs are public: they describe the API and hold no data.
  app.addHook('onRoute', (route) => {
    if (route.url === '/docs' || route.url.startsWith('/docs/')) route.config = { ...route.config, auth: 'public' };
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Switchboard',
        version: '1',
        description: 'Serialises power actions for fleets of bare-metal servers. Errors are {error: {code, message, details?}}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });

  await app.register(async (api) => {
    nodeRoutes(api, { host: deps.host });
    powerRoutes(api, { host: deps.host, metrics });
    historyRoutes(api, { host: deps.host, db: deps.db });
    chartRoutes(api);
    tokenRoutes(api, { db: deps.db, authenticator });
    healthRoutes(api, { host: deps.host, db: deps.db, metrics });
    streamRoutes(api, { host: deps.host, metrics, authenticator, options: deps.stream ?? {} });
    await staticUiRoutes(api, deps.uiRoot ?? DEFAULT_UI_ROOT);
  });
  return app;
}
