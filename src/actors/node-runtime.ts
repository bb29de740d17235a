/** One node in the host: its actor and everything the host tracks beside it. */
import { createActor, type Actor } from 'xstate';
import type { NodeRecord } from '../db/repositories/nodes.ts';
import type { DriverCapabilities, PowerDriver } from '../drivers/types.ts';
import type { GroupCommitter } from './group-commit.ts';
import { restoringMachine } from './shared-restore.ts';
import { nodeMachine } from '../machines/node-machine.ts';
import type { NodeEmitted, NodeSettings } from '../machines/types.ts';

export type NodeActor = Actor<typeof nodeMachine>;
export type NodeState = ReturnType<NodeActor['getSnapshot']>;

export interface RunningCommand {
  key: string;
  controller: AbortController;
  /** Why the host aborted it: the deadline (feeds DEADLINE), its budget, or shutdown (feeds nothing). */
  abortedFor: 'deadline' | 'budget' | 'shutdown' | null;
  /**
   * queued: waiting for its BMC or the global cap (`waitingFor`); sent: the BMC has it;
   * waiting_out: the client gave up (or an earlier run left it) and the BMC may still carry it
   * out until `until`; nothing else goes to the node or its BMC meanwhile.
   */
  phase: 'queued' | 'sent' | 'waiting_out';
  waitingFor: 'bmc' | 'global' | null;
  /** Wall-clock ms: when the phase began, and (waiting_out) when it ends. */
  since: number;
  until: number | null;
}

export interface NodeRuntime {
  id: string;
  record: NodeRecord;
  /** Decrypted driver params; never leave the host. */
  params: Record<string, unknown>;
  driver: PowerDriver | null;
  actor: NodeActor | null;
  /** Set when the node could not be restored or has no usable driver; it takes no requests. */
  fault: string | null;
  /** Emits collected during the current send. */
  emitted: NodeEmitted[];
  stagedSeq: number;
  committedSeq: number;
  /** The group commit holding the node's uncommitted changes, if any (see committerFor in the host). */
  committer: GroupCommitter | null;
  /**
   * The actor's state as of the last commit: what reads (views, lists, the stream) show, so
   * nobody sees a change that a failed commit could still roll back, and what a failed commit
   * rolls the actor back to.
   */
  committedState: NodeState | null;
  running: RunningCommand | null;
  deadlineTimer: unknown;
  deadlineAt: number | null;
  retryTimer: unknown;
  pollTimer: unknown;
  /** Re-check of a BMC that could not be read (backoff, instead of the periodic sync). */
  healTimer: unknown;
  updatedAt: Date;
}

export function startActor(runtime: NodeRuntime, from: { snapshot: unknown } | { settings: Partial<NodeSettings> }): NodeActor {
  const actor =
    'snapshot' in from
      ? createActor(restoringMachine, { snapshot: from.snapshot as never, input: undefined })
      : createActor(nodeMachine, { input: { settings: from.settings } });
  actor.on('*', (e) => runtime.emitted.push(e as NodeEmitted));
  actor.start();
  return actor;
}

/** A runtime for a node row, before its actor exists. */
export function newRuntime(record: NodeRecord): NodeRuntime {
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

/**
 * The node's driver capabilities (timing and retry with its overrides), computed once per params
 * object: the view and every command read them, and params are replaced, never edited.
 */
const capsCache = new WeakMap<object, DriverCapabilities>();
/** Equal capabilities are one object, so a fleet of 100,000 alike nodes holds a handful. */
const internedCaps = new Map<string, DriverCapabilities>();
export function capabilitiesOf(node: NodeRuntime): DriverCapabilities | null {
  if (!node.driver) return null;
  let caps = capsCache.get(node.params);
  if (caps === undefined) {
    const fresh = node.driver.capabilities(node.params);
    const key = `${node.driver.name}|${JSON.stringify(fresh)}`;
    caps = internedCaps.get(key) ?? fresh;
    if (caps === fresh && internedCaps.size < 1_000) internedCaps.set(key, fresh);
    capsCache.set(node.params, caps);
  }
  return caps;
}
