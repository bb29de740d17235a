/**
 * A small HTTP power controller for webhook driver tests: /power/on, /power/off, /power/soft
 * change the state, /power/status reports it (body format configurable). Checks bearer or
 * basic auth, can fail the next N requests with a status, and logs every request.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServerOptions {
  /** Required `Authorization` header value, e.g. "Bearer t0k" or "Basic ...". None when absent. */
  authorization?: string;
  initialPower?: 'on' | 'off';
  /** Body of /power/status for a state. Default `{"power":"<state>"}`. */
  statusBody?: (power: 'on' | 'off') => string;
}

export interface WebhookRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  status: number;
  at: number;
}

export interface WebhookServer {
  readonly url: string;
  readonly log: WebhookRequest[];
  power: 'on' | 'off';
  /** The next `count` requests answer `status` with a short text body. */
  failNext(count: number, status: number): void;
  /** Overrides the status body (null restores the default). */
  setStatusBody(body: string | null): void;
  close(): Promise<void>;
}

export async function startWebhookServer(options: WebhookServerOptions = {}): Promise<WebhookServer> {
  const log: WebhookRequest[] = [];
  let failures = { count: 0, status: 500 };
  let fixedBody: string | null = null;
  const state = { power: options.initialPower ?? 'off' } as { power: 'on' | 'off' };
  const statusBody = options.statusBody ?? ((p: 'on' | 'off') => JSON.stringify({ power: p }));

  function answer(req: IncomingMessage): { status: number; body: string } {
    if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
      return { status: 401, body: 'unauthorized' };
    }
    if (failures.count > 0) {
      failures.count--;
      return { status: failures.status, body: 'controller failure' };
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/power/status' && req.method === 'GET') return { status: 200, body: fixedBody ?? statusBody(state.power) };
    if (path === '/power/on') state.power = 'on';
    else if (path === '/power/off' || path === '/power/soft') state.power = 'off';
    else return { status: 404, body: 'no such endpoint' };
    return { status: 200, body: 'ok' };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const { status, body } = answer(req);
      log.push({
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://x').pathname,
        authorization: req.headers.authorization,
        status,
        at: Date.now(),
      });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    get power() {
      return state.power;
    },
    set power(value) {
      state.power = value;
    },
    failNext(count, status) {
      failures = { count, status };
    },
    setStatusBody(body) {
      fixedBody = body;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
