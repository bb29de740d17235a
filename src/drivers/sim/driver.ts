/**
 * The `sim` PowerDriver: speaks to a SimBmcFleet in this process, or to a sim BMC process
 * over HTTP (which outlives a crash of Switchboard, so crash tests see the BMC's real state).
 */
import { DriverError, abortError, type DriverCapabilities, type DriverTarget, type PowerDriver, type Reading, type StepAck } from '../types.ts';
import type { SimBmcBackend, SimCommandKind } from './backend.ts';
import type { SimBmcFleet } from './bmc-fleet.ts';
import { SimBmcClient, type SimBmcClientOptions } from './client.ts';
import { SimParamsSchema, simLimits, type SimParams } from './params.ts';

export type SimDriverDeps =
  | { readonly fleet: SimBmcFleet }
  | ({ readonly url: string } & SimBmcClientOptions)
  | { readonly backend: SimBmcBackend };

export type SimPowerDriver = PowerDriver<SimParams> & {
  /** Releases the HTTP connections (no-op in process). */
  close(): Promise<void>;
};

export function createSimDriver(deps: SimDriverDeps): SimPowerDriver {
  const client = 'url' in deps ? new SimBmcClient(deps.url, deps) : undefined;
  const backend: SimBmcBackend = 'fleet' in deps ? deps.fleet : 'backend' in deps ? deps.backend : (client as SimBmcClient);

  const send = async (target: DriverTarget<SimParams>, kind: SimCommandKind, signal: AbortSignal) => {
    if (signal.aborted) throw abortError(signal);
    try {
      return await backend.command({ nodeId: target.nodeId, bmc: target.bmc, kind, params: target.params }, signal);
    } catch (err) {
      if (err instanceof DriverError) throw err;
      throw new DriverError('protocol', `sim BMC: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const step = async (target: DriverTarget<SimParams>, kind: SimCommandKind, signal: AbortSignal): Promise<StepAck> => {
    const reply = await send(target, kind, signal);
    return target.params.reportsStateOnAck ? { observed: reply.power } : {};
  };

  return {
    name: 'sim',
    paramsSchema: SimParamsSchema,
    secretParams: [],
    capabilities(params: SimParams): DriverCapabilities {
      return {
        softOff: true,
        queryable: true,
        ...simLimits(params),
      };
    },
    defaultBmc(params: SimParams, nodeId?: string): string {
      return params.bmc ?? (nodeId === undefined ? 'sim' : `sim:${nodeId}`);
    },
    powerOn: (target, signal) => step(target, 'on', signal),
    powerOff: (target, signal) => step(target, 'off', signal),
    softOff: (target, signal) => step(target, 'soft', signal),
    query: async (target, signal): Promise<Reading> => (await send(target, 'query', signal)).power,
    close: async () => {
      await client?.close();
    },
  };
}
