/**
 * Makes the host match each node's committed state: the one command it names (single flight,
 * invariant 1) and its timers — the step's deadline, the retry, the verification poll, the
 * periodic sync (one jittered scheduler for the fleet) and the re-check of a BMC that could not be
 * read. Timers come from an injected scheduler, so tests can hold time still.
 */
import type { Config } from '../config.ts';
import { commandFor, powerPhase, timersFor } from '../machines/derive.ts';
import type { NodeEvent } from '../machines/types.ts';
import type { CommandRunner } from './command-runner.ts';
import { HealSchedule } from './heal-schedule.ts';
import { newOpId } from './ids.ts';
import type { NodeRuntime } from './node-runtime.ts';
import type { NodeTable } from './node-table.ts';
import { SyncScheduler } from './sync-scheduler.ts';

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ReconcilerDeps {
  config: Config;
  scheduler: Scheduler;
  clock: () => number;
  nodes: NodeTable;
  /** Sends a host event to the node (timers' events), not awaited. */
  fire(node: NodeRuntime, event: NodeEvent): void;
  /** Draws in [0, 1): the jitter a DEADLINE carries, and the heal schedule's spread. */
  random: () => number;
}

export class Reconciler {
  private readonly sync: SyncScheduler;
  private readonly heal: HealSchedule;
  private runner: CommandRunner | null = null;
  private running = false;

  constructor(private readonly deps: ReconcilerDeps) {
    this.sync = new SyncScheduler(deps.config.intervals.syncMs, (id) => this.onSyncDue(id), deps.clock);
    this.heal = new HealSchedule({ baseMs: deps.config.intervals.healBaseMs, maxMs: deps.config.intervals.healMaxMs }, deps.random);
  }

  /** The runner is built with this reconciler's timers; it is handed back here once built. */
  attach(runner: CommandRunner): void {
    this.runner = runner;
  }

  /** From now on committed states are acted on (boot has restored the fleet). */
  start(): void {
    this.running = true;
    this.sync.start();
  }

  stop(): void {
    this.running = false;
    this.sync.stop();
  }

  /** Runs fn after ms on the scheduler; returns a cancel function. */
  later(ms: number, fn: () => void): () => void {
    const handle = this.after(ms, fn);
    return () => this.deps.scheduler.clearTimeout(handle);
  }

  private after(ms: number, fn: () => void): unknown {
    return this.deps.scheduler.setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
  }

  clear(node: NodeRuntime): void {
    const { scheduler } = this.deps;
    if (node.deadlineTimer) scheduler.clearTimeout(node.deadlineTimer);
    if (node.retryTimer) scheduler.clearTimeout(node.retryTimer);
    if (node.pollTimer) scheduler.clearTimeout(node.pollTimer);
    if (node.healTimer) scheduler.clearTimeout(node.healTimer);
    node.deadlineTimer = node.retryTimer = node.pollTimer = node.healTimer = null;
    node.deadlineAt = null;
    this.sync.unschedule(node.id);
  }

  /** Makes the host match the committed state: the command it names, and its timers. */
  reconcile(node: NodeRuntime): void {
    if (!this.running || !node.actor) return;
    const { scheduler, clock, config } = this.deps;
    const state = node.actor.getSnapshot();
    const cmd = commandFor(state);
    const timers = timersFor(state);
    if (cmd && !node.running) this.runner?.start(node, cmd);
    if (timers.deadline !== null) {
      if (node.deadlineAt !== timers.deadline) {
        if (node.deadlineTimer) scheduler.clearTimeout(node.deadlineTimer);
        node.deadlineAt = timers.deadline;
        node.deadlineTimer = this.after(timers.deadline - clock(), () => this.onDeadline(node));
      }
    } else if (node.deadlineTimer) {
      scheduler.clearTimeout(node.deadlineTimer);
      node.deadlineTimer = null;
      node.deadlineAt = null;
    }
    if (node.retryTimer) scheduler.clearTimeout(node.retryTimer);
    node.retryTimer = null;
    const op = state.context.inFlight;
    if (timers.retryAt !== null && op) {
      const opId = op.opId;
      node.retryTimer = this.after(timers.retryAt - clock(), () => this.deps.fire(node, { type: 'RETRY_DUE', opId, at: clock() }));
    }
    if (node.pollTimer) scheduler.clearTimeout(node.pollTimer);
    node.pollTimer = null;
    if (timers.poll && op) {
      const opId = op.opId;
      node.pollTimer = this.after(config.intervals.verifyPollMs, () => this.deps.fire(node, { type: 'POLL_DUE', opId, at: clock() }));
    }
    if (node.healTimer) scheduler.clearTimeout(node.healTimer);
    node.healTimer = null;
    const c = state.context;
    if (timers.sync && (c.observed === 'error' || c.readError !== null)) {
      // A BMC that could not be read is checked again on its own, with backoff, not at the next sync.
      this.sync.unschedule(node.id);
      node.healTimer = this.after(this.heal.next(node.id), () => {
        node.healTimer = null;
        this.onSyncDue(node.id);
      });
    } else {
      if (c.readError === null && c.observed !== 'error') this.heal.forget(node.id);
      if (timers.sync) this.sync.schedule(node.id);
      else this.sync.unschedule(node.id);
    }
  }

  onDeadline(node: NodeRuntime): void {
    node.deadlineTimer = null;
    const state = node.actor?.getSnapshot();
    const op = state?.context.inFlight;
    if (!state || !op) return;
    // A running command is given up on; DEADLINE follows once the BMC can no longer be executing it (invariants 1, 10).
    if (this.runner?.deadline(node)) return;
    this.deps.fire(node, { type: 'DEADLINE', opId: op.opId, step: op.step, attempt: op.attempt, at: this.deps.clock(), jitter: this.deps.random() });
  }

  onSyncDue(id: string): void {
    const node = this.deps.nodes.get(id);
    if (!node?.actor || powerPhase(node.actor.getSnapshot()) !== 'idle') return;
    this.deps.fire(node, { type: 'SYNC_DUE', opId: newOpId(), at: this.deps.clock() });
  }
}
