/**
 * The gating table: which status permits which user power op and which lifecycle event.
 * One data structure: the chart's guards, the API's refusals, the UI's buttons and the docs
 * all read it. The lifecycle region of the chart is generated from LIFECYCLE_EVENTS.
 */
import { STATUSES, type LifecycleEventType, type PowerAction, type Status } from './types.ts';

type UserPowerAction = Exclude<PowerAction, 'query'>;

const OFF_ONLY: readonly UserPowerAction[] = ['off', 'soft_off'];
const ALL_POWER: readonly UserPowerAction[] = ['on', 'off', 'soft_off', 'cycle'];
const NO_POWER: readonly UserPowerAction[] = [];

/** Status → user power ops it permits. `query` is allowed in every status. */
export const POWER_GATE: Readonly<Record<Status, readonly UserPowerAction[]>> = {
  new: OFF_ONLY,
  ready: OFF_ONLY,
  failed_commissioning: OFF_ONLY,
  failed_releasing: OFF_ONLY,
  allocated: ALL_POWER,
  deployed: ALL_POWER,
  failed_deployment: ALL_POWER,
  rescue: ALL_POWER,
  broken: ALL_POWER,
  commissioning: NO_POWER,
  deploying: NO_POWER,
  releasing: NO_POWER,
  entering_rescue: NO_POWER,
  exiting_rescue: NO_POWER,
};

/** Where a lifecycle event leads: a status, or back to the status kept in context. */
export type LifecycleTarget = Status | 'prevStatus' | 'rescueFrom';
/** Power a lifecycle event requests; `rescue_exit` is cycle when rescue came from deployed, else off. */
export type LifecyclePower = 'cycle' | 'off' | 'rescue_exit';

export interface LifecycleRule {
  readonly from: readonly Status[];
  readonly to: LifecycleTarget;
  readonly power?: LifecyclePower;
  /** Whether operators send it (true) or the provisioning system reports it (false). */
  readonly operator: boolean;
  readonly summary: string;
}

export const LIFECYCLE_EVENTS: Readonly<Record<LifecycleEventType, LifecycleRule>> = {
  commission: {
    from: ['new', 'ready', 'failed_commissioning', 'broken'],
    to: 'commissioning',
    power: 'cycle',
    operator: true,
    summary: 'boot the node into commissioning',
  },
  commissioning_done: { from: ['commissioning'], to: 'ready', power: 'off', operator: false, summary: 'commissioning finished; power off' },
  commissioning_failed: { from: ['commissioning'], to: 'failed_commissioning', operator: false, summary: 'commissioning failed' },
  allocate: { from: ['ready'], to: 'allocated', operator: true, summary: 'reserve the node for a user' },
  deploy: { from: ['allocated'], to: 'deploying', power: 'cycle', operator: true, summary: 'boot the node into deployment' },
  deploy_done: { from: ['deploying'], to: 'deployed', operator: false, summary: 'deployment finished' },
  deploy_failed: { from: ['deploying'], to: 'failed_deployment', operator: false, summary: 'deployment failed' },
  release: {
    from: ['allocated', 'deployed', 'failed_deployment', 'failed_releasing'],
    to: 'releasing',
    power: 'off',
    operator: true,
    summary: 'power off and return the node to ready once the BMC confirms off',
  },
  abort: {
    from: ['commissioning', 'deploying', 'entering_rescue'],
    to: 'prevStatus',
    power: 'off',
    operator: true,
    summary: 'stop the transition, power off, go back to the previous status',
  },
  rescue: { from: ['deployed', 'broken'], to: 'entering_rescue', power: 'cycle', operator: true, summary: 'boot the node into rescue mode' },
  rescue_done: { from: ['entering_rescue'], to: 'rescue', operator: false, summary: 'rescue mode is up' },
  rescue_failed: { from: ['entering_rescue', 'exiting_rescue'], to: 'broken', operator: false, summary: 'rescue failed' },
  exit_rescue: { from: ['rescue'], to: 'exiting_rescue', power: 'rescue_exit', operator: true, summary: 'leave rescue mode' },
  mark_broken: { from: STATUSES.filter((s) => s !== 'broken'), to: 'broken', operator: true, summary: 'take the node out of service' },
  mark_fixed: { from: ['broken'], to: 'ready', power: 'off', operator: true, summary: 'return a repaired node to ready (powers off)' },
};

export const LIFECYCLE_EVENT_TYPES = Object.keys(LIFECYCLE_EVENTS) as LifecycleEventType[];

/**
 * Transitional statuses wait on the power op they requested (the tracked op). Its result
 * completes or fails them; the reported `*_done` events complete the others.
 */
export interface Completion {
  /** Status when the tracked op succeeds (and, for `needsOff`, the BMC reads off). */
  readonly succeeded?: LifecycleTarget;
  readonly needsOff?: boolean;
  /** Status when the tracked op fails. */
  readonly failed: Status;
}

export const COMPLETIONS: Readonly<Partial<Record<Status, Completion>>> = {
  commissioning: { failed: 'failed_commissioning' },
  deploying: { failed: 'failed_deployment' },
  releasing: { succeeded: 'ready', needsOff: true, failed: 'failed_releasing' },
  entering_rescue: { failed: 'broken' },
  exiting_rescue: { succeeded: 'rescueFrom', failed: 'broken' },
};

export function isTransitional(status: Status): boolean {
  return COMPLETIONS[status] !== undefined;
}

export function powerAllowedIn(status: Status, action: PowerAction): boolean {
  return action === 'query' || (POWER_GATE[status] as readonly PowerAction[]).includes(action);
}

export function statusesAllowingPower(action: PowerAction): Status[] {
  return STATUSES.filter((s) => powerAllowedIn(s, action));
}

export function lifecycleAllowedIn(status: Status, event: LifecycleEventType): boolean {
  return LIFECYCLE_EVENTS[event].from.includes(status);
}

/** A word of the chart as people read it: `soft_off` → `soft off`. The one humanise of src/ (the UI gets the results from /api/v1/gating). */
export function humanize(word: string): string {
  return word.replace(/_/g, ' ');
}

export function powerRefusalMessage(status: Status, action: PowerAction): string {
  const where = statusesAllowingPower(action).map(humanize).join(', ');
  return `power ${humanize(action)} is not allowed while the node is ${humanize(status)}; it is allowed when the node is ${where}`;
}

export function lifecycleRefusalMessage(status: Status, event: LifecycleEventType): string {
  const where = LIFECYCLE_EVENTS[event].from.map(humanize).join(', ');
  return `${humanize(event)} is not allowed while the node is ${humanize(status)}; it is allowed when the node is ${where}`;
}
