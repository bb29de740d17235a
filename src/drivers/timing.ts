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
 * - `attempts`: attempts per step before the op fails.
 * - `minIntervalMs`: the gap the BMC wants between two commands.
 *
 * Each driver states its defaults; a node overrides any of them in its params (`timing`).
 */
import { Type, type Static } from '@sinclair/typebox';

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

/** What a schema cannot say: the parts must fit together. Returns a message, or null when they do. */
export function timingProblem(timing: Timing): string | null {
  if (timing.requestTimeoutMs > timing.commandBudgetMs) {
    return `timing.requestTimeoutMs (${timing.requestTimeoutMs}) must not exceed timing.commandBudgetMs (${timing.commandBudgetMs}): one answer cannot take longer than the whole command`;
  }
  return null;
}
