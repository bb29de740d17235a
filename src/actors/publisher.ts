/** Committed changes to subscribers (the WebSocket stream, the CLI's watch): after the commit, never before. */
import type { EventRecord, NewEvent } from '../db/repositories/events.ts';
import type { NodeRuntime } from './node-runtime.ts';
import type { NodeChangeListener } from './types.ts';
import { viewOf } from './view.ts';

export class ChangePublisher {
  private readonly listeners = new Set<NodeChangeListener>();

  constructor(private readonly log: { warn(obj: object, msg?: string): void }) {}

  subscribe(listener: NodeChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The node's view with the history rows of this change (ids as the commit gave them). */
  publish(node: NodeRuntime, events: readonly NewEvent[], ids: readonly number[], deleted = false): void {
    if (this.listeners.size === 0) return;
    const records: EventRecord[] = events.map((e, i) => ({
      id: ids[i] ?? 0,
      nodeId: e.nodeId,
      at: e.at,
      kind: e.kind,
      origin: e.origin ?? null,
      actor: e.actor ?? null,
      opId: e.opId ?? null,
      detail: e.detail ?? {},
    }));
    const change = { node: viewOf(node), events: records, ...(deleted ? { deleted: true } : {}) };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.log.warn({ err }, 'a change listener threw');
      }
    }
  }
}
