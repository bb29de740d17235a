/**
 * How long a driver gives a BMC, in one place for every driver (invariant 10 of DESIGN.md).
 *
 * - `requestTimeoutMs`: one answer from the BMC (an ipmitool packet, one HTTP request).
 * - `commandBudgetMs`: one whole command; at its end the host's client gives up on it.
 * - `settleMs`: after a client gave up, how long the BMC may still be carrying the command out
 *   (slow BMCs queue requests and execute them late). Start + budget + settle is the command's
 *   *latest end*: nothing else goes to the node, nor to its BMC under the per-BMC limit, before it.
 * - `stepTimeoutMs`: how long a step may take to reach its target (command and verification),
 *   counted from when its command is sent.
 * - `attempts`: attempts per step before the op fails: the retry policy's `attempts` (below).
 * - `minIntervalMs`: the gap the BMC wants between two commands.
 *
 * Each driver states its defaults; a node overrides any of them in its params (`timing`).
 *
 * The retry policy (src/machines/retry.ts: the formula and DEFAULT_RETRY_POLICY) takes its
 * `attempts` from the timing above, so a node's attempts live in one place (`timing.attempts`,
 * shown with the rest of the timing in the node view), and its delays from the driver's
 * defaults with the node's `params.retry` on top (`retryPolicyFor`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../machines/retry.ts';

const ms = (max: number, description: string) => Type.Integer({ minimum: 0, maximum: max, description });

export const TimingParamsSchema = Type.Object(
  {
    requestTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 600_000, description: 'Time to wait for one answer from the BMC' })),
    commandBudgetMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000, description: 'Time one command may run before Switchboard gives up on it' })),
    settleMs: Type.Optional(ms(3_600_000, 'Time a BMC may still carry out a command after Switchboard gave up on it')),
    stepTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 86_400_000, description: 'Time a step may take to reach its target, from its send' })),
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20, description: 'Attempts per step before the op fails' })),
    minIntervalMs: Type.Optional(ms(3_600_000, 'Gap the BMC wants between two commands')),
  },
  { additionalProperties: false, description: 'Overrides of the driver’s timing defaults' },
);
export type TimingParams = Static<typeof TimingParamsSchema>;

export interface Timing {
  readonly requestTimeoutMs: number;
  readonly commandBudgetMs: number;
  readonly settleMs: number;
  readonly stepTimeoutMs: number;
  readonly attempts: number;
  readonly minIntervalMs: number;
}

/** The driver's defaults with a node's overrides on top. */
export function resolveTiming(defaults: Timing, overrides: TimingParams | undefined): Timing {
  if (!overrides) return defaults;
  return {
    requestTimeoutMs: overrides.requestTimeoutMs ?? defaults.requestTimeoutMs,
    commandBudgetMs: overrides.commandBudgetMs ?? defaults.commandBudgetMs,
    settleMs: overrides.settleMs ?? defaults.settleMs,
    stepTimeoutMs: overrides.stepTimeoutMs ?? defaults.stepTimeoutMs,
    attempts: overrides.attempts ?? defaults.attempts,
    minIntervalMs: overrides.minIntervalMs ?? defaults.minIntervalMs,
  };
}

/** Attempts per step a driver gives unless it has a reason not to (manual: 1, a person confirms). */
export const DEFAULT_ATTEMPTS = DEFAULT_RETRY_POLICY.attempts;

export const RetryParamsSchema = Type.Object(
  {
    baseDelayMs: Type.Optional(ms(3_600_000, 'Wait after the first failed attempt of a step, before jitter')),
    maxDelayMs: Type.Optional(ms(86_400_000, 'Longest wait between two attempts')),
    multiplier: Type.Optional(Type.Number({ minimum: 1, maximum: 10, description: 'Each further failed attempt multiplies the wait by this' })),
    jitter: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Share of the wait randomised: 0 none, 0.5 between half and all of it, 1 anywhere from 0' })),
  },
  {
    additionalProperties: false,
    description: 'Overrides of the driver’s retry delays (attempts per step are timing.attempts); see src/machines/retry.ts',
  },
);

/** The params every driver takes besides its own: overrides of its timing and retry policy. */
export const LIMIT_PARAMS = {
  timing: Type.Optional(TimingParamsSchema),
  retry: Type.Optional(RetryParamsSchema),
};
export type RetryParams = Static<typeof RetryParamsSchema>;

/** The delays a driver uses unless it declares its own. */
export type RetryDelays = Omit<RetryPolicy, 'attempts'>;
const { attempts: _attempts, ...DEFAULT_DELAYS } = DEFAULT_RETRY_POLICY;
export const DEFAULT_RETRY_DELAYS: Readonly<RetryDelays> = Object.freeze(DEFAULT_DELAYS);

/** A node's retry policy: attempts from its timing, delays from the driver's defaults with its `params.retry` on top. */
export function retryPolicyFor(timing: Timing, overrides: RetryParams | undefined, defaults: RetryDelays = DEFAULT_RETRY_DELAYS): RetryPolicy {
  return {
    attempts: timing.attempts,
    baseDelayMs: overrides?.baseDelayMs ?? defaults.baseDelayMs,
    maxDelayMs: overrides?.maxDelayMs ?? defaults.maxDelayMs,
    multiplier: overrides?.multiplier ?? defaults.multiplier,
    jitter: overrides?.jitter ?? defaults.jitter,
  };
}

/** A driver's `timing` and `retry` capabilities for one node: the driver's defaults with the node's overrides. */
export function resolveLimits(
  defaults: Timing,
  params: { timing?: TimingParams; retry?: RetryParams },
  delays: RetryDelays = DEFAULT_RETRY_DELAYS,
): { timing: Timing; retry: RetryPolicy } {
  const timing = resolveTiming(defaults, params.timing);
  return { timing, retry: retryPolicyFor(timing, params.retry, delays) };
}

/** What a schema cannot say: the parts must fit together. Returns a message, or null when they do. */
export function timingProblem(timing: Timing): string | null {
  if (timing.requestTimeoutMs > timing.commandBudgetMs) {
    return `timing.requestTimeoutMs (${timing.requestTimeoutMs}) must not exceed timing.commandBudgetMs (${timing.commandBudgetMs}): one answer cannot take longer than the whole command`;
  }
  return null;
}
