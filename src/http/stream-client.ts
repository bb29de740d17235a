/**
 * One WebSocket client of the change stream. Changes go out at once while the socket keeps up;
 * when its send buffer is above the threshold, undelivered changes wait in a map keyed by node,
 * where a newer change of the same node replaces the older one (the client gets the latest
 * state, never an unbounded backlog), and are flushed when the buffer drains. The host's
 * listener only ever does a map write, so a slow client cannot slow the host.
 */
import type { NodeChange, NodeView } from '../actors/types.ts';
import { eventView } from './views.ts';

/** The part of a ws WebSocket this needs (a test can pass a fake). */
export interface StreamSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string, cb?: (err?: Error) => void): void;
}

const OPEN = 1;
/** Events kept per undelivered node change; older ones are dropped (the node view is complete anyway). */
const MAX_EVENTS_PER_CHANGE = 50;

export interface StreamClientOptions {
  /** Send only while the socket's buffered bytes are below this. */
  highWaterBytes: number;
  /** How often to retry a blocked flush. */
  flushIntervalMs: number;
  /** Only these node ids (undefined: all). */
  nodeIds?: ReadonlySet<string>;
  onCoalesced?: () => void;
  onSent?: () => void;
}

interface Undelivered {
  node: NodeView;
  deleted: boolean;
  events: NodeChange['events'];
  droppedEvents: number;
}

export class StreamClient {
  private readonly undelivered = new Map<string, Undelivered>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  coalesced = 0;
  sent = 0;

  constructor(
    private readonly socket: StreamSocket,
    private readonly options: StreamClientOptions,
  ) {}

  snapshot(nodes: readonly NodeView[]): void {
    const selected = this.options.nodeIds === undefined ? nodes : nodes.filter((n) => this.options.nodeIds?.has(n.id));
    this.send({ type: 'snapshot', nodes: selected });
  }

  /** Called from the host's subscription: never blocks, never grows past one entry per node. */
  push(change: NodeChange): void {
    if (this.closed) return;
    const nodeId = change.node.id;
    if (this.options.nodeIds !== undefined && !this.options.nodeIds.has(nodeId)) return;
    const waiting = this.undelivered.get(nodeId);
    if (waiting !== undefined) {
      this.coalesced++;
      this.options.onCoalesced?.();
      const events = [...waiting.events, ...change.events];
      const drop = Math.max(0, events.length - MAX_EVENTS_PER_CHANGE);
      this.undelivered.set(nodeId, {
        node: change.node,
        deleted: change.deleted === true,
        events: events.slice(drop),
        droppedEvents: waiting.droppedEvents + drop,
      });
      return;
    }
    this.undelivered.set(nodeId, { node: change.node, deleted: change.deleted === true, events: change.events, droppedEvents: 0 });
    this.flush();
  }

  /** Sends waiting changes while the socket keeps up; schedules another try when it does not. */
  flush(): void {
    if (this.closed) return;
    if (this.socket.readyState !== OPEN) return;
    for (const [nodeId, change] of this.undelivered) {
      if (this.socket.bufferedAmount >= this.options.highWaterBytes) break;
      this.undelivered.delete(nodeId);
      const message: Record<string, unknown> = { type: 'change', node: change.node, events: change.events.map(eventView) };
      if (change.deleted) message.deleted = true;
      if (change.droppedEvents > 0) message.droppedEvents = change.droppedEvents;
      this.send(message);
    }
    if (this.undelivered.size > 0 && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.flushIntervalMs);
      this.timer.unref?.();
    }
  }

  get waiting(): number {
    return this.undelivered.size;
  }

  close(): void {
    this.closed = true;
    this.undelivered.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private send(message: unknown): void {
    this.sent++;
    this.options.onSent?.();
    this.socket.send(JSON.stringify(message));
  }
}
