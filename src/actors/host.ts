/**
 * The actor host: one XState actor per node, and everything the pure chart leaves out. A small
 * facade over focused parts, each owning one job and its own state:
 *
 * - NodeTable (node-table.ts): the nodes by id and name;
 * - Transitions (transitions.ts): the write-ahead transition and group commit (invariants 4, 5),
 *   rollback, and what a failed commit means (commit-failure.ts);
 * - Reconciler (reconciler.ts): the command and timers each committed state names;
 * - CommandRunner (command-runner.ts): driver commands under the BMC limits (invariants 1, 9, 10);
 * - restoreNode (restore.ts): boot, snapshot migrations, settings; NodeAdmin (node-admin.ts):
 *   create/update/delete, params and secrets; ChangePublisher (publisher.ts); RecentOps
 *   (recent-ops.ts); ids (ids.ts).
 */
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { CommitBatch, CommitResult } from '../db/commit-batch.ts';
import { loadFleet } from '../db/load-fleet.ts';
import { getOp, type OpRecord } from '../db/repositories/ops.ts';
import type { Database } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { needsRecovery, powerPhase } from '../machines/derive.ts';
import type { LifecycleEventType, NodeEmitted, NodeEvent, PowerAction, Reading } from '../machines/types.ts';
import type { SecretKey } from '../secrets.ts';
import { CommandRunner, type CommandHooks } from './command-runner.ts';
import { newOpId } from './ids.ts';
import { BmcLimiter } from './limits.ts';
import type { NodeRuntime } from './node-runtime.ts';
import { NodeAdmin } from './node-admin.ts';
import { NodeTable } from './node-table.ts';
import { ChangePublisher } from './publisher.ts';
import { Reconciler, realScheduler, type Scheduler } from './reconciler.ts';
import { RecentOps } from './recent-ops.ts';
import { restoreNode, type DriverRegistry } from './restore.ts';
import { Transitions, type Meta } from './transitions.ts';
import type { Caller, CreateNodeInput, Host, HostStats, LifecycleOutcome, NodeView, RequestOutcome, UpdateNodeInput } from './types.ts';
import { viewOf } from './view.ts';

export { newOpId } from './ids.ts';
export type { DriverRegistry } from './restore.ts';
export type { Scheduler } from './reconciler.ts';

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
  /** Draws in [0, 1) for the retry policy's jitter, carried on the events that can end an attempt. */
  random?: () => number;
}

/** What tests drive directly: the host's own timer handlers and settling (see src/actors/testing.ts). */
export interface HostInternals {
  /** Runs the handler of a node's timer as if it had fired. */
  fireTimer(nodeId: string, timer: 'deadline' | 'retry' | 'poll' | 'sync'): void;
  /** Sends an event as the host itself would (recovery queries, CONFIGURE) and commits it. */
  send(nodeId: string, event: NodeEvent): Promise<NodeEmitted[]>;
  /** Resolves when no transition is being dispatched or committed. */
  settled(): Promise<void>;
}

const silent: HostLogger = { info: () => {}, warn: () => {}, error: () => {} };
const BY_HOST: Meta = { requestedBy: null, origin: null };
const BY_RECOVERY: Meta = { requestedBy: null, origin: 'recovery' };

/** The service's host. */
export function createHost(deps: HostDeps): Host {
  return assembleHost(deps).host;
}

/** The parts assembled; the host, and the internals only the test factory hands out. */
export function assembleHost(deps: HostDeps): { host: Host; internals: HostInternals } {
  const { db, config } = deps;
  const clock = deps.clock ?? Date.now;
  const random = deps.random ?? Math.random;
  const log = deps.logger ?? silent;
  let stopping = false;
  let started = false;

  const nodes = new NodeTable();
  const recentOps = new RecentOps();
  const publisher = new ChangePublisher(log);
  const limiter = new BmcLimiter({
    perBmc: config.limits.perBmcConcurrency,
    minIntervalMs: config.limits.bmcMinIntervalMs,
    global: config.limits.globalConcurrency,
  });
  const dispatch = (node: NodeRuntime, event: NodeEvent, meta: Meta) => transitions.dispatch(node, event, meta);
  const fire = (node: NodeRuntime, event: NodeEvent): void => {
    if (stopping || !nodes.holds(node)) return;
    dispatch(node, event, BY_HOST).catch((err) => log.warn({ err, node: node.id, event: event.type }, 'a host event did not commit'));
  };
  const reconciler = new Reconciler({ config, scheduler: deps.scheduler ?? realScheduler, clock, nodes, fire, random });
  const runner = new CommandRunner({
    limiter,
    clock,
    later: (ms, fn) => reconciler.later(ms, fn),
    commit: (node, event) => dispatch(node, event, BY_HOST),
    deliver: fire,
    live: (node) => !stopping && nodes.holds(node),
    changed: (node) => publisher.publish(node, [], []),
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    log,
    random,
  });
  reconciler.attach(runner);
  const transitions: Transitions = new Transitions({
    db,
    config,
    ...(deps.commit ? { commit: deps.commit } : {}),
    ...(deps.hooks?.onCommit ? { onCommit: deps.hooks.onCommit } : {}),
    log,
    committed(node, ops, events, eventIds) {
      recentOps.remember(ops);
      publisher.publish(node, events, eventIds);
    },
    reconcile: (node) => reconciler.reconcile(node),
    reset(node, faulted) {
      reconciler.clear(node);
      if (faulted) runner.abort(node);
    },
    recover: (node) => void recoverNode(node),
    stopping: () => stopping,
    later: (ms, fn) => reconciler.later(ms, fn),
  });

  function usable(idOrName: string): NodeRuntime {
    if (stopping) throw new AppError('shutting_down');
    const node = nodes.lookup(idOrName);
    if (!node.actor) throw new AppError('node_faulted', `node ${node.record.name} cannot take requests: ${node.fault}`);
    return node;
  }

  const admin = new NodeAdmin({
    db,
    drivers: deps.drivers,
    secretKey: deps.secretKey,
    clock,
    nodes,
    dispatch,
    publish: (node, events, ids, deleted) => publisher.publish(node, events, ids, deleted),
    reconcile: (node) => reconciler.reconcile(node),
    clear: (node) => reconciler.clear(node),
    usable,
    stopping: () => stopping,
    started: () => started,
  });

  async function recoverNode(node: NodeRuntime): Promise<void> {
    if (!node.actor || node.running) return reconciler.reconcile(node);
    const state = node.actor.getSnapshot();
    try {
      if (needsRecovery(state)) await dispatch(node, { type: 'RECOVER', at: clock() }, BY_RECOVERY);
      else reconciler.reconcile(node);
    } catch (err) {
      log.warn({ err, node: node.id }, 'recovery did not commit; will retry when the database answers');
    }
  }

  /** A restored node that was mid-command recovers once the command's latest end has passed (invariant 10). */
  function recoverAtBoot(node: NodeRuntime, latestEnd: number): Promise<void> {
    return new Promise<void>((resolve) => {
      runner.recoverAfter(node, latestEnd, () => {
        void dispatch(node, { type: 'RECOVER', at: clock() }, BY_RECOVERY)
          .catch((err) => log.warn({ err }, 'RECOVER did not commit'))
          .finally(resolve);
      });
      // Boot does not wait for latest ends in the future; those nodes recover on their own.
      if (node.running?.phase === 'waiting_out') resolve();
    });
  }

  async function opRecord(id: string): Promise<OpRecord | null> {
    return recentOps.get(id) ?? (await getOp(db, id)) ?? null;
  }

  /** What the chart answered a request, with the op that answers it. */
  async function answerOf(emitted: NodeEmitted[], what: string) {
    const answer = emitted.find((e) => e.type === 'request');
    if (!answer || answer.type !== 'request') throw new AppError('internal', `the chart gave no answer to a ${what}`);
    const op = answer.opId ? await opRecord(answer.opId) : null;
    return { result: answer.result, op, ...(answer.refusal ? { refusal: answer.refusal } : {}) };
  }

  const host: Host = {
    async start() {
      for await (const batch of loadFleet(db)) {
        for (const { node: record, snapshot } of batch) {
          nodes.add(restoreNode(record, snapshot, { drivers: deps.drivers, secretKey: deps.secretKey, ...(deps.snapshotMigrations ? { migrations: deps.snapshotMigrations } : {}), log }));
        }
      }
      started = true;
      reconciler.start();
      const recoveries: Promise<unknown>[] = [];
      for (const node of nodes.values()) {
        if (!node.actor) continue;
        const state = node.actor.getSnapshot();
        if (needsRecovery(state)) {
          recoveries.push(recoverAtBoot(node, state.context.inFlight?.latestEnd ?? 0));
        } else if (powerPhase(state) === 'idle' && state.context.settings.queryable && deps.bootQueries !== false) {
          recoveries.push(
            dispatch(node, { type: 'POWER', action: 'query', origin: 'recovery', opId: newOpId(), at: clock() }, BY_RECOVERY).catch((err) => log.warn({ err }, 'boot query did not commit')),
          );
        } else reconciler.reconcile(node);
      }
      await Promise.all(recoveries);
      log.info({ nodes: nodes.size }, 'host started');
    },

    async stop() {
      stopping = true;
      reconciler.stop();
      transitions.stop();
      for (const node of nodes.values()) {
        reconciler.clear(node);
        runner.abort(node);
        node.actor?.stop();
      }
      await transitions.drain();
    },

    async createNode(input: CreateNodeInput, caller: Caller) {
      return viewOf(await admin.create(input, caller));
    },

    async updateNode(idOrName: string, patch: UpdateNodeInput, caller: Caller) {
      return viewOf(await admin.update(idOrName, patch, caller));
    },

    deleteNode: (idOrName: string, caller: Caller) => admin.delete(idOrName, caller),

    getNode(id) {
      const node = nodes.get(id);
      return node && viewOf(node);
    },

    findNode(idOrName) {
      const node = nodes.find(idOrName);
      return node && viewOf(node);
    },

    listNodes() {
      return [...nodes.values()].map(viewOf);
    },

    async requestPower(idOrName: string, action: PowerAction, caller: Caller): Promise<RequestOutcome> {
      const node = usable(idOrName);
      const emitted = await dispatch(node, { type: 'POWER', action, origin: 'user', opId: newOpId(), at: clock() }, { requestedBy: caller.requestedBy, origin: 'user' });
      return { ...(await answerOf(emitted, 'power request')), node: viewOf(node) };
    },

    async lifecycle(idOrName: string, event: LifecycleEventType, caller: Caller): Promise<LifecycleOutcome> {
      const node = usable(idOrName);
      const emitted = await dispatch(node, { type: event, opId: newOpId(), at: clock() }, { requestedBy: caller.requestedBy, origin: 'lifecycle' });
      const answer = await answerOf(emitted, 'lifecycle event');
      if (answer.result === 'coalesced') throw new AppError('internal', 'the chart gave no answer to a lifecycle event');
      return { ...answer, result: answer.result, node: viewOf(node) };
    },

    async confirm(idOrName: string, observed: Reading, caller: Caller) {
      const node = usable(idOrName);
      const state = node.actor!.getSnapshot();
      const op = state.context.inFlight;
      if (powerPhase(state) !== 'confirming' || !op) {
        throw new AppError('not_confirmable', `node ${node.record.name} is not waiting for a confirmation (it is ${powerPhase(state)})`);
      }
      await dispatch(node, { type: 'CONFIRM', opId: op.opId, observed, at: clock(), jitter: random() }, { requestedBy: caller.requestedBy, origin: 'user' });
      return viewOf(node);
    },

    subscribe: (listener) => publisher.subscribe(listener),

    stats(): HostStats {
      let faulted = 0;
      for (const n of nodes.values()) if (n.fault) faulted++;
      return {
        nodes: nodes.size,
        faulted,
        commandsInFlight: limiter.inFlight,
        commits: transitions.commits,
        committedTransitions: transitions.committedTransitions,
        databaseAvailable: transitions.databaseAvailable,
      };
    },
  };

  const internals: HostInternals = {
    fireTimer(nodeId, timer) {
      const node = nodes.get(nodeId);
      const op = node?.actor?.getSnapshot().context.inFlight;
      if (!node) return;
      if (timer === 'deadline') reconciler.onDeadline(node);
      else if (timer === 'sync') reconciler.onSyncDue(nodeId);
      else if (op) fire(node, { type: timer === 'retry' ? 'RETRY_DUE' : 'POLL_DUE', opId: op.opId, at: clock() });
    },
    send: (nodeId, event) => dispatch(nodes.lookup(nodeId), event, BY_HOST),
    settled: () => transitions.settled(),
  };

  return { host, internals };
}

export type { NodeView };
