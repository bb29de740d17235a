/**
 * The sim driver's node params: the fault and timing knobs of one simulated BMC.
 * Validated with TypeBox; `resolveSimParams` fills the defaults.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { RetryPolicy } from '../../machines/retry.ts';
import { LIMIT_PARAMS, DEFAULT_ATTEMPTS, resolveLimits, type Timing } from '../timing.ts';
import { DriverError } from '../types.ts';

const Millis = Type.Integer({ minimum: 0, maximum: 86_400_000 });

export const SimParamsSchema = Type.Object(
  {
    bmc: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'BMC key; default sim:<nodeId>' })),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'Time the BMC takes to answer a command' })),
    latencyJitterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000, description: 'Extra random latency, 0..n ms' })),
    failRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Probability a command fails with a retryable busy error' })),
    hangRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Probability a command never answers until aborted' })),
    settleMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400_000, description: 'Delay between an on/off ack and the power actually changing' })),
    softOffMs: Type.Optional(
      Type.Union([Millis, Type.Null()], { description: 'Time an ACPI soft off takes; null: the OS ignores it' }),
    ),
    initialPower: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])),
    seed: Type.Optional(Type.Integer({ minimum: -2_147_483_648, maximum: 4_294_967_295, description: 'Seed for deterministic faults' })),
    reportsStateOnAck: Type.Optional(Type.Boolean({ description: 'The simulated BMC answers a step with the resulting power state' })),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000, description: 'Step deadline; default 5000' })),
    minIntervalMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'Gap this BMC wants between commands' })),
    ...LIMIT_PARAMS,
  },
  { additionalProperties: false },
);

export type SimParams = Static<typeof SimParamsSchema>;

export interface ResolvedSimParams {
  readonly latencyMs: number;
  readonly latencyJitterMs: number;
  readonly failRate: number;
  readonly hangRate: number;
  readonly settleMs: number;
  /** null: a soft off is acknowledged but never powers the node off. */
  readonly softOffMs: number | null;
  readonly initialPower: 'on' | 'off';
  readonly seed: number | undefined;
}

export const DEFAULT_SIM_TIMEOUT_MS = 5_000;

/**
 * A sim BMC answers within its latency or not at all (hangRate), and applies nothing late, so
 * its budget is the step deadline (`timeoutMs`, kept for older params) and it needs no settle time.
 */
export function simLimits(params: SimParams): { timing: Timing; retry: RetryPolicy } {
  const step = params.timeoutMs ?? DEFAULT_SIM_TIMEOUT_MS;
  return resolveLimits(
    { requestTimeoutMs: step, commandBudgetMs: step, settleMs: 0, stepTimeoutMs: step, attempts: DEFAULT_ATTEMPTS, minIntervalMs: params.minIntervalMs ?? 0 },
    params,
  );
}

/** Checks raw params (from a node or an HTTP body) and fills defaults; bad params are a config error. */
export function resolveSimParams(raw: unknown): ResolvedSimParams {
  const params = raw ?? {};
  if (!Value.Check(SimParamsSchema, params)) {
    const first = Value.Errors(SimParamsSchema, params).First();
    const where = first ? `${first.path || '/'}: ${first.message}` : 'invalid';
    throw new DriverError('config', `invalid sim params (${where})`);
  }
  return {
    latencyMs: params.latencyMs ?? 0,
    latencyJitterMs: params.latencyJitterMs ?? 0,
    failRate: params.failRate ?? 0,
    hangRate: params.hangRate ?? 0,
    settleMs: params.settleMs ?? 0,
    softOffMs: params.softOffMs === undefined ? 0 : params.softOffMs,
    initialPower: params.initialPower ?? 'off',
    seed: params.seed,
  };
}

