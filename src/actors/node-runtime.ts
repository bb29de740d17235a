/** One node in the host: its actor and everything the host tracks beside it. */
import { createActor, type Actor, type AnyActorScope } from 'xstate';
import type { NodeRecord } from '../db/repositories/nodes.ts';
import type { PowerDriver } from '../drivers/types.ts';
import type { GroupCommitter } from './group-commit.ts';
import { nodeMachine } from '../machines/node-machine.ts';
import type { NodeEmitted, NodeSettings } from '../machines/types.ts';

export type NodeActor = Actor<typeof nodeMachine>;
export type NodeState = ReturnType<NodeActor['getSnapshot']>;

export interface RunningCommand {
  key: string;
  controller: AbortController;
  /** Why the host aborted it: the deadline (feeds DEADLINE) or shutdown (feeds nothing). */
  abortedFor: 'deadline' | 'shutdown' | null;
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
  /** The last committed persisted snapshot, to roll back to when a commit fails. */
  committed: unknown;
  /**
   * The actor's state as of the last commit: what reads (views, lists, the stream) show, so
   * nobody sees a change that a failed commit could still roll back.
   */
  committedState: NodeState | null;
  running: RunningCommand | null;
  deadlineTimer: unknown;
  deadlineAt: number | null;
  retryTimer: unknown;
  pollTimer: unknown;
  updatedAt: Date;
}

type PersistedNode = { status?: unknown; value?: unknown; context?: unknown; children?: unknown; historyValue?: unknown };

/**
 * XState's restoreSnapshot resolves the state value to its state nodes, the active tags and the
 * value again; at boot that was a third of the cost of a node (about 8 µs of 20). All of it
 * depends on the state value alone, and a fleet sits in a handful of state values. So each
 * distinct value is resolved once, with an empty context, and every node in it gets a copy of
 * that resolution with its own context. Snapshots are never mutated by XState (every transition
 * builds a new one), so sharing the resolved parts is safe; test/actors/shared-restore.test.ts
 * checks that the result equals XState's own restore for every state the chart reaches.
 */
const resolved = new Map<string, ReturnType<typeof nodeMachine.restoreSnapshot>>();

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const _ in value) return false;
  return true;
}

export function restoreShared(persisted: unknown, scope: AnyActorScope): ReturnType<typeof nodeMachine.restoreSnapshot> {
  const p = persisted as PersistedNode;
  // Anything unusual (children, history, a finished or failed actor) goes the stock way.
  if (p === null || typeof p !== 'object' || p.status !== 'active' || !isEmptyObject(p.children) || !isEmptyObject(p.historyValue)) {
    return nodeMachine.restoreSnapshot(persisted as never, scope);
  }
  const key = JSON.stringify(p.value);
  let template = resolved.get(key);
  if (template === undefined) {
    template = nodeMachine.restoreSnapshot({ ...p, context: {} } as never, scope);
    if (resolved.size < 1000) resolved.set(key, template);
  }
  return { ...template, context: p.context as never, children: {} };
}

/** nodeMachine with the shared restore; everything else is the machine's own. */
export const restoringMachine: typeof nodeMachine = Object.create(nodeMachine, {
  restoreSnapshot: { value: restoreShared },
});

export function startActor(runtime: NodeRuntime, from: { snapshot: unknown } | { settings: Partial<NodeSettings> }): NodeActor {
  const actor =
    'snapshot' in from
      ? createActor(restoringMachine, { snapshot: from.snapshot as never, input: undefined })
      : createActor(nodeMachine, { input: { settings: from.settings } });
  actor.on('*', (e) => runtime.emitted.push(e as NodeEmitted));
  actor.start();
  return actor;
}
