/**
 * Op records as the host last committed them: open ops, and recently finished ones, so an answer
 * can show an op that ended in the same transition without reading it back from the database.
 */
import type { OpRecord, OpWrite } from '../db/repositories/ops.ts';

const KEEP_FINISHED = 10_000;

export class RecentOps {
  private readonly open = new Map<string, OpRecord>();
  private readonly finished = new Map<string, OpRecord>();

  get(id: string): OpRecord | undefined {
    return this.open.get(id) ?? this.finished.get(id);
  }

  remember(writes: readonly OpWrite[]): void {
    for (const w of writes) {
      const known = this.open.get(w.id);
      const record: OpRecord = {
        id: w.id,
        nodeId: w.nodeId,
        action: w.action,
        origin: w.origin,
        requestedBy: known?.requestedBy ?? w.requestedBy ?? null,
        state: w.state,
        error: w.error ?? null,
        attempts: Math.max(known?.attempts ?? 0, w.attempts ?? 0),
        requestedAt: known?.requestedAt ?? w.requestedAt,
        startedAt: known?.startedAt ?? w.startedAt ?? null,
        finishedAt: w.finishedAt ?? null,
      };
      if (w.state === 'pending' || w.state === 'in_flight') this.open.set(w.id, record);
      else {
        this.open.delete(w.id);
        this.finished.set(w.id, record);
        if (this.finished.size > KEEP_FINISHED) this.finished.delete(this.finished.keys().next().value!);
      }
    }
  }
}
