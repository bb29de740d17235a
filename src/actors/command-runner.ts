/**
 * Runs the driver command a node's committed state names, under the BMC limits, and feeds the
 * result back to the chart. A command ends when the BMC can no longer be executing it, not when
 * its client gives up (invariant 10):
 *
 * - it is sent no later than the `startBy` its committed state carries; one that waited longer
 *   for a slot first commits COMMAND_STARTED, which moves its deadline and latest end;
 * - its client gives up at the command budget (or the step's deadline, or shutdown);
 * - a command that answered (success or a definite error) frees its BMC at once; one whose client
 *   gave up (timeout, abort) is recorded as abandoned (COMMAND_ABANDONED, committed) and keeps its
 *   BMC, and its node, until its latest end; only then does the chart hear how it ended;
 * - after a restart, a node that was mid-command holds its BMC until that command's latest end
 *   before it recovers (`recoverAfter`).
 */
import { redactSecrets } from '../drivers/redact.ts';
import { DriverError, type DriverTarget, type PowerDriver } from '../drivers/types.ts';
import type { Command } from '../machines/derive.ts';
import type { InFlightOp, NodeEvent } from '../machines/types.ts';
import type { BmcLimiter, Lease } from './limits.ts';
import { capabilitiesOf, type NodeRuntime, type RunningCommand } from './node-runtime.ts';

export interface CommandHooks {
  /** The command alone, from its send to its answer (or to its client giving up). */
  onCommand?(driver: string, kind: 'step' | 'query', ms: number, outcome: 'ok' | 'error' | 'aborted'): void;
  /** Time a command waited for its BMC and the global cap before it was sent. */
  onSlotWait?(driver: string, kind: 'step' | 'query', ms: number): void;
}

export interface CommandRunnerDeps {
  limiter: BmcLimiter;
  clock: () => number;
  /** Runs fn after ms on the host's scheduler (tests control it); returns a cancel function. */
  later(ms: number, fn: () => void): () => void;
  /** Sends a host event to the node and resolves once committed. */
  commit(node: NodeRuntime, event: NodeEvent): Promise<unknown>;
  /** Sends a result to the node (not awaited; its commit failure is the host's to log). */
  deliver(node: NodeRuntime, event: NodeEvent): void;
  /** False once the host stops or the node was deleted: results are then dropped. */
  live(node: NodeRuntime): boolean;
  /** The node's command changed state without a commit (it queued, or left the queue): show it. */
  changed(node: NodeRuntime): void;
  hooks?: CommandHooks;
  log: { warn(obj: object, msg?: string): void };
  /** The draw a result carries for the retry policy's jitter (the chart has no randomness). */
  random: () => number;
}

/** Re-stamps allowed before a command that keeps missing its start window fails as not sent. */
const MAX_RESTAMPS = 3;
/** Time left in the start window below which a command is stamped again before it is sent. */
const SEND_HEADROOM_MS = 250;

/**
 * A driver threw something it did not classify: a bug, which another attempt would only repeat.
 * Whether the request reached the BMC is unknown, so the command is waited out like an abandoned one.
 */
function unexpected(err: unknown): DriverError {
  const message = err instanceof Error ? err.message : String(err);
  return new DriverError('protocol', `the driver failed unexpectedly (a bug; not retried): ${message}`, { cause: err, mayStillRun: true, retryable: false });
}

/** One driver call: the command the chart named, and the event that reports its answer. */
async function send(driver: PowerDriver, cmd: Command, target: DriverTarget, signal: AbortSignal, softOff: boolean): Promise<NodeEvent> {
  const ref = { opId: cmd.opId, step: cmd.step, attempt: cmd.attempt };
  if (cmd.kind === 'query') return { type: 'QUERY_DONE', ...ref, observed: await driver.query(target, signal), at: 0 };
  const ack =
    cmd.step === 'on'
      ? await driver.powerOn(target, signal)
      : cmd.step === 'soft_off' && softOff
        ? await driver.softOff(target, signal)
        : await driver.powerOff(target, signal);
  return { type: 'STEP_ACK', ...ref, ...(ack.observed ? { observed: ack.observed } : {}), at: 0 };
}

export class CommandRunner {
  constructor(private readonly deps: CommandRunnerDeps) {}

  /** Starts the command; node.running is set until the BMC can no longer be executing it. */
  start(node: NodeRuntime, cmd: Command): void {
    const driver = node.driver;
    if (!driver) return;
    const running: RunningCommand = {
      key: `${cmd.opId}/${cmd.step}/${cmd.attempt}/${cmd.kind}`,
      controller: new AbortController(),
      abortedFor: null,
      phase: 'queued',
      waitingFor: null,
      since: this.deps.clock(),
      until: null,
    };
    node.running = running;
    void this.run(node, driver, cmd, running);
  }

  /** The step's deadline passed: a sent command is given up on; a queued one is not (its deadline counts from its send). */
  deadline(node: NodeRuntime): boolean {
    const running = node.running;
    if (!running) return false;
    if (running.phase === 'sent') {
      running.abortedFor = 'deadline';
      running.controller.abort(new Error('the step’s deadline passed'));
    }
    return true;
  }

  /** Shutdown: every client gives up; nothing is delivered (the next start recovers). */
  abort(node: NodeRuntime): void {
    const running = node.running;
    if (!running) return;
    running.abortedFor = 'shutdown';
    running.controller.abort(new Error('Switchboard is shutting down'));
  }

  /**
   * A restored node that was mid-command: hold its BMC until that command's latest end (an
   * earlier run may have left it executing there), then `then()` (the host sends RECOVER).
   */
  recoverAfter(node: NodeRuntime, latestEnd: number, then: () => void): void {
    const wait = latestEnd - this.deps.clock();
    if (wait <= 0) return then();
    const running: RunningCommand = {
      key: 'recovery',
      controller: new AbortController(),
      abortedFor: null,
      phase: 'waiting_out',
      waitingFor: null,
      since: this.deps.clock(),
      until: latestEnd,
    };
    node.running = running;
    void (async () => {
      let release: (() => void) | undefined;
      try {
        release = await this.deps.limiter.reserveBmc(node.record.bmc, running.controller.signal);
        await this.sleepUntil(latestEnd, running.controller.signal);
      } catch {
        // Shutdown while waiting: the next start waits again.
      } finally {
        release?.();
      }
      if (node.running === running) node.running = null;
      if (running.abortedFor !== 'shutdown' && this.deps.live(node)) then();
    })();
  }

  private inFlightFor(node: NodeRuntime, cmd: Command): InFlightOp | null {
    const op = node.actor?.getSnapshot().context.inFlight ?? null;
    return op && op.opId === cmd.opId && op.step === cmd.step && op.attempt === cmd.attempt ? op : null;
  }

  private async run(node: NodeRuntime, driver: PowerDriver, cmd: Command, running: RunningCommand): Promise<void> {
    const { limiter, clock, hooks } = this.deps;
    const caps = capabilitiesOf(node) ?? driver.capabilities(node.params);
    const { minIntervalMs, commandBudgetMs } = caps.timing;
    const ref = { opId: cmd.opId, step: cmd.step, attempt: cmd.attempt };
    const signal = running.controller.signal;
    const queuedAt = performance.now();
    let lease: Lease | undefined;
    let result: NodeEvent;
    let sentAt: number | null = null;
    let mayStillRun = false;
    let outcome: 'ok' | 'error' | 'aborted' = 'ok';
    let budgetTimer: (() => void) | undefined;
    let op: InFlightOp | null = null;
    let queued = false;
    try {
      lease = limiter.tryAcquire(node.record.bmc, minIntervalMs) ?? undefined;
      if (!lease) {
        // It has to wait for its BMC or the global cap: say so (the stream shows it), and again when it leaves the queue.
        const waiting = limiter.acquire(node.record.bmc, minIntervalMs, signal, running);
        this.deps.changed(node);
        lease = await waiting;
        queued = true;
      }
      hooks?.onSlotWait?.(driver.name, cmd.kind, performance.now() - queuedAt);
      for (let restamps = 0; ; restamps++) {
        op = await this.withinStartWindow(node, cmd, restamps > 0);
        if (!op) {
          // The state moved on while this command waited (the op was superseded or a commit failed).
          lease();
          if (node.running === running) node.running = null;
          return;
        }
        running.phase = 'sent';
        running.since = sentAt = clock();
        if (queued) this.deps.changed(node);
        budgetTimer = this.deps.later(commandBudgetMs, () => {
          running.abortedFor ??= 'budget';
          running.controller.abort(new Error(`no answer within the command budget of ${commandBudgetMs} ms`));
        });
        try {
          result = await send(driver, cmd, { nodeId: node.id, bmc: node.record.bmc, params: node.params, notAfter: op.startBy }, signal, caps.softOff);
          break;
        } catch (err) {
          // Refused at the last point before the BMC because its window closed meanwhile: it never
          // reached the BMC, so it is stamped again and sent, not reported as a failed command.
          if (!(err instanceof DriverError) || err.kind !== 'not_sent' || restamps >= MAX_RESTAMPS || signal.aborted) throw err;
          budgetTimer();
          budgetTimer = undefined;
          sentAt = null;
        }
      }
    } catch (err) {
      const e = err instanceof DriverError ? err : unexpected(err);
      outcome = e.kind === 'aborted' ? 'aborted' : 'error';
      mayStillRun = sentAt !== null && e.mayStillRun;
      // What a driver says reaches lastError, history, the stream and every viewer: no secret in it.
      const error = redactSecrets(e.message, node.params, driver.secretParams);
      result =
        cmd.kind === 'query'
          ? { type: 'QUERY_FAILED', ...ref, retryable: e.retryable, error, at: 0 }
          : { type: 'STEP_FAILED', ...ref, retryable: e.retryable, error, at: 0 };
    } finally {
      budgetTimer?.();
    }
    if (sentAt !== null) hooks?.onCommand?.(driver.name, cmd.kind, clock() - sentAt, outcome);
    if (mayStillRun && op && running.abortedFor !== 'shutdown' && this.deps.live(node)) {
      lease?.releaseGlobal();
      await this.waitOut(node, running, op, result);
    }
    lease?.();
    if (node.running === running) node.running = null;
    if (running.abortedFor === 'shutdown' || !this.deps.live(node)) return;
    const jitter = this.deps.random();
    this.deps.deliver(node, running.abortedFor === 'deadline' ? { type: 'DEADLINE', ...ref, at: clock(), jitter } : { ...result, at: clock(), jitter });
  }

  /**
   * The op as committed, once the command may go out: within the start window its committed state
   * allows, else after committing a COMMAND_STARTED that opens a new one. Null when the state no
   * longer names this command.
   */
  private async withinStartWindow(node: NodeRuntime, cmd: Command, restamp: boolean): Promise<InFlightOp | null> {
    for (let i = 0; ; i++) {
      const op = this.inFlightFor(node, cmd);
      if (!op) return null;
      const at = this.deps.clock();
      // Headroom: the spawn helper checks the window again a few ms later, as the last point before the BMC.
      if (at + SEND_HEADROOM_MS <= op.startBy && !(restamp && i === 0)) return op;
      if (i >= MAX_RESTAMPS) throw new DriverError('not_sent', `the command could not be sent within its start window ${MAX_RESTAMPS} times (commits are slow)`);
      try {
        await this.deps.commit(node, { type: 'COMMAND_STARTED', opId: cmd.opId, step: cmd.step, attempt: cmd.attempt, at });
      } catch (err) {
        throw new DriverError('not_sent', `the command was not sent: recording its start failed (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }

  /** Records that the client gave up, then holds the node and its BMC until the command's latest end. */
  private async waitOut(node: NodeRuntime, running: RunningCommand, op: InFlightOp, result: NodeEvent): Promise<void> {
    const error = 'error' in result ? result.error : 'no answer';
    running.phase = 'waiting_out';
    running.since = this.deps.clock();
    running.until = op.latestEnd;
    try {
      await this.deps.commit(node, { type: 'COMMAND_ABANDONED', opId: op.opId, step: op.step, attempt: op.attempt, error, at: this.deps.clock() });
    } catch (err) {
      // The wait is what matters; its record is history. The committed latest end still covers a restart.
      this.deps.log.warn({ err, node: node.id }, 'could not record an abandoned command');
    }
    // The client's controller has fired; a fresh one lets shutdown end the wait (the next start
    // then waits out the committed latest end itself).
    running.controller = new AbortController();
    try {
      await this.sleepUntil(op.latestEnd, running.controller.signal);
    } catch {
      // shutting down
    }
  }

  private sleepUntil(instant: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      if (instant <= this.deps.clock()) return resolve();
      const cancel = this.deps.later(instant - this.deps.clock(), () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = () => {
        cancel();
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
