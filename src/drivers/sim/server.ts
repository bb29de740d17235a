/**
 * Serves a SimBmcFleet over HTTP JSON on loopback, so the simulated BMCs can live in their own
 * process and outlive a crash of Switchboard. Nothing is persisted: power state lasts as long
 * as this process.
 *
 * A command ends when it is answered, when the client cancels it (POST /cancel), or when its
 * connection closes — so a Switchboard killed mid-command does not leave a command "running"
 * forever, and the overlap detector sees the BMC's side of the story.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DriverError } from '../types.ts';
import { isSimPower, toWireError, type SimCommandRequest, type SimFault } from './backend.ts';
import { SimBmcFleet, UnknownSimNodeError } from './bmc-fleet.ts';

export interface SimServerOptions {
  readonly fleet?: SimBmcFleet;
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Loopback only: 127.0.0.1 (default), ::1 or localhost. */
  readonly host?: string;
}

export interface SimServer {
  readonly url: string;
  readonly fleet: SimBmcFleet;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY = 64 * 1024;
/** Cancels that arrived before their command; remembered so the command never starts. */
const MAX_TOMBSTONES = 10_000;

class BadRequest extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function startSimServer(options: SimServerOptions = {}): Promise<SimServer> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) throw new RangeError(`sim server listens on loopback only, not "${host}"`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`port must be 0..65535, got ${port}`);
  const fleet = options.fleet ?? new SimBmcFleet();
  const running = new Map<string, AbortController>();
  const tombstones = new Set<string>();

  const cancel = (id: string, why: string): boolean => {
    const controller = running.get(id);
    if (controller) {
      controller.abort(new Error(why));
      return true;
    }
    if (tombstones.size >= MAX_TOMBSTONES) {
      const oldest = tombstones.values().next().value;
      if (oldest !== undefined) tombstones.delete(oldest);
    }
    tombstones.add(id);
    return false;
  };

  async function command(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const id = body.id;
    if (typeof id !== 'string' || id.length === 0 || id.length > 100) throw new BadRequest(400, 'id must be a string of 1..100 characters');
    if (tombstones.delete(id)) {
      send(res, 422, { error: { kind: 'aborted', message: 'command cancelled before it started' } });
      return;
    }
    if (running.has(id)) throw new BadRequest(409, `command ${id} is already running`);
    const controller = new AbortController();
    running.set(id, controller);
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('connection closed'));
    });
    // The client may have gone while we read its body; then the command never starts.
    if (req.socket.destroyed) controller.abort(new Error('connection closed'));
    const request = { nodeId: body.nodeId, bmc: body.bmc, kind: body.kind, params: body.params } as SimCommandRequest;
    try {
      const reply = await fleet.command(request, controller.signal);
      send(res, 200, reply);
    } catch (err) {
      send(res, 422, { error: toWireError(err) });
    } finally {
      running.delete(id);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const key = `${req.method ?? 'GET'} ${url.pathname}`;
    switch (key) {
      case 'POST /command':
        return command(req, res);
      case 'POST /cancel': {
        const { id } = await readJson(req);
        if (typeof id !== 'string') throw new BadRequest(400, 'id must be a string');
        return send(res, 200, { cancelled: cancel(id, 'cancelled by client') });
      }
      case 'POST /nodes': {
        const { nodeId, bmc, params } = await readJson(req);
        if (bmc !== undefined && typeof bmc !== 'string') throw new BadRequest(400, 'bmc must be a string');
        fleet.ensureNode(stringField(nodeId, 'nodeId'), { bmc, params });
        return send(res, 200, { power: fleet.power(nodeId as string) });
      }
      case 'POST /button': {
        const { nodeId, power } = await readJson(req);
        if (!isSimPower(power)) throw new BadRequest(400, 'power must be "on" or "off"');
        fleet.pressButton(stringField(nodeId, 'nodeId'), power);
        return send(res, 200, { power });
      }
      case 'POST /fault': {
        const { nodeId, ...fault } = await readJson(req);
        fleet.setFault(stringField(nodeId, 'nodeId'), fault as SimFault);
        return send(res, 200, { ok: true });
      }
      case 'GET /power': {
        const node = url.searchParams.get('node');
        return send(res, 200, node === null ? fleet.powers() : { power: fleet.power(node) ?? null });
      }
      case 'GET /history':
        return send(res, 200, fleet.history(stringField(url.searchParams.get('node'), 'node')));
      case 'GET /overlaps':
        return send(res, 200, fleet.overlaps());
      case 'GET /stats':
        return send(res, 200, fleet.stats());
      case 'GET /healthz':
        return send(res, 200, { ok: true });
      default:
        throw new BadRequest(404, `no route ${key}`);
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = err instanceof BadRequest ? err.status : err instanceof UnknownSimNodeError ? 404 : err instanceof DriverError || err instanceof TypeError || err instanceof RangeError ? 400 : 500;
      const message = err instanceof Error ? err.message : String(err);
      send(res, status, { error: { kind: err instanceof DriverError ? err.kind : 'config', message } });
    });
  });
  server.keepAliveTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${shownHost}:${address.port}`,
    fleet,
    close: async () => {
      for (const id of running.keys()) cancel(id, 'sim server closing');
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function stringField(x: unknown, name: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new BadRequest(400, `${name} must be a non-empty string`);
  return x;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY) throw new BadRequest(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(buf);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest(400, 'body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest(400, 'body must be a JSON object');
  return body as Record<string, unknown>;
}
