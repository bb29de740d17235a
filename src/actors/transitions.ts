/**
 * The write-ahead transition (invariants 4, 5): an event goes to a node's actor, and what it
 * changed — snapshot, op rows, history — is group-committed before anybody hears of it and
 * before the command the new state names runs. A failed commit rolls the node back to its
 * committed state; what happens next depends on what the failure means (commit-failure.ts).
 */
import { sql, type Kysely } from 'kysely';
import type { Config } from '../config.ts';
import { commitBatch, type CommitBatch, type CommitResult } from '../db/commit-batch.ts';
import type { NewEvent } from '../db/repositories/events.ts';
import type { OpWrite } from '../db/repositories/ops.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { MACHINE_VERSION, nodeMachine } from '../machines/node-machine.ts';
import type { NodeEmitted, NodeEvent } from '../machines/types.ts';
import { classifyCommitFailure } from './commit-failure.ts';
import { chooseCommitter, GroupCommitter } from './group-commit.ts';
import { startActor, type NodeRuntime } from './node-runtime.ts';
import { recordsFor, type TransitionMeta } from './records.ts';
import { storedSnapshotOf } from './stored-snapshot.ts';

export type Meta = Omit<TransitionMeta, 'at'>;

export interface TransitionsDeps {
  db: Kysely<Database>;
  config: Config;
  /** Replaces the group commit's writer (fault injection in tests). */
  commit?: (batch: CommitBatch) => Promise<CommitResult>;
  onCommit?: (size: number, ms: number, ok: boolean) => void;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** A change is committed: remember its ops, publish it. */
  committed(node: NodeRuntime, ops: OpWrite[], events: NewEvent[], eventIds: number[]): void;
  /** The node's committed state is its latest: run the command and timers it names. */
  reconcile(node: NodeRuntime): void;
  /** The node was rolled back or faulted: its timers (and running command, when faulted) go. */
  reset(node: NodeRuntime, faulted: boolean): void;
  /** A rolled-back node may go on (the database answers again, or it was never down). */
  recover(node: NodeRuntime): void;
  stopping(): boolean;
  /** Runs fn after ms on the host's scheduler; returns a cancel function (the database probe). */
  later(ms: number, fn: () => void): () => void;
}

/** How often the database is asked whether it answers again after an outage. */
const PROBE_EVERY_MS = 1_000;

export class Transitions {
  private readonly committers: GroupCommitter[];
  private readonly choice: { spill: number; windowMs: number };
  private readonly needsRecover = new Set<NodeRuntime>();
  private probe: (() => void) | null = null;
  private probing: Promise<void> | null = null;
  private dispatching = 0;
  databaseAvailable = true;

  constructor(private readonly deps: TransitionsDeps) {
    const { config } = deps;
    // Several committers, each with one batch in flight, so that batches commit in parallel on their
    // own connections (with a single one the host sat idle a third of the time waiting).
    this.committers = Array.from(
      { length: config.intervals.commitShards },
      () =>
        new GroupCommitter({
          windowMs: config.intervals.commitWindowMs,
          maxBatch: config.intervals.commitMaxBatch,
          commit: deps.commit ?? ((batch) => commitBatch(deps.db, batch)),
          ...(deps.onCommit ? { onBatch: deps.onCommit } : {}),
        }),
    );
    this.choice = { spill: Math.max(1, Math.floor(config.intervals.commitMaxBatch / 8)), windowMs: config.intervals.commitWindowMs };
  }

  get commits(): number {
    return this.committers.reduce((n, c) => n + c.commits, 0);
  }

  get committedTransitions(): number {
    return this.committers.reduce((n, c) => n + c.committed, 0);
  }

  /** A node with changes still uncommitted stays on their committer, so its snapshots land in order. */
  private committerFor(node: NodeRuntime, seq: number): GroupCommitter {
    return (node.committer = node.committer && seq - 1 > node.committedSeq ? node.committer : chooseCommitter(this.committers, this.choice));
  }

  /**
   * Sends one event to a node's actor and commits what it changed. Resolves with what the chart
   * emitted once committed; on a failed commit the node is rolled back and an AppError says why.
   */
  async dispatch(node: NodeRuntime, event: NodeEvent, meta: Meta): Promise<NodeEmitted[]> {
    this.dispatching++;
    try {
      return await this.dispatchOnce(node, event, meta);
    } finally {
      this.dispatching--;
    }
  }

  private async dispatchOnce(node: NodeRuntime, event: NodeEvent, meta: Meta): Promise<NodeEmitted[]> {
    const actor = node.actor;
    if (!actor) throw new AppError('node_faulted', `node ${node.record.name} cannot take requests: ${node.fault}`);
    const before = actor.getSnapshot();
    node.emitted = [];
    actor.send(event);
    const after = actor.getSnapshot();
    const emitted = node.emitted;
    node.emitted = [];
    if (after === before && emitted.length === 0) return emitted;
    const { ops, events } = recordsFor(node.id, before.context, after.context, emitted, { ...meta, at: event.at });
    const seq = ++node.stagedSeq;
    const c = after.context;
    let eventIds: number[];
    try {
      eventIds = await this.committerFor(node, seq).add({
        snapshot: { nodeId: node.id, machineVersion: MACHINE_VERSION, seq, snapshot: storedSnapshotOf(after), status: c.status, observed: c.observed, desired: c.desired },
        ops,
        events,
      });
    } catch (err) {
      throw this.failed(node, err);
    }
    if (seq > node.committedSeq) {
      node.committedSeq = seq;
      node.committedState = after;
    }
    node.updatedAt = new Date(event.at);
    this.deps.committed(node, ops, events, eventIds);
    if (node.committedSeq === node.stagedSeq) this.deps.reconcile(node);
    return emitted;
  }

  /** Rolls the node back (or faults it) as the failure means, and says what the caller is told. */
  private failed(node: NodeRuntime, err: unknown): AppError {
    const failure = classifyCommitFailure(err);
    if (failure.kind === 'stale' && failure.nodeIds.has(node.id)) {
      this.fault(node, 'its stored state was changed by another writer; this instance stopped serving it (restart it to load the stored state)');
      this.deps.log.error({ err, node: node.id }, 'stale snapshot: another writer changed this node');
      return new AppError('node_faulted', `node ${node.record.name} cannot take requests: ${node.fault}`, undefined, { cause: err });
    }
    const rolledBack = this.rollBack(node);
    if (failure.kind === 'outage') {
      if (this.databaseAvailable) this.deps.log.error({ err }, 'commit failed; rolling back to the committed state until the database answers');
      this.setDatabaseAvailable(false);
      if (rolledBack) this.needsRecover.add(node);
      return new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    // The database is up: the batch was refused (this node's change, or another's in the same batch).
    if (failure.kind === 'rejected') this.deps.log.error({ err, node: node.id }, 'the database refused a commit; the node was rolled back');
    if (rolledBack) queueMicrotask(() => this.deps.recover(node));
    return failure.kind === 'rejected'
      ? new AppError('internal', undefined, undefined, { cause: err })
      : new AppError('database_unavailable', 'The change was in a batch the database refused for another node; nothing was changed. Retry.', undefined, { cause: err });
  }

  private rollBack(node: NodeRuntime): boolean {
    if (node.stagedSeq === node.committedSeq || !node.actor) return false;
    node.actor.stop();
    node.actor = startActor(node, { snapshot: nodeMachine.getPersistedSnapshot(node.committedState!) });
    node.stagedSeq = node.committedSeq;
    this.deps.reset(node, false);
    return true;
  }

  private fault(node: NodeRuntime, why: string): void {
    this.deps.reset(node, true);
    node.actor?.stop();
    node.actor = null;
    node.fault = why;
  }

  private setDatabaseAvailable(available: boolean): void {
    if (available === this.databaseAvailable) return;
    this.databaseAvailable = available;
    if (!available && !this.probe && !this.deps.stopping()) this.probeLater();
  }

  private probeLater(): void {
    this.probe = this.deps.later(PROBE_EVERY_MS, () => {
      this.probing = this.probeDatabase().finally(() => (this.probing = null));
    });
  }

  private async probeDatabase(): Promise<void> {
    try {
      await sql`select 1`.execute(this.deps.db);
    } catch {
      if (!this.deps.stopping()) this.probeLater();
      return;
    }
    this.probe = null;
    this.databaseAvailable = true;
    this.deps.log.info({ nodes: this.needsRecover.size }, 'database answers again; recovering rolled-back nodes');
    const nodes = [...this.needsRecover];
    this.needsRecover.clear();
    for (const node of nodes) this.deps.recover(node);
  }

  /** Resolves once every change staged so far is committed (or failed). */
  drain(): Promise<unknown> {
    return Promise.all(this.committers.map((c) => c.drain()));
  }

  /** Resolves when no transition is being dispatched or committed. */
  async settled(): Promise<void> {
    do {
      await this.probing;
      await this.drain();
      await new Promise((r) => setImmediate(r));
    } while (this.dispatching > 0);
  }

  stop(): void {
    this.probe?.();
    this.probe = null;
  }
}
