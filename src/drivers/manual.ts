/**
 * Manual driver: for machines without a reachable BMC. There is nothing to talk to, so a
 * command "succeeds" at once — it stands for an instruction shown to a person ("press the
 * power button of rack 4 unit 12"). The driver is not queryable: the actor host must not treat
 * the acknowledgement as done, but keep the step in `verifying` until the person confirms the
 * result through the API, which the host delivers to the chart as a `CONFIRM` event. The
 * node's observed state is what the person confirmed. `query` throws 'unsupported' so a host
 * that forgets the capability fails loudly instead of inventing a state.
 */
import { Type } from '@sinclair/typebox';
import { resolveLimits } from './timing.ts';
import { DriverError, abortError, type DriverCapabilities, type PowerDriver, type StepAck } from './types.ts';

export interface ManualParams {
  /** Where the machine is, shown with the instruction (e.g. "DC2 rack 4 U12"). */
  location?: string;
  /** Extra instructions for the person (e.g. "hold the button 5 s for a hard off"). */
  instructions?: string;
}

const paramsSchema = Type.Object(
  {
    location: Type.Optional(Type.String({ maxLength: 200 })),
    instructions: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

const CAPABILITIES: DriverCapabilities = {
  softOff: true,
  queryable: false,
  // A person has to walk to the machine; one who confirmed the wrong state is not asked again.
  ...resolveLimits(
    { requestTimeoutMs: 1_000, commandBudgetMs: 1_000, settleMs: 0, stepTimeoutMs: 3_600_000, attempts: 1, minIntervalMs: 0 },
    {},
  ),
};

/** The instruction is shown by the host; the driver only refuses when already aborted. */
async function acknowledge(signal: AbortSignal): Promise<StepAck> {
  if (signal.aborted) throw abortError(signal);
  return {};
}

/** Takes no dependencies; the parameter keeps the factories' call shape uniform. */
export function createManualDriver(_deps: object = {}): PowerDriver<ManualParams> {
  return {
    name: 'manual',
    paramsSchema,
    secretParams: [],
    capabilities: () => CAPABILITIES,
    // Each machine is its own "BMC": a person at one rack does not hold up another.
    defaultBmc: (params, nodeId) => `manual:${nodeId ?? params.location ?? 'unplaced'}`,
    powerOn: (_target, signal) => acknowledge(signal),
    powerOff: (_target, signal) => acknowledge(signal),
    softOff: (_target, signal) => acknowledge(signal),
    query: async () => {
      throw new DriverError('unsupported', 'manual: the power state cannot be read; a person confirms it instead');
    },
  };
}
