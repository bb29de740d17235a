/**
 * The retry policy: how often a step is tried and how long the node waits between tries. One
 * value, read by the chart from `context.settings.retry`; this file holds its shape, its
 * default and the one formula. Pure: the random part of a delay comes in on the host event
 * that ends the failed attempt (`jitter`), never from Math.random here.
 *
 * Where the values come from (drivers and nodes): `attempts` is the driver's `timing.attempts`
 * (src/drivers/timing.ts, overridable per node in `params.timing.attempts`); the delays are
 * DEFAULT_RETRY_POLICY unless a driver declares its own, overridable per node in `params.retry`
 * (`retryPolicyFor` in src/drivers/timing.ts). Which failures are retried at all: DriverError
 * kinds (RETRYABLE in src/drivers/types.ts); the chart retries a failure marked retryable.
 *
 * The shape is Temporal's RetryPolicy (initialInterval, backoffCoefficient, maximumInterval,
 * maximumAttempts); the jitter follows graphile-worker's calculateDelay, which multiplies the
 * capped delay by (0.5 + random) against thundering herds. Here the random share is a setting
 * and only shortens a delay: `maxDelayMs` is a true maximum. jitter 0.5 is "equal jitter"
 * (between half the delay and all of it), 1 "full jitter" (anywhere from 0), 0 none.
 */

export interface RetryPolicy {
  /** Attempts per step, the first included, before the op fails (1: never retried). */
  attempts: number;
  /** Delay after the first failed attempt, before jitter. */
  baseDelayMs: number;
  /** No delay is longer than this. */
  maxDelayMs: number;
  /** Each further failed attempt multiplies the delay by this (1: constant delay). */
  multiplier: number;
  /** 0..1: share of the delay randomised; the delay lies in [(1 − jitter) × d, d]. */
  jitter: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  attempts: 3,
  baseDelayMs: 2_000,
  maxDelayMs: 60_000,
  multiplier: 2,
  jitter: 0.5,
});

/** The random draw used when an event carries none (tests, replays): the middle of the range. */
export const JITTER_WHEN_ABSENT = 0.5;

const clamp01 = (x: number) => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Milliseconds to wait after failed attempt `attempt` (1-based) before the next one:
 * d = min(baseDelayMs × multiplier^(attempt − 1), maxDelayMs), then
 * delay = d × (1 − jitter) + d × jitter × random, with `random` in 0..1 from the event.
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: number = JITTER_WHEN_ABSENT): number {
  const nominal = policy.baseDelayMs * policy.multiplier ** Math.max(0, attempt - 1);
  const capped = Math.min(nominal, policy.maxDelayMs);
  const share = clamp01(policy.jitter);
  const draw = Number.isFinite(random) ? clamp01(random) : JITTER_WHEN_ABSENT;
  return Math.max(0, Math.round(capped * (1 - share + share * draw)));
}

/** Whether a step that failed at `attempt` may be tried again. */
export const attemptsLeft = (policy: RetryPolicy, attempt: number): boolean => attempt < policy.attempts;
