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
import { createHttpClient, errorForStatus, parseJson, type HttpClient } from '../http-client.ts';
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

export class SimBmcClient implements SimBmcBackend {
  private readonly base: string;
  private readonly http: HttpClient;
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
    this.http = createHttpClient({ requestTimeoutMs: this.commandTimeoutMs });
  }

  async command(request: SimCommandRequest, signal: AbortSignal = new AbortController().signal): Promise<SimReply> {
    const id = randomUUID();
    const what = `sim BMC ${request.kind} ${request.nodeId}`;
    let res;
    try {
      res = await this.http.request({
        method: 'POST',
        url: `${this.base}/command`,
        json: { id, ...request },
        signal,
        timeoutMs: this.commandTimeoutMs,
        what,
      });
    } catch (err) {
      await this.cancel(id);
      if (signal.aborted) throw abortError(signal);
      throw err;
    }
    const body = parseJson(res, what) as { power?: unknown; error?: unknown };
    if (res.status === 200 && (body.power === 'on' || body.power === 'off')) return { power: body.power };
    if (body.error !== undefined) throw fromWireError(body.error);
    throw errorForStatus(res.status, what, res.text.slice(0, 200));
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
    await this.http.close();
  }

  /** Best effort: if the server cannot be reached, it ends the command when the connection drops. */
  private async cancel(id: string): Promise<void> {
    try {
      await this.http.request({
        method: 'POST',
        url: `${this.base}/cancel`,
        json: { id },
        signal: AbortSignal.timeout(this.cancelTimeoutMs),
        what: 'sim BMC cancel',
      });
    } catch {
      // nothing more we can do from here
    }
  }

  private async control(method: 'GET' | 'POST', path: string, json?: unknown): Promise<unknown> {
    const what = `sim BMC ${method} ${path}`;
    const res = await this.http.request({ method, url: `${this.base}${path}`, json, signal: AbortSignal.timeout(30_000), what });
    const body = parseJson(res, what);
    if (res.status !== 200) {
      const message = (body as { error?: { message?: unknown } }).error?.message;
      throw new Error(`${what}: HTTP ${res.status}${typeof message === 'string' ? `: ${message}` : ''}`);
    }
    return body;
  }
}
