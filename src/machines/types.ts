/** Plain-JSON types of the node chart. Nothing here may hold a clock or an I/O handle. */
import type { RetryPolicy } from './retry.ts';

export const STATUSES = [
  'new',
  'commissioning',
  'failed_commissioning',
  'ready',
  'allocated',
  'deploying',
  'failed_deployment',
  'deployed',
  'releasing',
  'failed_releasing',
  'entering_rescue',
  'rescue',
  'exiting_rescue',
  'broken',
] as const;
export type Status = (typeof STATUSES)[number];

export const POWER_ACTIONS = ['on', 'off', 'soft_off', 'cycle', 'query'] as const;
export type PowerAction = (typeof POWER_ACTIONS)[number];

export const ORIGINS = ['user', 'lifecycle', 'sync', 'recovery'] as const;
export type Origin = (typeof ORIGINS)[number];
/** Origins a POWER event may carry; lifecycle ops come from lifecycle events only. */
export type RequestOrigin = Exclude<Origin, 'lifecycle'>;

/** What the host last learned of the node's power; `error` when the BMC could not be read. */
export const OBSERVED_STATES = ['on', 'off', 'unknown', 'error'] as const;
export type Observed = (typeof OBSERVED_STATES)[number];
/** The power the node should have; null when nobody asked for any. */
export const DESIRED_STATES = ['on', 'off'] as const;
export type Desired = (typeof DESIRED_STATES)[number] | null;
/** A reading a driver (or a person, for `manual`) can give. */
export const READINGS = ['on', 'off', 'unknown'] as const satisfies readonly Observed[];
export type Reading = (typeof READINGS)[number];

/** One driver command. `cycle` is off then on; a soft off that times out may escalate to off. */
export const STEPS = ['on', 'off', 'soft_off', 'query'] as const satisfies readonly PowerAction[];
export type Step = (typeof STEPS)[number];

export const DRIFT_POLICIES = ['adopt', 'enforce'] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];

export interface NodeSettings {
  driftPolicy: DriftPolicy;
  /** A soft off that does not finish by its deadline becomes a hard off (else the op fails). */
  softOffEscalate: boolean;
  /** The driver can read power; when false, verification waits for a person's CONFIRM. */
  queryable: boolean;
  /** Attempts per step and the delays between them (src/machines/retry.ts). */
  retry: RetryPolicy;
  /** Time a step may take to reach its target, from its command's send. */
  stepTimeoutMs: number;
  /** Time one driver command may run before the host's client gives up on it. */
  commandBudgetMs: number;
  /** After a client gave up, how long the BMC may still be carrying the command out. */
  settleMs: number;
  softOffTimeoutMs: number;
}

export interface StepFailure {
  kind: 'error' | 'deadline' | 'not_reached';
  retryable: boolean;
  message: string;
  /** The last attempt to read the BMC failed too: the op's failure leaves observed `error`. */
  unreadable: boolean;
}

export interface InFlightOp {
  opId: string;
  action: PowerAction;
  origin: Origin;
  step: Step;
  /** Attempts count per step, from 1. */
  attempt: number;
  /** Absolute instant (ms) at which the current attempt of the step gives up. */
  deadline: number;
  /**
   * For the command the state names (a step while dispatching, a query while polling): the host
   * sends it no later than `startBy`, or first commits a COMMAND_STARTED that moves both instants.
   * `latestEnd` = startBy + command budget + settle time: after it the BMC can no longer be
   * executing the command (invariant 10); until then nothing else goes to the node.
   */
  startBy: number;
  latestEnd: number;
  /** The host's client gave up on the command at this op's current attempt: nothing is sent before this instant. */
  abandonedUntil: number | null;
  /** Restored after a restart with this op in flight: the next reading is reported as the recovery's finding. */
  recovering: boolean;
  /** Absolute instant of the next attempt while in backoff, else null. */
  retryAt: number | null;
  /** The next reading decides: not at target means the attempt failed (after a failure, a deadline or a recovery). */
  lastCheck: boolean;
  /** A lifecycle abort superseded this op: it ends after its current step. */
  superseded: boolean;
  failure: StepFailure | null;
}

export interface PendingOp {
  opId: string;
  action: PowerAction;
  origin: Origin;
}

/** The op a transitional status waits on, and how it ended. */
export interface TrackedOp {
  opId: string;
  result: 'running' | 'succeeded' | 'failed';
}

export interface NodeContext {
  status: Status;
  /** The status to go back to on `abort` (set on entry to commissioning, deploying, entering_rescue). */
  prevStatus: Status | null;
  /** Where `exit_rescue` returns to. */
  rescueFrom: 'deployed' | 'broken' | null;
  observed: Observed;
  desired: Desired;
  inFlight: InFlightOp | null;
  pending: PendingOp | null;
  tracked: TrackedOp | null;
  lastError: string | null;
  /** The BMC could not be read (a query failed or timed out); cleared by the next reading. */
  readError: string | null;
  /** Ops requested by the `enforce` drift policy since the last user or lifecycle intent. */
  driftEnforcements: number;
  settings: NodeSettings;
}

export interface NodeInput {
  status?: Status;
  observed?: Observed;
  desired?: Desired;
  settings?: Partial<NodeSettings>;
}

/* ---- Events the host sends. Every one carries `at` (ms since epoch): the chart has no clock. ---- */

interface At {
  at: number;
  /**
   * 0..1, drawn at random by the host (Math.random()): where in the retry policy's jitter range a
   * retry this event schedules falls (src/machines/retry.ts). Absent: the middle, deterministic.
   */
  jitter?: number;
}
/** Echoed by command results so the chart can ignore stale ones. */
export interface CommandRef {
  opId: string;
  step: Step;
  attempt: number;
}

export type PowerEvent = At & { type: 'POWER'; action: PowerAction; opId: string; origin: RequestOrigin };
export type LifecycleEventType =
  | 'commission'
  | 'commissioning_done'
  | 'commissioning_failed'
  | 'allocate'
  | 'deploy'
  | 'deploy_done'
  | 'deploy_failed'
  | 'release'
  | 'abort'
  | 'rescue'
  | 'rescue_done'
  | 'rescue_failed'
  | 'exit_rescue'
  | 'mark_broken'
  | 'mark_fixed';
/** Lifecycle events carry the op id the host allocated in case the transition asks for power. */
export type LifecycleEvent = At & { type: LifecycleEventType; opId: string; reason?: string };

export type HostEvent =
  | (At & CommandRef & { type: 'STEP_ACK'; observed?: Reading })
  | (At & CommandRef & { type: 'STEP_FAILED'; retryable: boolean; error: string })
  | (At & CommandRef & { type: 'QUERY_DONE'; observed: Reading })
  | (At & CommandRef & { type: 'QUERY_FAILED'; retryable: boolean; error: string })
  | (At & { type: 'CONFIRM'; opId: string; observed: Reading })
  | (At & { type: 'DEADLINE'; opId: string; step: Step; attempt: number })
  | (At & { type: 'RETRY_DUE'; opId: string })
  | (At & { type: 'POLL_DUE'; opId: string })
  | (At & { type: 'RECOVER' })
  /** The command the state names was sent only now (it waited for a slot): its instants count from here. */
  | (At & CommandRef & { type: 'COMMAND_STARTED' })
  /** The host's client gave up on the command (timeout, abort); the BMC may still carry it out. */
  | (At & CommandRef & { type: 'COMMAND_ABANDONED'; error: string })
  | (At & { type: 'SYNC_DUE'; opId: string })
  | (At & { type: 'CONFIGURE'; settings: Partial<NodeSettings> });

export type NodeEvent = PowerEvent | LifecycleEvent | HostEvent;

/* ---- What the chart emits: the host turns these into answers, op rows and history. ---- */

export type RefusalCode = 'not_allowed_in_status' | 'slots_full';

export interface Refusal {
  code: RefusalCode;
  message: string;
  status: Status;
  /** For not_allowed_in_status: the statuses in which the request would be allowed. */
  allowedIn?: Status[];
}

/** An op not yet finished: what recovery and the CLI's waiting look at. */
export const OPEN_OP_STATES = ['pending', 'in_flight'] as const;
/** An op in one of these states never changes again. */
export const FINAL_OP_STATES = ['succeeded', 'failed', 'refused', 'coalesced', 'superseded'] as const;
export const OP_STATES = [...OPEN_OP_STATES, ...FINAL_OP_STATES] as const;
export type OpState = (typeof OP_STATES)[number];
export type FinalOpState = (typeof FINAL_OP_STATES)[number];

export type NodeEmitted =
  | {
      type: 'request';
      at: number;
      /** The id the host allocated for the request. */
      requestId: string;
      kind: 'power' | 'lifecycle';
      name: PowerAction | LifecycleEventType;
      result: 'accepted' | 'coalesced' | 'refused';
      /** The op that answers the request: the new one, or the existing one it coalesced with. */
      opId: string | null;
      refusal?: Refusal;
    }
  | {
      type: 'op';
      at: number;
      opId: string;
      action: PowerAction;
      origin: Origin;
      state: OpState;
      step?: Step;
      attempt?: number;
      error?: string;
      /** For superseded: the op that took its place. */
      by?: string;
    }
  | { type: 'note'; at: number; kind: NoteKind; opId?: string; message: string };

export type NoteKind =
  | 'drift_adopted'
  | 'drift_enforced'
  | 'drift_unresolved'
  | 'retry_scheduled'
  | 'soft_off_escalated'
  | 'lifecycle_failed'
  | 'lifecycle_completed'
  | 'stale_result_ignored'
  | 'command_abandoned'
  | 'bmc_unreadable'
  | 'bmc_readable'
  | 'recovery_started'
  | 'recovery_verified';
