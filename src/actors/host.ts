/**
 * The actor host: one XState actor per node, and everything the pure chart leaves out.
 *
 * - Write-ahead (invariants 4, 5): every transition's snapshot, op rows and events are group-
 *   committed before a request is answered and before the command the new state asks for runs.
 * - Single flight (1): a node runs at most the one command its committed state names.
 * - Timers: deadlines, retries, verification polls and a jittered periodic sync, as events.
 * - Limits (9): per-BMC slots and minimum interval, and a global cap, with deadlines.
 * - A failed commit rolls the node back to its committed snapshot: the request fails with 503
 *   and nothing changed; when the database answers again, nodes that were mid-command RECOVER.
 */
import { randomBytes, randomFillSync } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { sql, type Kysely } from 'kysely';
import type { Config } from '../config.ts';
import { commitBatch, type CommitBatch, type CommitResult } from '../db/commit-batch.ts';
import { NODE_NAME_CONSTRAINT, isUniqueViolation } from '../db/errors.ts';
import { inTransaction } from '../db/executor.ts';
import { loadFleet } from '../db/load-fleet.ts';
import { insertEvents, type EventRecord, type NewEvent } from '../db/repositories/events.ts';
import { deleteNode, insertNode, updateNode, type NodeRecord } from '../db/repositories/nodes.ts';
import { getOp, type OpRecord, type OpWrite } from '../db/repositories/ops.ts';
import type { Database } from '../db/schema.ts';
import { timingProblem } from '../drivers/timing.ts';
import type { DriverName, PowerDriver } from '../drivers/types.ts';
import { AppError } from '../errors.ts';
import { commandFor, needsRecovery, powerPhase, timersFor } from '../machines/derive.ts';
import { SNAPSHOT_MIGRATIONS } from '../machines/migrations.ts';
import { MACHINE_VERSION, nodeMachine } from '../machines/node-machine.ts';
import { STATUSES, type LifecycleEventType, type NodeEmitted, type NodeEvent, type NodeSettings, type PowerAction, type Reading } from '../machines/types.ts';
import { decryptParams, encryptParams, type SecretKey } from '../secrets.ts';
import { CommandRunner, type CommandHooks } from './command-runner.ts';
import { chooseCommitter, GroupCommitter } from './group-commit.ts';
import { HealSchedule } from './heal-schedule.ts';
import { nodeSettings } from './node-settings.ts';
import { BmcLimiter } from './limits.ts';
import { startActor, type NodeRuntime } from './node-runtime.ts';
import { attachSettings, storedSnapshotOf } from './stored-snapshot.ts';
import { recordsFor, type TransitionMeta } from './records.ts';
import { SyncScheduler } from './sync-scheduler.ts';
import type {
  Caller,
  CreateNodeInput,
  Host,
  HostStats,
  LifecycleOutcome,
  NodeChangeListener,
  NodeView,
  RequestOutcome,
  UpdateNodeInput,
} from './types.ts';
import { viewOf } from './view.ts';

export type DriverRegistry = Partial<Record<DriverName, PowerDriver<never>>>;

export interface HostLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface HostHooks extends CommandHooks {
  onCommit?(size: number, ms: number, ok: boolean): void;
}

export interface HostDeps {
  db: Kysely<Database>;
  drivers: DriverRegistry;
  config: Config;
  secretKey: SecretKey;
  /** Wall clock in ms; the chart's instants come from it. */
  clock?: () => number;
  logger?: HostLogger;
  hooks?: HostHooks;
  /** At boot, query every idle node once (origin `recovery`). Default true. */
  bootQueries?: boolean;
  /** Where the host's timers come from; tests pass one that fires only when told to. */
  scheduler?: Scheduler;
  /** Replaces the group commit's writer (fault injection in tests). */
  commit?: (batch: CommitBatch) => Promise<CommitResult>;
  /** Migrations of older snapshots, keyed by the version they migrate from. */
  snapshotMigrations?: Record<number, (snapshot: unknown) => unknown>;
}

export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What tests drive directly: the host's own timer handlers and settling. */
export interface HostInternals {
  /** Runs the handler of a node's timer as if it had fired. */
  fireTimer(nodeId: string, timer: 'deadline' | 'retry' | 'poll' | 'sync'): void;
  /** Sends an event as the host itself would (recovery queries, CONFIGURE) and commits it. */
  send(nodeId: string, event: NodeEvent): Promise<NodeEmitted[]>;
  /** Resolves when no transition is being dispatched or committed. */
  settled(): Promise<void>;
}

export type TestableHost = Host & { readonly internals: HostInternals };

const silent: HostLogger = { info: () => {}, warn: () => {}, error: () => {} };
const MAX_TIMER_MS = 2 ** 31 - 1;

// Random bytes for op ids come from a pool filled 4 KiB at a time: a call into the crypto
// binding per op cost more than the rest of the id.
const idPool = Buffer.alloc(4096);
let idPoolAt = idPool.length;

export function newOpId(): string {
  if (idPoolAt + 6 > idPool.length) {
    randomFillSync(idPool);
    idPoolAt = 0;
  }
  const random = idPool.toString('hex', idPoolAt, idPoolAt + 6);
  idPoolAt += 6;
  return `op_${Date.now().toString(36)}${random}`;
}

export function createHost(deps: HostDeps): TestableHost {
  const { db, config } = deps;
  const scheduler = deps.scheduler ?? realScheduler;
  const clock = deps.clock ?? Date.now;
  const log = deps.logger ?? silent;
  const nodes = new Map<string, NodeRuntime>();
  const byName = new Map<string, string>();
  const listeners = new Set<NodeChangeListener>();
  const limiter = new BmcLimiter({
    perBmc: config.limits.perBmcConcurrency,
    minIntervalMs: config.limits.bmcMinIntervalMs,
    global: config.limits.globalConcurrency,
  });
  // Several committers, each with one batch in flight, so that batches commit in parallel on their
  // own connections (with a single one the host sat idle a third of the time waiting).
  const committers = Array.from(
    { length: config.intervals.commitShards },
    () =>
      new GroupCommitter({
        windowMs: config.intervals.commitWindowMs,
        maxBatch: config.intervals.commitMaxBatch,
        commit: deps.commit ?? ((batch) => commitBatch(db, batch)),
        ...(deps.hooks?.onCommit ? { onBatch: deps.hooks.onCommit } : {}),
      }),
  );
  const choice = { spill: Math.max(1, Math.floor(config.intervals.commitMaxBatch / 8)), windowMs: config.intervals.commitWindowMs };
  // A node with changes still uncommitted stays on their committer, so its snapshots land in order.
  const committerFor = (node: NodeRuntime, seq: number): GroupCommitter =>
    (node.committer = node.committer && seq - 1 > node.committedSeq ? node.committer : chooseCommitter(committers, choice));
  const drainCommits = () => Promise.all(committers.map((c) => c.drain()));
  const sync = new SyncScheduler(config.intervals.syncMs, (id) => onSyncDue(id), clock);
  const needsRecover = new Set<string>();
  const heal = new HealSchedule({ baseMs: config.intervals.healBaseMs, maxMs: config.intervals.healMaxMs });
  const runner = new CommandRunner({
    limiter,
    clock,
    later(ms, fn) {
      const handle = after(ms, fn);
      return () => scheduler.clearTimeout(handle);
    },
    commit: (node, event) => dispatch(node, event, { requestedBy: null, origin: null }),
    deliver: (node, event) => fire(node, event),
    live: (node) => !stopping && nodes.get(node.id) === node,
    changed: (node) => publish(node, [], []),
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    log,
  });
  let databaseAvailable = true;
  let probe: NodeJS.Timeout | null = null;
  let stopping = false;
  let started = false;

  /* ---------------- drivers and settings ---------------- */

  function driverFor(name: string): PowerDriver | null {
    return (deps.drivers[name as DriverName] as PowerDriver | undefined) ?? null;
  }

  const settingsFor = (record: NodeRecord, driver: PowerDriver, params: Record<string, unknown>): NodeSettings =>
    nodeSettings(record, driver.capabilities(params));

  function validateParams(driver: PowerDriver, params: Record<string, unknown>): void {
    if (!Value.Check(driver.paramsSchema, params)) {
      const problems = [...Value.Errors(driver.paramsSchema, params)]
        .slice(0, 5)
        .map((e) => `${e.path || '/'}: ${e.message}${typeof e.schema.description === 'string' ? ` (${e.schema.description})` : ''}`);
      throw new AppError('invalid_params', `params for the ${driver.name} driver are not valid: ${problems.join('; ')}`, { problems });
    }
    try {
      driver.validateParams?.(params as never);
    } catch (err) {
      throw new AppError('invalid_params', err instanceof Error ? err.message : String(err));
    }
    const timing = timingProblem(driver.capabilities(params as never).timing);
    if (timing) throw new AppError('invalid_params', `params for the ${driver.name} driver are not valid: ${timing}`);
  }

  /* ---------------- lookup ---------------- */

  function lookup(idOrName: string): NodeRuntime {
    const node = nodes.get(idOrName) ?? nodes.get(byName.get(idOrName) ?? '');
    if (!node) throw new AppError('node_not_found', `no node has the id or name "${idOrName}"`);
    return node;
  }

  function usable(idOrName: string): NodeRuntime {
    if (stopping) throw new AppError('shutting_down');
    const node = lookup(idOrName);
    if (!node.actor) throw new AppError('node_faulted', `node ${node.record.name} cannot take requests: ${node.fault}`);
    return node;
  }

  /* ---------------- the write-ahead transition ---------------- */

  const openOps = new Map<string, OpRecord>();

  function rememberOps(writes: readonly OpWrite[]): void {
    for (const w of writes) {
      const known = openOps.get(w.id);
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
      if (w.state === 'pending' || w.state === 'in_flight') openOps.set(w.id, record);
      else {
        openOps.delete(w.id);
        lastFinished.set(w.id, record);
        if (lastFinished.size > 10_000) lastFinished.delete(lastFinished.keys().next().value!);
      }
    }
  }
  /** Recently finished ops, so an answer can show an op that ended in the same transition. */
  const lastFinished = new Map<string, OpRecord>();

  async function opRecord(id: string): Promise<OpRecord | null> {
    return openOps.get(id) ?? lastFinished.get(id) ?? (await getOp(db, id)) ?? null;
  }

  /**
   * Sends one event to a node's actor and commits what it changed. Resolves with what the chart
   * emitted once committed; on a failed commit the node is rolled back and 503 is thrown.
   */
  let dispatching = 0;
  async function dispatch(node: NodeRuntime, event: NodeEvent, meta: Omit<TransitionMeta, 'at'>): Promise<NodeEmitted[]> {
    dispatching++;
    try {
      return await dispatchOnce(node, event, meta);
    } finally {
      dispatching--;
    }
  }

  async function dispatchOnce(node: NodeRuntime, event: NodeEvent, meta: Omit<TransitionMeta, 'at'>): Promise<NodeEmitted[]> {
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
      eventIds = await committerFor(node, seq).add({
        snapshot: { nodeId: node.id, machineVersion: MACHINE_VERSION, seq, snapshot: storedSnapshotOf(after), status: c.status, observed: c.observed, desired: c.desired },
        ops,
        events,
      });
    } catch (err) {
      rollBack(node, err);
      throw new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    if (seq > node.committedSeq) {
      node.committedSeq = seq;
      node.committedState = after;
    }
    node.updatedAt = new Date(event.at);
    rememberOps(ops);
    publish(node, events, eventIds);
    if (node.committedSeq === node.stagedSeq) reconcile(node);
    return emitted;
  }

  function rollBack(node: NodeRuntime, err: unknown): void {
    if (databaseAvailable) log.error({ err }, 'commit failed; rolling back to the committed state until the database answers');
    setDatabaseAvailable(false);
    if (node.stagedSeq === node.committedSeq || !node.actor) return;
    node.actor.stop();
    node.actor = startActor(node, { snapshot: nodeMachine.getPersistedSnapshot(node.committedState!) });
    node.stagedSeq = node.committedSeq;
    clearTimers(node);
    needsRecover.add(node.id);
  }

  function setDatabaseAvailable(available: boolean): void {
    if (available === databaseAvailable) return;
    databaseAvailable = available;
    if (!available && !probe && !stopping) {
      probe = setInterval(() => void probeDatabase(), 1000);
      probe.unref();
    }
  }

  async function probeDatabase(): Promise<void> {
    try {
      await sql`select 1`.execute(db);
    } catch {
      return;
    }
    if (probe) clearInterval(probe);
    probe = null;
    databaseAvailable = true;
    log.info({ nodes: needsRecover.size }, 'database answers again; recovering rolled-back nodes');
    const ids = [...needsRecover];
    needsRecover.clear();
    for (const id of ids) {
      const node = nodes.get(id);
      if (node) void recoverNode(node);
    }
  }

  async function recoverNode(node: NodeRuntime): Promise<void> {
    if (!node.actor || node.running) return reconcile(node);
    const state = node.actor.getSnapshot();
    try {
      if (needsRecovery(state)) await dispatch(node, { type: 'RECOVER', at: clock() }, { requestedBy: null, origin: 'recovery' });
      else reconcile(node);
    } catch (err) {
      log.warn({ err, node: node.id }, 'recovery did not commit; will retry when the database answers');
    }
  }

  function publish(node: NodeRuntime, events: NewEvent[], ids: number[], deleted = false): void {
    if (listeners.size === 0) return;
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
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (err) {
        log.warn({ err }, 'a change listener threw');
      }
    }
  }

  /* ---------------- commands and timers ---------------- */

  function clearTimers(node: NodeRuntime): void {
    if (node.deadlineTimer) scheduler.clearTimeout(node.deadlineTimer);
    if (node.retryTimer) scheduler.clearTimeout(node.retryTimer);
    if (node.pollTimer) scheduler.clearTimeout(node.pollTimer);
    if (node.healTimer) scheduler.clearTimeout(node.healTimer);
    node.deadlineTimer = node.retryTimer = node.pollTimer = node.healTimer = null;
    node.deadlineAt = null;
    sync.unschedule(node.id);
  }

  function after(ms: number, fn: () => void): unknown {
    return scheduler.setTimeout(fn, Math.min(Math.max(ms, 0), MAX_TIMER_MS));
  }

  /** Makes the host match the committed state: the command it names, and its timers. */
  function reconcile(node: NodeRuntime): void {
    if (stopping || !started || !node.actor) return;
    const state = node.actor.getSnapshot();
    const cmd = commandFor(state);
    const timers = timersFor(state);
    if (cmd && !node.running) runner.start(node, cmd);
    if (timers.deadline !== null) {
      if (node.deadlineAt !== timers.deadline) {
        if (node.deadlineTimer) scheduler.clearTimeout(node.deadlineTimer);
        node.deadlineAt = timers.deadline;
        node.deadlineTimer = after(timers.deadline - clock(), () => onDeadline(node));
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
      node.retryTimer = after(timers.retryAt - clock(), () => fire(node, { type: 'RETRY_DUE', opId, at: clock() }));
    }
    if (node.pollTimer) scheduler.clearTimeout(node.pollTimer);
    node.pollTimer = null;
    if (timers.poll && op) {
      const opId = op.opId;
      node.pollTimer = after(config.intervals.verifyPollMs, () => fire(node, { type: 'POLL_DUE', opId, at: clock() }));
    }
    if (node.healTimer) scheduler.clearTimeout(node.healTimer);
    node.healTimer = null;
    const c = state.context;
    if (timers.sync && (c.observed === 'error' || c.readError !== null)) {
      // A BMC that could not be read is checked again on its own, with backoff, not at the next sync.
      sync.unschedule(node.id);
      node.healTimer = after(heal.next(node.id), () => {
        node.healTimer = null;
        onSyncDue(node.id);
      });
    } else {
      if (c.readError === null && c.observed !== 'error') heal.forget(node.id);
      if (timers.sync) sync.schedule(node.id);
      else sync.unschedule(node.id);
    }
  }

  function fire(node: NodeRuntime, event: NodeEvent): void {
    if (stopping || !nodes.has(node.id)) return;
    dispatch(node, event, { requestedBy: null, origin: null }).catch((err) => log.warn({ err, node: node.id, event: event.type }, 'a timer event did not commit'));
  }

  function onDeadline(node: NodeRuntime): void {
    node.deadlineTimer = null;
    const state = node.actor?.getSnapshot();
    const op = state?.context.inFlight;
    if (!state || !op) return;
    // A running command is given up on; DEADLINE follows once the BMC can no longer be executing it (invariants 1, 10).
    if (runner.deadline(node)) return;
    fire(node, { type: 'DEADLINE', opId: op.opId, step: op.step, attempt: op.attempt, at: clock() });
  }

  function onSyncDue(id: string): void {
    const node = nodes.get(id);
    if (!node?.actor || powerPhase(node.actor.getSnapshot()) !== 'idle') return;
    fire(node, { type: 'SYNC_DUE', opId: newOpId(), at: clock() });
  }

  /* ---------------- boot ---------------- */

  function newRuntime(record: NodeRecord): NodeRuntime {
    return {
      id: record.id,
      record,
      params: {},
      driver: null,
      actor: null,
      fault: null,
      emitted: [],
      stagedSeq: 0,
      committedSeq: 0,
      committer: null,
      committedState: null,
      running: null,
      deadlineTimer: null,
      deadlineAt: null,
      retryTimer: null,
      pollTimer: null,
      healTimer: null,
      updatedAt: record.updatedAt,
    };
  }

  function restore(record: NodeRecord, stored: { machineVersion: number; seq: number; snapshot: unknown; updatedAt: Date } | null): NodeRuntime {
    const node = newRuntime(record);
    nodes.set(node.id, node);
    byName.set(record.name, node.id);
    try {
      const driver = driverFor(record.driver);
      if (!driver) throw new Error(`the ${record.driver} driver is not available in this build`);
      node.driver = driver;
      node.params = decryptParams(record.params, driver.secretParams, deps.secretKey);
      if (!stored) {
        node.actor = startActor(node, { settings: settingsFor(record, driver, node.params) });
        node.committedState = node.actor.getSnapshot();
        return node;
      }
      let snapshot = stored.snapshot;
      for (let v = stored.machineVersion; v < MACHINE_VERSION; v++) {
        const migrate = (deps.snapshotMigrations ?? SNAPSHOT_MIGRATIONS)[v];
        if (!migrate) throw new Error(`snapshot of chart version ${stored.machineVersion} has no migration to version ${MACHINE_VERSION}`);
        snapshot = migrate(snapshot);
      }
      if (stored.machineVersion > MACHINE_VERSION) throw new Error(`snapshot is from a newer chart (version ${stored.machineVersion})`);
      const status = (snapshot as { status?: unknown } | null)?.status;
      if (status !== 'active') throw new Error(`snapshot status is ${String(status)}, not active`);
      snapshot = attachSettings(snapshot, settingsFor(record, driver, node.params));
      node.actor = startActor(node, { snapshot });
      const restoredStatus: unknown = node.actor.getSnapshot().context?.status;
      if (!(STATUSES as readonly unknown[]).includes(restoredStatus)) throw new Error(`snapshot has no valid lifecycle status (${String(restoredStatus)})`);
      node.stagedSeq = node.committedSeq = stored.seq;
      node.committedState = node.actor.getSnapshot();
      node.updatedAt = stored.updatedAt;
    } catch (err) {
      node.actor?.stop();
      node.actor = null;
      node.fault = `could not restore: ${err instanceof Error ? err.message : String(err)}`;
      log.error({ node: node.id, name: record.name, err }, 'node could not be restored; it is shown as faulted');
    }
    return node;
  }

  /* ---------------- the API ---------------- */

  const internals: HostInternals = {
    fireTimer(nodeId, timer) {
      const node = nodes.get(nodeId);
      const op = node?.actor?.getSnapshot().context.inFlight;
      if (!node) return;
      if (timer === 'deadline') onDeadline(node);
      else if (timer === 'sync') onSyncDue(nodeId);
      else if (op) fire(node, { type: timer === 'retry' ? 'RETRY_DUE' : 'POLL_DUE', opId: op.opId, at: clock() });
    },
    send(nodeId, event) {
      return dispatch(lookup(nodeId), event, { requestedBy: null, origin: null });
    },
    async settled() {
      do {
        await drainCommits();
        await new Promise((r) => setImmediate(r));
      } while (dispatching > 0);
    },
  };

  const host: TestableHost = {
    internals,
    async start() {
      for await (const batch of loadFleet(db)) {
        for (const { node, snapshot } of batch) restore(node, snapshot);
      }
      started = true;
      sync.start();
      const recoveries: Promise<unknown>[] = [];
      for (const node of nodes.values()) {
        if (!node.actor) continue;
        const state = node.actor.getSnapshot();
        if (needsRecovery(state)) {
          // Nothing goes to the node, nor its BMC, before the command an earlier run may have left there has ended (invariant 10).
          const latestEnd = state.context.inFlight?.latestEnd ?? 0;
          recoveries.push(
            new Promise<void>((resolve) => {
              runner.recoverAfter(node, latestEnd, () => {
                void dispatch(node, { type: 'RECOVER', at: clock() }, { requestedBy: null, origin: 'recovery' })
                  .catch((err) => log.warn({ err }, 'RECOVER did not commit'))
                  .finally(resolve);
              });
              // Boot does not wait for latest ends in the future; those nodes recover on their own.
              if (node.running?.phase === 'waiting_out') resolve();
            }),
          );
        } else if (powerPhase(state) === 'idle' && state.context.settings.queryable && deps.bootQueries !== false) {
          recoveries.push(
            dispatch(node, { type: 'POWER', action: 'query', origin: 'recovery', opId: newOpId(), at: clock() }, { requestedBy: null, origin: 'recovery' }).catch((err) =>
              log.warn({ err }, 'boot query did not commit'),
            ),
          );
        } else reconcile(node);
      }
      await Promise.all(recoveries);
      log.info({ nodes: nodes.size }, 'host started');
    },

    async stop() {
      stopping = true;
      sync.stop();
      if (probe) clearInterval(probe);
      for (const node of nodes.values()) {
        clearTimers(node);
        runner.abort(node);
        node.actor?.stop();
      }
      await drainCommits();
    },

    async createNode(input: CreateNodeInput, caller: Caller) {
      if (stopping) throw new AppError('shutting_down');
      const driver = driverFor(input.driver);
      if (!driver) throw new AppError('invalid_params', `unknown driver "${input.driver}"`);
      validateParams(driver, input.params);
      if (byName.has(input.name)) throw new AppError('node_name_taken', `a node named "${input.name}" exists already`);
      const id = `node_${Date.now().toString(36)}${randomBytes(5).toString('hex')}`;
      const bmc = input.bmc ?? driver.defaultBmc(input.params as never, id);
      const stored = encryptParams(input.params, driver.secretParams, deps.secretKey);
      const record: NodeRecord = {
        id,
        name: input.name,
        driver: input.driver,
        bmc,
        params: stored,
        driftPolicy: input.driftPolicy ?? 'adopt',
        softOffEscalate: input.softOffEscalate ?? true,
        createdAt: new Date(),
        updatedAt: new Date(),
        deletedAt: null,
      };
      const node = newRuntime(record);
      node.driver = driver;
      node.params = { ...input.params };
      node.actor = startActor(node, { settings: settingsFor(record, driver, node.params) });
      const initial = node.actor.getSnapshot();
      const c = initial.context;
      const at = new Date(clock());
      const event: NewEvent = { nodeId: id, at, kind: 'node_created', origin: 'user', actor: caller.requestedBy, detail: { name: input.name, driver: input.driver, bmc } };
      let ids: number[];
      try {
        ids = await inTransaction(db, async (trx) => {
          const saved = await insertNode(trx, { id, name: record.name, driver: record.driver, bmc, params: stored, driftPolicy: record.driftPolicy, softOffEscalate: record.softOffEscalate });
          node.record = saved;
          const snapshot = { nodeId: id, machineVersion: MACHINE_VERSION, seq: 1, snapshot: storedSnapshotOf(initial), status: c.status, observed: c.observed, desired: c.desired };
          return (await commitBatch(trx, { snapshots: [snapshot], ops: [], events: [event] })).eventIds;
        });
      } catch (err) {
        node.actor.stop();
        if (isUniqueViolation(err, NODE_NAME_CONSTRAINT)) throw new AppError('node_name_taken', `a node named "${input.name}" exists already`);
        if (err instanceof AppError) throw err;
        throw new AppError('database_unavailable', undefined, undefined, { cause: err });
      }
      node.stagedSeq = node.committedSeq = 1;
      node.committedState = initial;
      nodes.set(id, node);
      byName.set(record.name, id);
      publish(node, [event], ids);
      // Learn the power state at once rather than at the first sync.
      if (started && c.settings.queryable) {
        await dispatch(node, { type: 'POWER', action: 'query', origin: 'sync', opId: newOpId(), at: clock() }, { requestedBy: null, origin: 'sync' }).catch(() => {});
      } else reconcile(node);
      return viewOf(node);
    },

    async updateNode(idOrName: string, patch: UpdateNodeInput, caller: Caller) {
      const node = usable(idOrName);
      const changesDriver = patch.driver !== undefined || patch.params !== undefined || patch.bmc !== undefined;
      const phase = powerPhase(node.actor!.getSnapshot());
      if (changesDriver && (phase !== 'idle' || node.running)) {
        throw new AppError('node_busy', `node ${node.record.name} has an op in flight; change its driver, params or BMC when it is idle`);
      }
      const driverName = patch.driver ?? (node.record.driver as DriverName);
      const driver = driverFor(driverName);
      if (!driver) throw new AppError('invalid_params', `unknown driver "${driverName}"`);
      const params = patch.params ?? (patch.driver ? {} : node.params);
      if (patch.params !== undefined || patch.driver !== undefined) validateParams(driver, params);
      if (patch.name !== undefined && patch.name !== node.record.name && byName.has(patch.name)) {
        throw new AppError('node_name_taken', `a node named "${patch.name}" exists already`);
      }
      let saved: NodeRecord | undefined;
      try {
        saved = await updateNode(db, node.id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.driver !== undefined ? { driver: patch.driver } : {}),
          ...(changesDriver ? { bmc: patch.bmc ?? driver.defaultBmc(params as never, node.id) } : {}),
          ...(patch.params !== undefined || patch.driver !== undefined ? { params: encryptParams(params, driver.secretParams, deps.secretKey) } : {}),
          ...(patch.driftPolicy !== undefined ? { driftPolicy: patch.driftPolicy } : {}),
          ...(patch.softOffEscalate !== undefined ? { softOffEscalate: patch.softOffEscalate } : {}),
        });
      } catch (err) {
        if (isUniqueViolation(err, NODE_NAME_CONSTRAINT)) throw new AppError('node_name_taken', `a node named "${patch.name}" exists already`);
        throw new AppError('database_unavailable', undefined, undefined, { cause: err });
      }
      if (!saved) throw new AppError('node_not_found');
      if (saved.name !== node.record.name) {
        byName.delete(node.record.name);
        byName.set(saved.name, node.id);
      }
      node.record = saved;
      node.driver = driver;
      node.params = params;
      await dispatch(node, { type: 'CONFIGURE', settings: settingsFor(saved, driver, params), at: clock() }, { requestedBy: caller.requestedBy, origin: 'user' });
      return viewOf(node);
    },

    async deleteNode(idOrName: string, caller: Caller) {
      if (stopping) throw new AppError('shutting_down');
      const node = lookup(idOrName);
      if (node.actor && (powerPhase(node.actor.getSnapshot()) !== 'idle' || node.running)) {
        throw new AppError('node_busy', `node ${node.record.name} has an op in flight or pending; wait for it to finish, then delete`);
      }
      try {
        await deleteNode(db, node.id);
        await insertEvents(db, [{ nodeId: node.id, at: new Date(clock()), kind: 'node_deleted', origin: 'user', actor: caller.requestedBy }]);
      } catch (err) {
        throw new AppError('database_unavailable', undefined, undefined, { cause: err });
      }
      clearTimers(node);
      node.actor?.stop();
      nodes.delete(node.id);
      byName.delete(node.record.name);
      publish(node, [], [], true);
    },

    getNode(id) {
      const node = nodes.get(id);
      return node && viewOf(node);
    },

    findNode(idOrName) {
      const node = nodes.get(idOrName) ?? nodes.get(byName.get(idOrName) ?? '');
      return node && viewOf(node);
    },

    listNodes() {
      return [...nodes.values()].map(viewOf);
    },

    async requestPower(idOrName: string, action: PowerAction, caller: Caller): Promise<RequestOutcome> {
      const node = usable(idOrName);
      const opId = newOpId();
      const emitted = await dispatch(node, { type: 'POWER', action, origin: 'user', opId, at: clock() }, { requestedBy: caller.requestedBy, origin: 'user' });
      const answer = emitted.find((e) => e.type === 'request');
      if (!answer || answer.type !== 'request') throw new AppError('internal', 'the chart gave no answer to a power request');
      const op = answer.opId ? await opRecord(answer.opId) : null;
      return { result: answer.result, op, ...(answer.refusal ? { refusal: answer.refusal } : {}), node: viewOf(node) };
    },

    async lifecycle(idOrName: string, event: LifecycleEventType, caller: Caller): Promise<LifecycleOutcome> {
      const node = usable(idOrName);
      const opId = newOpId();
      const emitted = await dispatch(node, { type: event, opId, at: clock() }, { requestedBy: caller.requestedBy, origin: 'lifecycle' });
      const answer = emitted.find((e) => e.type === 'request');
      if (!answer || answer.type !== 'request' || answer.result === 'coalesced') throw new AppError('internal', 'the chart gave no answer to a lifecycle event');
      const op = answer.opId ? await opRecord(answer.opId) : null;
      return { result: answer.result, op, ...(answer.refusal ? { refusal: answer.refusal } : {}), node: viewOf(node) };
    },

    async confirm(idOrName: string, observed: Reading, caller: Caller) {
      const node = usable(idOrName);
      const state = node.actor!.getSnapshot();
      const op = state.context.inFlight;
      if (powerPhase(state) !== 'confirming' || !op) {
        throw new AppError('not_confirmable', `node ${node.record.name} is not waiting for a confirmation (it is ${powerPhase(state)})`);
      }
      await dispatch(node, { type: 'CONFIRM', opId: op.opId, observed, at: clock() }, { requestedBy: caller.requestedBy, origin: 'user' });
      return viewOf(node);
    },

    subscribe(listener: NodeChangeListener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    stats(): HostStats {
      let faulted = 0;
      for (const n of nodes.values()) if (n.fault) faulted++;
      return {
        nodes: nodes.size,
        faulted,
        commandsInFlight: limiter.inFlight,
        commits: committers.reduce((n, c) => n + c.commits, 0),
        committedTransitions: committers.reduce((n, c) => n + c.committed, 0),
        databaseAvailable,
      };
    },
  };
  return host;
}

export type { NodeView };
