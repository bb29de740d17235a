/**
 * A fleet of simulated BMCs: each node's power, its faults, and a record of every command
 * it was sent. Power changes after `settleMs` are applied lazily when the state is read, so a
 * fleet of 100,000 nodes needs no timers of its own. Every command goes through the overlap
 * detector, which is what fault and crash tests assert on.
 */
import { DriverError, abortError, type DriverErrorKind } from '../types.ts';
import {
  isDriverErrorKind, isSimCommandKind, isSimPower,
  type SimBmcBackend, type SimCommandKind, type SimCommandRequest, type SimFault, type SimPower, type SimReply,
} from './backend.ts';
import { OverlapDetector, type CommandRecord, type OverlapDetectorOptions, type OverlapReport } from './overlap-detector.ts';
import { resolveSimParams, type ResolvedSimParams } from './params.ts';
import { nextRandom, seedFor } from './prng.ts';

export interface SimBmcFleetOptions extends OverlapDetectorOptions {
  /** Commands kept per node for `history()`; default 16. */
  readonly historyPerNode?: number;
  /** Monotonic clock in ms; default performance.now. */
  readonly now?: () => number;
  /** Where the latency timers run (the host's Scheduler shape); default the real timers. */
  readonly scheduler?: SimScheduler;
}

/** Timers for answer latency; tests pass a controlled clock's scheduler. */
export interface SimScheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: SimScheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface SimStats {
  readonly nodes: number;
  readonly inFlight: number;
  readonly commands: Record<SimCommandKind, number>;
  readonly outcomes: Record<string, number>;
}

interface SimNode {
  bmc: string;
  power: SimPower;
  /** A power change acknowledged but not yet real (settleMs, soft off). */
  nextPower: SimPower | null;
  nextAt: number;
  seed: number | undefined;
  rng: number;
  fault: SimFault | undefined;
  history: CommandRecord[] | undefined;
}

type Fate = { readonly type: 'answer' } | { readonly type: 'fail'; readonly kind: DriverErrorKind; readonly why: string } | { readonly type: 'hang' };

const MAX_ID_LENGTH = 255;

export class UnknownSimNodeError extends Error {
  constructor(readonly nodeId: string) {
    super(`unknown sim node ${JSON.stringify(nodeId)}; send it a command or ensureNode it first`);
    this.name = 'UnknownSimNodeError';
  }
}

export class SimBmcFleet implements SimBmcBackend {
  private readonly nodes = new Map<string, SimNode>();
  private readonly detector: OverlapDetector;
  private readonly historyPerNode: number;
  private readonly now: () => number;
  private readonly timers: SimScheduler;
  private readonly kindCounts: Record<SimCommandKind, number> = { on: 0, off: 0, soft: 0, query: 0 };
  private readonly outcomeCounts: Record<string, number> = {};
  private nextId = 1;

  constructor(options: SimBmcFleetOptions = {}) {
    this.detector = new OverlapDetector(options);
    const keep = options.historyPerNode ?? 16;
    if (!Number.isInteger(keep) || keep < 0) throw new RangeError(`historyPerNode must be a non-negative integer, got ${keep}`);
    this.historyPerNode = keep;
    this.now = options.now ?? (() => performance.now());
    this.timers = options.scheduler ?? realTimers;
  }

  /** Adds a node (as if its BMC were racked) or returns silently when it exists. */
  ensureNode(nodeId: string, options: { bmc?: string; params?: unknown } = {}): void {
    checkId(nodeId, 'nodeId');
    const bmc = options.bmc ?? `sim:${nodeId}`;
    checkId(bmc, 'bmc');
    this.nodeFor(nodeId, bmc, resolveSimParams(options.params));
  }

  command(request: SimCommandRequest, signal?: AbortSignal): Promise<SimReply> {
    try {
      checkId(request.nodeId, 'nodeId');
      checkId(request.bmc, 'bmc');
      if (!isSimCommandKind(request.kind)) throw new DriverError('config', `unknown sim command ${JSON.stringify(request.kind)}`);
      const params = resolveSimParams(request.params);
      if (signal?.aborted) throw abortError(signal);
      return this.run(this.nodeFor(request.nodeId, request.bmc, params), request, params, signal);
    } catch (err) {
      return Promise.reject(err instanceof DriverError ? err : new DriverError('config', String(err)));
    }
  }

  /** Someone pressed the power button: the state changes out of band, pending changes are dropped. */
  pressButton(nodeId: string, power: SimPower): void {
    if (!isSimPower(power)) throw new TypeError(`power must be "on" or "off", got ${JSON.stringify(power)}`);
    const node = this.existing(nodeId);
    node.power = power;
    node.nextPower = null;
  }

  /** Replaces the node's injected fault; `{}` clears it. */
  setFault(nodeId: string, fault: SimFault): void {
    const node = this.existing(nodeId);
    checkFault(fault);
    const active = (fault.failNext ?? 0) > 0 || fault.hang === true || fault.unreachable === true;
    node.fault = active ? { ...fault } : undefined;
  }

  /** The node's real power right now, or undefined for an unknown node. */
  power(nodeId: string): SimPower | undefined {
    const node = this.nodes.get(nodeId);
    if (!node) return undefined;
    this.settle(node);
    return node.power;
  }

  powers(): Record<string, SimPower> {
    const out: Record<string, SimPower> = {};
    for (const [id, node] of this.nodes) {
      this.settle(node);
      out[id] = node.power;
    }
    return out;
  }

  /** The node's last commands, oldest first (copies). */
  history(nodeId: string): CommandRecord[] {
    return (this.nodes.get(nodeId)?.history ?? []).map((r) => ({ ...r }));
  }

  overlaps(): OverlapReport {
    return this.detector.report();
  }

  stats(): SimStats {
    return {
      nodes: this.nodes.size,
      inFlight: this.detector.inFlight(),
      commands: { ...this.kindCounts },
      outcomes: { ...this.outcomeCounts },
    };
  }

  get size(): number {
    return this.nodes.size;
  }

  private run(node: SimNode, request: SimCommandRequest, params: ResolvedSimParams, signal: AbortSignal | undefined): Promise<SimReply> {
    const record: CommandRecord = {
      id: this.nextId++,
      nodeId: request.nodeId,
      bmc: request.bmc,
      kind: request.kind,
      start: this.now(),
      end: undefined,
      outcome: 'running',
    };
    this.kindCounts[record.kind]++;
    this.remember(node, record);
    this.detector.begin(record);

    const fate = this.decide(node, params);
    const delay = params.latencyMs + (params.latencyJitterMs > 0 ? Math.floor(this.random(node) * (params.latencyJitterMs + 1)) : 0);

    return new Promise<SimReply>((resolve, reject) => {
      const timers: { answer?: unknown } = {};
      // An answer without latency comes before any listener is added: nothing to remove then.
      let listening = false;
      const onAbort = (): void => {
        if (timers.answer !== undefined) this.timers.clearTimeout(timers.answer);
        this.finish(record, 'aborted');
        reject(abortError(signal as AbortSignal));
      };
      const answer = (): void => {
        if (listening) signal?.removeEventListener('abort', onAbort);
        if (fate.type === 'fail') {
          this.finish(record, fate.kind);
          reject(new DriverError(fate.kind, `sim BMC ${request.bmc}: ${fate.why}`));
          return;
        }
        const power = this.apply(node, request.kind, params);
        this.finish(record, 'ok');
        resolve({ power });
      };

      // A hung command stays open until its caller gives up; without a signal, forever.
      if (fate.type === 'hang') {
        signal?.addEventListener('abort', onAbort, { once: true });
        return;
      }
      if (delay === 0) {
        answer();
        return;
      }
      listening = true;
      signal?.addEventListener('abort', onAbort, { once: true });
      timers.answer = this.timers.setTimeout(answer, delay);
    });
  }

  private decide(node: SimNode, params: ResolvedSimParams): Fate {
    const fault = node.fault;
    if (fault?.unreachable) return { type: 'fail', kind: 'unreachable', why: 'unreachable (injected)' };
    if (fault && (fault.failNext ?? 0) > 0) {
      const left = (fault.failNext ?? 0) - 1;
      node.fault = left > 0 || fault.hang ? { ...fault, failNext: left } : undefined;
      return { type: 'fail', kind: fault.failKind ?? 'busy', why: 'failed (injected)' };
    }
    if (fault?.hang) return { type: 'hang' };
    if (params.hangRate > 0 && this.random(node) < params.hangRate) return { type: 'hang' };
    if (params.failRate > 0 && this.random(node) < params.failRate) return { type: 'fail', kind: 'busy', why: 'busy (failRate)' };
    return { type: 'answer' };
  }

  /** Carries out an answered command; returns the power as the BMC reads it now. */
  private apply(node: SimNode, kind: SimCommandKind, params: ResolvedSimParams): SimPower {
    this.settle(node);
    switch (kind) {
      case 'on':
      case 'off':
        this.schedule(node, kind, params.settleMs);
        break;
      case 'soft':
        if (params.softOffMs !== null && (node.power === 'on' || node.nextPower === 'on')) {
          this.schedule(node, 'off', params.softOffMs);
        }
        break;
      case 'query':
        break;
    }
    return node.power;
  }

  private schedule(node: SimNode, power: SimPower, afterMs: number): void {
    if (afterMs === 0) {
      node.power = power;
      node.nextPower = null;
    } else {
      node.nextPower = power;
      node.nextAt = this.now() + afterMs;
    }
  }

  private settle(node: SimNode): void {
    if (node.nextPower !== null && this.now() >= node.nextAt) {
      node.power = node.nextPower;
      node.nextPower = null;
    }
  }

  private finish(record: CommandRecord, outcome: CommandRecord['outcome']): void {
    if (record.end !== undefined) return;
    record.end = this.now();
    record.outcome = outcome;
    this.outcomeCounts[outcome] = (this.outcomeCounts[outcome] ?? 0) + 1;
    this.detector.end(record);
  }

  private remember(node: SimNode, record: CommandRecord): void {
    if (this.historyPerNode === 0) return;
    if (!node.history) node.history = [];
    if (node.history.length >= this.historyPerNode) node.history.shift();
    node.history.push(record);
  }

  private random(node: SimNode): number {
    if (node.seed === undefined) return Math.random();
    const { value, state } = nextRandom(node.rng);
    node.rng = state;
    return value;
  }

  private nodeFor(nodeId: string, bmc: string, params: ResolvedSimParams): SimNode {
    let node = this.nodes.get(nodeId);
    if (!node) {
      node = { bmc, power: params.initialPower, nextPower: null, nextAt: 0, seed: undefined, rng: 0, fault: undefined, history: undefined };
      this.nodes.set(nodeId, node);
    }
    node.bmc = bmc;
    if (params.seed !== node.seed) {
      node.seed = params.seed;
      node.rng = params.seed === undefined ? 0 : seedFor(params.seed, nodeId);
    }
    return node;
  }

  private existing(nodeId: string): SimNode {
    const node = this.nodes.get(nodeId);
    if (!node) throw new UnknownSimNodeError(nodeId);
    return node;
  }
}

function checkId(x: unknown, name: string): asserts x is string {
  if (typeof x !== 'string' || x.length === 0 || x.length > MAX_ID_LENGTH) {
    throw new DriverError('config', `${name} must be a string of 1..${MAX_ID_LENGTH} characters`);
  }
}

function checkFault(fault: SimFault): void {
  if (typeof fault !== 'object' || fault === null) throw new TypeError('fault must be an object');
  const { failNext, failKind, hang, unreachable } = fault;
  if (failNext !== undefined && (!Number.isInteger(failNext) || failNext < 0)) throw new TypeError('failNext must be a non-negative integer');
  if (failKind !== undefined && (!isDriverErrorKind(failKind) || failKind === 'aborted')) throw new TypeError(`failKind ${JSON.stringify(failKind)} is not a driver error kind`);
  if (hang !== undefined && typeof hang !== 'boolean') throw new TypeError('hang must be a boolean');
  if (unreachable !== undefined && typeof unreachable !== 'boolean') throw new TypeError('unreachable must be a boolean');
}
