/**
 * A small HTTP power controller for webhook driver tests: /power/on, /power/off, /power/soft
 * change the state, /power/status reports it (body format configurable). Checks bearer or
 * basic auth, can fail the next N requests with a status, and logs every request.
 *
 * Late mode, like a slow controller: `answerDelayMs` holds each command (on/off/soft) before
 * answering and carries it out even when the client has given up; `applyDelayMs` carries it
 * out that long after answering. `commands` records each command's arrival, answer and
 * application and whether its client still waited.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LateCommands } from './late-commands.ts';

export interface WebhookServerOptions {
  /** Required `Authorization` header value, e.g. "Bearer t0k" or "Basic ...". None when absent. */
  authorization?: string;
  initialPower?: 'on' | 'off';
  /** Body of /power/status for a state. Default `{"power":"<state>"}`. */
  statusBody?: (power: 'on' | 'off') => string;
  /** Hold each command this long before answering and applying it, whether or not its client still waits. */
  answerDelayMs?: number;
  /** Apply each accepted command this long after answering it. */
  applyDelayMs?: number;
}

/** One power command as the controller handled it (epoch ms). */
export interface WebhookCommand {
  path: string;
  arrivedAt: number;
  answeredAt: number;
  /** null while pending or when the command was refused. */
  appliedAt: number | null;
  status: number;
  /** Whether the client still waited for the answer when the controller answered. */
  clientConnected: boolean;
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
  /** Every power command (not the status queries), in order of answer. */
  readonly commands: WebhookCommand[];
  /** Resolves once at least `count` commands have been applied. */
  whenApplied(count: number): Promise<void>;
  /** Resolves once at least `count` commands have arrived (before they are held or answered). */
  whenReceived(count: number): Promise<void>;
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

  const commands: WebhookCommand[] = [];
  const late = new LateCommands(Date.now);
  const answerDelayMs = options.answerDelayMs ?? 0;
  const applyDelayMs = options.applyDelayMs ?? 0;
  const COMMANDS: Record<string, 'on' | 'off'> = { '/power/on': 'on', '/power/off': 'off', '/power/soft': 'off' };

  /** The answer, and for an accepted command the change it makes. */
  function answer(req: IncomingMessage): { status: number; body: string; apply?: () => void } {
    if (options.authorization !== undefined && req.headers.authorization !== options.authorization) {
      return { status: 401, body: 'unauthorized' };
    }
    if (failures.count > 0) {
      failures.count--;
      return { status: failures.status, body: 'controller failure' };
    }
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/power/status' && req.method === 'GET') return { status: 200, body: fixedBody ?? statusBody(state.power) };
    const to = COMMANDS[path];
    if (to === undefined) return { status: 404, body: 'no such endpoint' };
    return { status: 200, body: 'ok', apply: () => (state.power = to) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = Date.now();
    let clientGone = false;
    res.on('close', () => {
      if (!res.writableFinished) clientGone = true;
    });
    req.resume();
    await new Promise<void>((resolve) => req.on('end', resolve));
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const isCommand = COMMANDS[path] !== undefined;
    if (isCommand) late.receive();
    if (isCommand && answerDelayMs > 0) await late.delay(answerDelayMs);
    const { status, body, apply } = answer(req);
    log.push({ method: req.method ?? 'GET', path, authorization: req.headers.authorization, status, at: Date.now() });
    if (isCommand) {
      const record: WebhookCommand = { path, arrivedAt, answeredAt: Date.now(), appliedAt: null, status, clientConnected: !clientGone };
      commands.push(record);
      if (apply) late.apply(record, apply, applyDelayMs);
    }
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    log,
    commands,
    whenApplied: (count) => late.whenApplied(count),
    whenReceived: (count) => late.whenReceived(count),
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
      late.cancel();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
