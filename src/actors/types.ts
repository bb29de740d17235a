/**
 * The host's programmatic API: what the HTTP layer, the CLI and tests call. Every method that
 * changes something resolves only after the change is committed (invariant 4).
 */
import type { Allowed } from '../machines/derive.ts';
import type {
  DriftPolicy,
  InFlightOp,
  LifecycleEventType,
  Observed,
  Desired,
  PendingOp,
  PowerAction,
  Reading,
  Refusal,
  Status,
} from '../machines/types.ts';
import type { DriverName } from '../drivers/types.ts';
import type { Timing } from '../drivers/timing.ts';
import type { OpRecord } from '../db/repositories/ops.ts';
import type { EventRecord } from '../db/repositories/events.ts';

/** A node as clients see it. Driver params are never part of it (secrets are write-only). */
export interface NodeView {
  id: string;
  name: string;
  status: Status;
  power: {
    observed: Observed;
    desired: Desired;
    inFlight: Pick<InFlightOp, 'opId' | 'action' | 'origin' | 'step' | 'attempt'> | null;
    pending: PendingOp | null;
    /** Verifying / waiting for a retry / waiting for a person, when an op is in flight. */
    phase: 'idle' | 'dispatching' | 'polling' | 'waiting' | 'confirming' | 'backoff';
    /**
     * The driver command the node has out, if any: queued for its BMC or for the global cap,
     * sent, or waiting out a command whose client gave up (the BMC may still carry it out until
     * `until`; nothing else goes to the node or its BMC before then).
     */
    command: { state: 'queued_for_bmc' | 'queued_for_global_cap' | 'sent' | 'waiting_out'; since: string; until: string | null } | null;
    /** The BMC could not be read (last query failed); cleared by its next answer. */
    readError: string | null;
    lastError: string | null;
  };
  /** The driver's timing with this node's overrides (params.timing) applied. */
  timing: Timing | null;
  allowed: Allowed;
  driver: DriverName;
  bmc: string;
  driftPolicy: DriftPolicy;
  softOffEscalate: boolean;
  /** Set when the node's snapshot could not be restored: the node takes no requests until fixed. */
  fault: string | null;
  updatedAt: string;
}

export interface CreateNodeInput {
  name: string;
  driver: DriverName;
  /** Plain params; secrets are encrypted before they are stored. */
  params: Record<string, unknown>;
  bmc?: string;
  driftPolicy?: DriftPolicy;
  softOffEscalate?: boolean;
}

export type UpdateNodeInput = Partial<CreateNodeInput>;

export interface Caller {
  /** Who asked (token name / user); recorded with the op and its events. */
  requestedBy: string | null;
}

export interface RequestOutcome {
  result: 'accepted' | 'coalesced' | 'refused';
  /** The op that answers: the new one, or the one it coalesced with. Null when refused. */
  op: OpRecord | null;
  refusal?: Refusal;
  node: NodeView;
}

export interface LifecycleOutcome {
  result: 'accepted' | 'refused';
  /** The power op the transition requested, if any. */
  op: OpRecord | null;
  refusal?: Refusal;
  node: NodeView;
}

export interface NodeChange {
  node: NodeView;
  /** The node was deleted; `node` is its last view. */
  deleted?: boolean;
  /** Committed history entries of this change (events table rows). */
  events: EventRecord[];
}

export type NodeChangeListener = (change: NodeChange) => void;

export interface HostStats {
  nodes: number;
  faulted: number;
  commandsInFlight: number;
  commits: number;
  committedTransitions: number;
  databaseAvailable: boolean;
}

export interface Host {
  start(): Promise<void>;
  /** Stops timers, lets running commands end or aborts them, and waits for pending commits. */
  stop(): Promise<void>;
  createNode(input: CreateNodeInput, caller: Caller): Promise<NodeView>;
  updateNode(id: string, patch: UpdateNodeInput, caller: Caller): Promise<NodeView>;
  /** Refused while a command is in flight or an op pending (409 node_busy). */
  deleteNode(id: string, caller: Caller): Promise<void>;
  getNode(id: string): NodeView | undefined;
  /** Resolves names too: `id` or `name`. */
  findNode(idOrName: string): NodeView | undefined;
  listNodes(): NodeView[];
  requestPower(id: string, action: PowerAction, caller: Caller): Promise<RequestOutcome>;
  lifecycle(id: string, event: LifecycleEventType, caller: Caller): Promise<LifecycleOutcome>;
  /** Manual driver: a person says what the node's power is now. */
  confirm(id: string, observed: Reading, caller: Caller): Promise<NodeView>;
  subscribe(listener: NodeChangeListener): () => void;
  stats(): HostStats;
}
