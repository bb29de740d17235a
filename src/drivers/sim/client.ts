/**
 * Talks to a sim BMC process (server.ts) over HTTP. Implements the same backend as the
 * in-process fleet, plus the fleet's test controls as async calls.
 *
 * When a command is abandoned (abort, deadline, broken connection) the client tells the
 * server to end it with POST /cancel and waits for the answer before it rejects. Only then
 * does the caller's next command reach the server strictly after this one ended, so the
 * server's overlap detector sees what the caller really did. If the client process dies
 * instead, the server ends the command when the connection drops.
 */
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { classifyFetchError } from '../http-client.ts';
import { DriverError, abortError } from '../types.ts';
import { fromWireError, type SimBmcBackend, type SimCommandRequest, type SimFault, type SimPower, type SimReply } from './backend.ts';
import type { SimStats } from './bmc-fleet.ts';
import type { CommandRecord, OverlapReport } from './overlap-detector.ts';

export interface SimBmcClientOptions {
  /** Longest a command may take before the client gives up on its own; default 10 min (the host's deadline normally comes first). */
  readonly commandTimeoutMs?: number;
  /** How long to wait for the server to confirm a cancel; default 2 s. */
  readonly cancelTimeoutMs?: number;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

const CONTROL_TIMEOUT_MS = 30_000;

export class SimBmcClient implements SimBmcBackend {
  private readonly base: string;
  // undici's request directly, not fetch: a sim over HTTP is used for load tests too.
  private readonly agent = new Agent({ keepAliveTimeout: 30_000 });
  private readonly commandTimeoutMs: number;
  private readonly cancelTimeoutMs: number;

  constructor(url: string, options: SimBmcClientOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new DriverError('config', `sim BMC url "${url}" is not a valid URL`);
    }
    if (parsed.protocol !== 'http:') throw new DriverError('config', `sim BMC url must be http://, got "${url}"`);
    this.base = parsed.origin;
    this.commandTimeoutMs = options.commandTimeoutMs ?? 600_000;
    this.cancelTimeoutMs = options.cancelTimeoutMs ?? 2_000;
  }

  async command(req: SimCommandRequest, signal?: AbortSignal): Promise<SimReply> {
    const id = randomUUID();
    const what = `sim BMC ${req.kind} ${req.nodeId}`;
    let answer: Answer;
    try {
      answer = await this.send('POST', '/command', { id, ...req }, what, this.commandTimeoutMs, signal);
    } catch (err) {
      await this.cancel(id);
      if (signal?.aborted) throw abortError(signal);
      throw err;
    }
    const { status, body } = answer;
    if (status === 200 && (body.power === 'on' || body.power === 'off')) return { power: body.power };
    if (body.error !== undefined) throw fromWireError(body.error);
    throw new DriverError('protocol', `${what}: unexpected HTTP ${status} ${JSON.stringify(body).slice(0, 200)}`);
  }

  /** Makes sure the server knows the node (with its params' initial power). */
  async ensureNode(nodeId: string, options: { bmc?: string; params?: unknown } = {}): Promise<void> {
    await this.control('POST', '/nodes', { nodeId, ...options });
  }

  async pressButton(nodeId: string, power: SimPower): Promise<void> {
    await this.control('POST', '/button', { nodeId, power });
  }

  async setFault(nodeId: string, fault: SimFault): Promise<void> {
    await this.control('POST', '/fault', { nodeId, ...fault });
  }

  async power(nodeId: string): Promise<SimPower | undefined> {
    const body = (await this.control('GET', `/power?node=${encodeURIComponent(nodeId)}`)) as { power?: SimPower | null };
    return body.power ?? undefined;
  }

  async powers(): Promise<Record<string, SimPower>> {
    return (await this.control('GET', '/power')) as Record<string, SimPower>;
  }

  async history(nodeId: string): Promise<CommandRecord[]> {
    return (await this.control('GET', `/history?node=${encodeURIComponent(nodeId)}`)) as CommandRecord[];
  }

  async overlaps(): Promise<OverlapReport> {
    return (await this.control('GET', '/overlaps')) as OverlapReport;
  }

  async stats(): Promise<SimStats> {
    return (await this.control('GET', '/stats')) as SimStats;
  }

  async close(): Promise<void> {
    await this.agent.destroy();
  }

  /** Best effort: if the server cannot be reached, it ends the command when the connection drops. */
  private async cancel(id: string): Promise<void> {
    try {
      await this.send('POST', '/cancel', { id }, 'sim BMC cancel', this.cancelTimeoutMs);
    } catch {
      // nothing more we can do from here
    }
  }

  private async control(method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
    const what = `sim BMC ${method} ${path}`;
    const { status, body } = await this.send(method, path, json, what, CONTROL_TIMEOUT_MS);
    if (status !== 200) {
      const message = (body.error as { message?: unknown } | undefined)?.message;
      throw new Error(`${what}: HTTP ${status}${typeof message === 'string' ? `: ${message}` : ''}`);
    }
    return body;
  }

  private async send(method: 'GET' | 'POST', path: string, json: unknown, what: string, timeoutMs: number, signal?: AbortSignal): Promise<Answer> {
    if (signal?.aborted) throw abortError(signal);
    let text: string;
    let status: number;
    try {
      const res = await request(`${this.base}${path}`, {
        method,
        dispatcher: this.agent,
        headers: json === undefined ? {} : { 'content-type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      throw classifyFetchError(err, what);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new DriverError('protocol', `${what}: answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (typeof body !== 'object' || body === null) throw new DriverError('protocol', `${what}: answer is not a JSON object`);
    return { status, body: body as Record<string, unknown> };
  }
}
