/**
 * The node chart: one XState machine per node with two parallel regions.
 *
 * - `lifecycle`: the 14 statuses, generated from the gating table (LIFECYCLE_EVENTS,
 *   COMPLETIONS). Lifecycle transitions ask for power by a pure assign into the pending slot;
 *   transitional statuses react to the tracked op's result through context.
 * - `power`: the slots. It picks up whatever waits in `pending` when idle, says which command
 *   should run (dispatching: a step; verifying.polling: a query) and reads the results the host
 *   feeds back. Transient states (route, stepDone, attemptFailed) only decide what follows.
 *
 * Pure: no I/O, no clock, no invoke, no after. Instants arrive on events (`at`).
 */
import { and, enqueueActions, setup } from 'xstate';
import { COMPLETIONS, LIFECYCLE_EVENTS, LIFECYCLE_EVENT_TYPES, humanize, type LifecycleTarget } from './gating.ts';
import {
  Tx,
  abandonCommand,
  acceptLifecycle,
  beginRecovery,
  beginStep,
  clearReadError,
  commandStarted,
  completeQuery,
  endOpFailed,
  endOpSucceeded,
  endOpSuperseded,
  escalateSoftOff,
  nextStep,
  noteReadError,
  promotePending,
  recordFailure,
  recordReading,
  refuseLifecycle,
  renewDeadline,
  reportRecovery,
  requestLifecyclePower,
  requestPower,
  retryStep,
  retryVerification,
  scheduleRetry,
  stampCommand,
  stepTarget,
} from './ops.ts';
import { attemptsLeft, DEFAULT_RETRY_POLICY } from './retry.ts';
import {
  STATUSES,
  type LifecycleEventType,
  type NodeContext,
  type NodeEmitted,
  type NodeEvent,
  type NodeInput,
  type NodeSettings,
  type Status,
  type StepFailure,
} from './types.ts';

/** Bump when the snapshot shape changes; the host migrates older snapshots (see src/actors). */
export const MACHINE_VERSION = 2;

export const DEFAULT_SETTINGS: NodeSettings = {
  driftPolicy: 'adopt',
  softOffEscalate: true,
  queryable: true,
  retry: DEFAULT_RETRY_POLICY,
  stepTimeoutMs: 30_000,
  commandBudgetMs: 30_000,
  settleMs: 0,
  softOffTimeoutMs: 300_000,
};

export function initialContext(input: NodeInput | undefined): NodeContext {
  return {
    status: 'new',
    prevStatus: null,
    rescueFrom: null,
    observed: input?.observed ?? 'unknown',
    desired: input?.desired ?? null,
    inFlight: null,
    pending: null,
    tracked: null,
    lastError: null,
    readError: null,
    driftEnforcements: 0,
    settings: { ...DEFAULT_SETTINGS, ...input?.settings },
  };
}

type ResultEvent = Extract<NodeEvent, { type: 'STEP_ACK' | 'STEP_FAILED' | 'QUERY_DONE' | 'QUERY_FAILED' | 'DEADLINE' | 'COMMAND_STARTED' | 'COMMAND_ABANDONED' }>;
const RESULT_TYPES = new Set(['STEP_ACK', 'STEP_FAILED', 'QUERY_DONE', 'QUERY_FAILED', 'DEADLINE', 'COMMAND_STARTED', 'COMMAND_ABANDONED']);
const isResult = (e: NodeEvent): e is ResultEvent => RESULT_TYPES.has(e.type);

/** A result or timer of an earlier command (another op, step or attempt): the chart ignores it. */
function isStale(context: NodeContext, event: NodeEvent): boolean {
  const op = context.inFlight;
  if (!op) return true;
  if (isResult(event)) return event.opId !== op.opId || event.step !== op.step || event.attempt !== op.attempt;
  return 'opId' in event && event.opId !== op.opId;
}

const readingOf = (event: NodeEvent) =>
  event.type === 'QUERY_DONE' || event.type === 'CONFIRM' || event.type === 'STEP_ACK' ? event.observed : undefined;

function reachesTarget(context: NodeContext, event: NodeEvent): boolean {
  const op = context.inFlight;
  const reading = readingOf(event);
  if (!op || reading === undefined) return false;
  const target = stepTarget(op.step);
  return target === null || reading === target;
}


type TxFn<P> = (tx: Tx, context: NodeContext, event: NodeEvent, params: P) => void;

/** Runs a pure draft update and turns it into one assign plus the emits it recorded. */
function tx<P = undefined>(fn: TxFn<P>) {
  // Cast: XState cannot infer an enqueueActions' type inside the very setup() that lists it.
  return enqueueActions(({ context, event, enqueue }, params: P) => {
    const draft = new Tx(context as NodeContext);
    fn(draft, context as NodeContext, event as NodeEvent, params);
    enqueue.assign(() => draft.ctx as never);
    for (const emitted of draft.emits) enqueue.emit(emitted as never);
  }) as never;
}

const failure = (kind: StepFailure['kind'], retryable: boolean, message: string, unreadable = false): StepFailure => ({
  kind,
  retryable,
  message,
  unreadable,
});

const machineSetup = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput | undefined,
    emitted: {} as NodeEmitted,
  },
  guards: {
    stale: ({ context, event }) => isStale(context, event),
    hasPending: ({ context }) => context.pending !== null,
    noInFlight: ({ context }) => context.inFlight === null,
    stepIsQuery: ({ context }) => context.inFlight?.step === 'query',
    notQueryable: ({ context }) => !context.settings.queryable,
    canSync: ({ context }) => context.settings.queryable && context.pending === null,
    reachesTarget: ({ context, event }) => reachesTarget(context, event),
    isLastCheck: ({ context }) => context.inFlight?.lastCheck === true,
    unverified: ({ context }) => context.inFlight?.failure?.unreadable === true,
    lastCheckOrQueryOp: ({ context }) => context.inFlight?.lastCheck === true || context.inFlight?.step === 'query',
    opSuperseded: ({ context }) => context.inFlight?.superseded === true,
    hasNextStep: ({ context }) => context.inFlight !== null && nextStep(context.inFlight) !== null,
    softOffExpired: ({ context }) => context.inFlight?.step === 'soft_off' && context.inFlight.failure?.kind === 'deadline',
    escalates: ({ context }) => context.settings.softOffEscalate,
    canRetry: ({ context }) => {
      const op = context.inFlight;
      return op !== null && (op.failure?.retryable ?? true) && attemptsLeft(context.settings.retry, op.attempt);
    },
    trackedIs: ({ context }, params: { result: 'succeeded' | 'failed'; needsOff?: boolean }) =>
      context.tracked?.result === params.result && (!params.needsOff || context.observed === 'off'),
    prevStatusIs: ({ context }, params: { status: Status }) => context.prevStatus === params.status,
    rescueFromIs: ({ context }, params: { status: Status }) => context.rescueFrom === params.status,
  },
  actions: {
    enterStatus: enqueueActions(({ enqueue }, params: { status: Status }) => {
      enqueue.assign({ status: params.status });
    }) as never,
    lifecycle: tx<{ event: LifecycleEventType; to: Status | 'back' }>((draft, context, event, params) => {
      if (!('opId' in event)) return;
      const rule = LIFECYCLE_EVENTS[params.event];
      const { ctx } = draft;
      if (params.to !== 'back' && ABORTABLE.has(params.to)) ctx.prevStatus = context.status;
      if (params.event === 'rescue') ctx.rescueFrom = context.status === 'deployed' ? 'deployed' : 'broken';
      const action = !rule.power ? null : rule.power === 'rescue_exit' ? (context.rescueFrom === 'deployed' ? 'cycle' : 'off') : rule.power;
      acceptLifecycle(draft, { opId: event.opId, event: params.event, at: event.at, powerOpId: action ? event.opId : null });
      if (action) requestLifecyclePower(draft, { opId: event.opId, action, at: event.at });
      else ctx.tracked = null;
    }),
    completeLifecycle: tx<{ outcome: 'succeeded' | 'failed'; to: Status }>((draft, context, event, params) => {
      const failed = params.outcome === 'failed';
      const message = failed
        ? `${humanize(context.status)} failed: ${context.lastError ?? 'its power op failed'}; now ${humanize(params.to)}`
        : `${humanize(context.status)} finished; now ${humanize(params.to)}`;
      draft.ctx.tracked = null;
      draft.emit({ type: 'note', at: event.at, kind: failed ? 'lifecycle_failed' : 'lifecycle_completed', opId: context.tracked?.opId ?? '', message });
    }),
    refuseLifecycle: tx((draft, _context, event) => {
      if ('opId' in event && LIFECYCLE_TYPES.has(event.type)) refuseLifecycle(draft, { opId: event.opId, event: event.type as LifecycleEventType, at: event.at });
    }),
    requestPower: tx((draft, _context, event) => {
      if (event.type === 'POWER') requestPower(draft, event);
    }),
    requestSync: tx((draft, _context, event) => {
      if (event.type === 'SYNC_DUE') requestPower(draft, { opId: event.opId, action: 'query', origin: 'sync', at: event.at });
    }),
    configure: tx((draft, context, event) => {
      if (event.type === 'CONFIGURE') draft.ctx.settings = { ...context.settings, ...event.settings };
    }),
    promotePending: tx((draft, _context, event) => promotePending(draft, event.at)),
    recordReading: tx((draft, _context, event) => {
      const reading = readingOf(event);
      if (reading !== undefined) recordReading(draft, reading);
    }),
    completeQuery: tx((draft, _context, event) => {
      const reading = readingOf(event);
      if (reading !== undefined) completeQuery(draft, reading, event.at);
    }),
    recordStepFailure: tx((draft, _context, event) => {
      if (event.type !== 'STEP_FAILED') return;
      recordFailure(draft, failure('error', event.retryable, event.error));
      renewDeadline(draft, event.at);
    }),
    recordDeadline: tx((draft, _context, event) => {
      recordFailure(draft, failure('deadline', true, 'no answer from the BMC by the deadline'));
      renewDeadline(draft, event.at);
    }),
    recordRecovery: tx((draft, _context, event) => {
      recordFailure(draft, failure('not_reached', true, 'Switchboard restarted while the command was in flight'));
      renewDeadline(draft, event.at);
      beginRecovery(draft, event.at);
    }),
    recoverVerifying: tx((draft, _context, event) => {
      renewDeadline(draft, event.at);
      beginRecovery(draft, event.at);
    }),
    stampCommand: tx((draft, _context, event) => stampCommand(draft, event.at)),
    commandStarted: tx<{ restartsDeadline: boolean }>((draft, _context, event, params) => commandStarted(draft, event.at, params.restartsDeadline)),
    abandonCommand: tx<{ query: boolean }>((draft, _context, event, params) => {
      if (event.type === 'COMMAND_ABANDONED') abandonCommand(draft, event.at, event.error, params.query);
    }),
    /** A reading arrived (a query's, or a person's for manual nodes): a read fault ends, a recovery reports. */
    readingSeen: tx((draft, _context, event) => {
      const reading = readingOf(event);
      if (reading === undefined) return;
      if (event.type === 'QUERY_DONE') clearReadError(draft, event.at, reading);
      reportRecovery(draft, event.at, { reading });
    }),
    queryFailedSeen: tx((draft, _context, event) => {
      const error = event.type === 'QUERY_FAILED' ? `reading the BMC failed: ${event.error}` : 'the BMC did not answer a query by the deadline';
      noteReadError(draft, event.at, error);
      reportRecovery(draft, event.at, { error });
    }),
    recordNotReached: tx((draft, context, event) => {
      const op = context.inFlight;
      const reading = readingOf(event);
      if (!op || reading === undefined) return;
      recordReading(draft, reading);
      const expected = stepTarget(op.step) ?? 'a reading';
      const manual = event.type === 'CONFIRM';
      recordFailure(
        draft,
        op.failure ?? failure('not_reached', !manual, manual ? `a person confirmed ${reading}, expected ${expected}` : `the BMC reads ${reading}, expected ${expected}`),
      );
    }),
    recordQueryFailure: tx((draft, context, event) => {
      if (event.type !== 'QUERY_FAILED') return;
      const prior = context.inFlight?.failure;
      recordFailure(
        draft,
        failure(
          prior?.kind ?? 'error',
          (prior?.retryable ?? true) && event.retryable,
          prior ? `${prior.message}; reading the BMC failed too: ${event.error}` : `reading the BMC failed: ${event.error}`,
          true,
        ),
      );
    }),
    recordQueryDeadline: tx((draft, context) => {
      const prior = context.inFlight?.failure;
      recordFailure(
        draft,
        failure(
          prior?.kind ?? 'deadline',
          prior?.retryable ?? true,
          prior ? `${prior.message}; the BMC did not answer a query either` : 'the BMC did not answer a query by the deadline',
          true,
        ),
      );
    }),
    markExpired: tx((draft, context, event) => {
      const op = context.inFlight;
      if (!op) return;
      const target = stepTarget(op.step) ?? 'a reading';
      recordFailure(draft, op.failure ?? failure('deadline', true, `${humanize(op.step)} did not reach ${target} by its deadline`));
      renewDeadline(draft, event.at);
    }),
    recordConfirmDeadline: tx((draft) => recordFailure(draft, failure('deadline', false, 'nobody confirmed the result by the deadline'))),
    beginNextStep: tx((draft, context, event) => {
      const step = context.inFlight ? nextStep(context.inFlight) : null;
      if (step) beginStep(draft, step, event.at);
    }),
    escalate: tx((draft, _context, event) => escalateSoftOff(draft, event.at)),
    scheduleRetry: tx((draft, _context, event) => scheduleRetry(draft, event.at, event.jitter)),
    retryStep: tx((draft, _context, event) => retryStep(draft, event.at)),
    retryVerification: tx((draft, _context, event) => retryVerification(draft, event.at)),
    endOpSucceeded: tx((draft, context, event) => endOpSucceeded(draft, event.at, context.observed)),
    endOpFailed: tx((draft, _context, event) => endOpFailed(draft, event.at)),
    endOpSuperseded: tx((draft, _context, event) => endOpSuperseded(draft, event.at)),
  },
});

/** Statuses an abort can return from; entering one keeps the status it came from. */
const ABORTABLE = new Set<Status>(LIFECYCLE_EVENTS.abort.from);
const LIFECYCLE_TYPES = new Set<string>(LIFECYCLE_EVENT_TYPES);

/** Where `prevStatus`/`rescueFrom` can point when a status reads them. */
function possibleSources(status: Status, key: 'prevStatus' | 'rescueFrom'): Status[] {
  if (key === 'rescueFrom') return ['deployed', 'broken'];
  const sources = new Set<Status>();
  for (const rule of Object.values(LIFECYCLE_EVENTS)) if (rule.to === status) rule.from.forEach((s) => sources.add(s));
  return STATUSES.filter((s) => sources.has(s));
}

/** Transitions to a target that may be a status kept in context: one guarded branch per value. */
function branches(from: Status, target: LifecycleTarget, actions: unknown) {
  if (target !== 'prevStatus' && target !== 'rescueFrom') return [{ target, actions }];
  const guardType = target === 'prevStatus' ? 'prevStatusIs' : 'rescueFromIs';
  return possibleSources(from, target).map((status) => ({
    target: status,
    guard: { type: guardType, params: { status } },
    actions,
  }));
}

function lifecycleStates() {
  return Object.fromEntries(
    STATUSES.map((status) => {
      const on: Record<string, unknown[]> = {};
      for (const event of LIFECYCLE_EVENT_TYPES) {
        const rule = LIFECYCLE_EVENTS[event];
        if (!rule.from.includes(status)) continue;
        const to = rule.to === 'prevStatus' || rule.to === 'rescueFrom' ? 'back' : rule.to;
        on[event] = branches(status, rule.to, { type: 'lifecycle', params: { event, to } });
      }
      const completion = COMPLETIONS[status];
      const always: unknown[] = [];
      if (completion?.succeeded) {
        for (const branch of branches(status, completion.succeeded, null)) {
          always.push({
            target: branch.target,
            guard: and([
              { type: 'trackedIs', params: { result: 'succeeded', needsOff: completion.needsOff ?? false } },
              ...('guard' in branch ? [branch.guard] : []),
            ] as never),
            actions: { type: 'completeLifecycle', params: { outcome: 'succeeded', to: branch.target } },
          });
        }
      }
      if (completion) {
        always.push({
          target: completion.failed,
          guard: { type: 'trackedIs', params: { result: 'failed' } },
          actions: { type: 'completeLifecycle', params: { outcome: 'failed', to: completion.failed } },
        });
      }
      return [status, { entry: { type: 'enterStatus', params: { status } }, on, ...(always.length ? { always } : {}) }];
    }),
  );
}

export const nodeMachine = machineSetup.createMachine({
  id: 'node',
  type: 'parallel',
  context: ({ input }) => initialContext(input),
  states: {
    lifecycle: {
      initial: 'new',
      // Events the current status does not handle reach the region and are refused with a reason.
      on: Object.fromEntries(LIFECYCLE_EVENT_TYPES.map((type) => [type, { actions: 'refuseLifecycle' }])) as never,
      states: lifecycleStates() as never,
    },
    power: {
      initial: 'idle',
      on: {
        POWER: { actions: 'requestPower' },
        CONFIGURE: { actions: 'configure' },
      },
      states: {
        idle: {
          always: { guard: 'hasPending', actions: 'promotePending', target: 'route' },
          on: { SYNC_DUE: { guard: 'canSync', actions: 'requestSync' } },
        },
        route: {
          always: [{ guard: 'stepIsQuery', target: 'verifying' }, { target: 'dispatching' }],
        },
        dispatching: {
          entry: 'stampCommand',
          on: {
            COMMAND_STARTED: [{ guard: 'stale' }, { actions: { type: 'commandStarted', params: { restartsDeadline: true } } }],
            COMMAND_ABANDONED: [{ guard: 'stale' }, { actions: { type: 'abandonCommand', params: { query: false } } }],
            STEP_ACK: [
              { guard: 'stale' },
              { guard: 'reachesTarget', actions: 'recordReading', target: 'stepDone' },
              { actions: 'recordReading', target: 'verifying' },
            ],
            STEP_FAILED: [{ guard: 'stale' }, { actions: 'recordStepFailure', target: 'verifying' }],
            DEADLINE: [{ guard: 'stale' }, { actions: 'recordDeadline', target: 'verifying' }],
            RECOVER: { actions: 'recordRecovery', target: 'verifying' },
          },
        },
        verifying: {
          initial: 'check',
          on: { RECOVER: { actions: 'recoverVerifying', target: '.check' } },
          states: {
            check: { always: [{ guard: 'notQueryable', target: 'confirming' }, { target: 'polling' }] },
            polling: {
              entry: 'stampCommand',
              on: {
                COMMAND_STARTED: [{ guard: 'stale' }, { actions: { type: 'commandStarted', params: { restartsDeadline: false } } }],
                COMMAND_ABANDONED: [{ guard: 'stale' }, { actions: { type: 'abandonCommand', params: { query: true } } }],
                QUERY_DONE: [
                  { guard: 'stale' },
                  { guard: 'stepIsQuery', actions: ['readingSeen', 'completeQuery'], target: '#node.power.idle' },
                  { guard: 'reachesTarget', actions: ['readingSeen', 'recordReading'], target: '#node.power.stepDone' },
                  { guard: 'isLastCheck', actions: ['readingSeen', 'recordNotReached'], target: '#node.power.attemptFailed' },
                  { actions: ['readingSeen', 'recordReading'], target: 'waiting' },
                ],
                QUERY_FAILED: [
                  { guard: 'stale' },
                  { guard: 'lastCheckOrQueryOp', actions: ['queryFailedSeen', 'recordQueryFailure'], target: '#node.power.attemptFailed' },
                  { actions: 'queryFailedSeen', target: 'waiting' },
                ],
                DEADLINE: [{ guard: 'stale' }, { actions: ['queryFailedSeen', 'recordQueryDeadline'], target: '#node.power.attemptFailed' }],
              },
            },
            waiting: {
              on: {
                POLL_DUE: [{ guard: 'stale' }, { target: 'polling' }],
                DEADLINE: [{ guard: 'stale' }, { actions: 'markExpired', target: 'polling' }],
              },
            },
            confirming: {
              on: {
                CONFIRM: [
                  { guard: 'stale' },
                  { guard: 'stepIsQuery', actions: ['readingSeen', 'completeQuery'], target: '#node.power.idle' },
                  { guard: 'reachesTarget', actions: ['readingSeen', 'recordReading'], target: '#node.power.stepDone' },
                  { actions: ['readingSeen', 'recordNotReached'], target: '#node.power.attemptFailed' },
                ],
                DEADLINE: [{ guard: 'stale' }, { actions: 'recordConfirmDeadline', target: '#node.power.attemptFailed' }],
              },
            },
          },
        },
        stepDone: {
          always: [
            { guard: 'opSuperseded', actions: 'endOpSuperseded', target: 'idle' },
            { guard: 'hasNextStep', actions: 'beginNextStep', target: 'route' },
            { actions: 'endOpSucceeded', target: 'idle' },
          ],
        },
        attemptFailed: {
          always: [
            { guard: and(['softOffExpired', 'escalates']), actions: 'escalate', target: 'route' },
            { guard: 'softOffExpired', actions: 'endOpFailed', target: 'idle' },
            { guard: 'opSuperseded', actions: 'endOpSuperseded', target: 'idle' },
            { guard: 'canRetry', actions: 'scheduleRetry', target: 'backoff' },
            { actions: 'endOpFailed', target: 'idle' },
          ],
        },
        backoff: {
          always: { guard: 'noInFlight', target: 'idle' },
          on: {
            RETRY_DUE: [
              { guard: 'stale' },
              { guard: 'unverified', actions: 'retryVerification', target: 'verifying' },
              { actions: 'retryStep', target: 'route' },
            ],
          },
        },
      },
    },
  },
});

export type NodeMachine = typeof nodeMachine;
