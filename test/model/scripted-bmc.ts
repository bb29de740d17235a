/**
 * A BMC whose answers a test chooses, on top of the simulated fleet: each driver call is held
 * until the test answers it. Acks run the real command on the sim; readings are made true on
 * the sim first (a "button press"), then read from it. Capabilities come from the node params.
 */
import { Type } from '@sinclair/typebox';
import { createSimDriver, type SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { resolveLimits } from '../../src/drivers/timing.ts';
import { abortError, DriverError, type DriverTarget, type PowerDriver, type Reading, type StepAck } from '../../src/drivers/types.ts';

export type HeldKind = 'on' | 'off' | 'soft_off' | 'query';

export interface HeldCall {
  kind: HeldKind;
  nodeId: string;
  /** Runs the command on the sim and acknowledges it. */
  ack(observed?: Reading): Promise<void>;
  fail(retryable: boolean): void;
  /** Makes the sim read `reading` (on/off), then answers the query from it. */
  read(reading: Reading): Promise<void>;
}

interface ScriptedParams {
  maxAttempts: number;
  queryable: boolean;
}

export function createScriptedBmc(fleet: SimBmcFleet) {
  const sim = createSimDriver({ fleet });
  const held = new Map<string, HeldCall>();
  const waiting = new Map<string, (call: HeldCall) => void>();

  function hold(kind: HeldKind, target: DriverTarget<ScriptedParams>, signal: AbortSignal): Promise<StepAck | Reading> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError(signal));
      const done = () => {
        held.delete(target.nodeId);
        signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(abortError(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const simTarget = { ...target, params: {} } as never;
      const call: HeldCall = {
        kind,
        nodeId: target.nodeId,
        async ack(observed) {
          done();
          if (kind === 'on') await sim.powerOn(simTarget, new AbortController().signal);
          else if (kind === 'off') await sim.powerOff(simTarget, new AbortController().signal);
          else if (kind === 'soft_off') await sim.softOff(simTarget, new AbortController().signal);
          resolve(observed ? { observed } : {});
        },
        fail(retryable) {
          done();
          reject(new DriverError(retryable ? 'busy' : 'auth', retryable ? 'BMC busy' : 'wrong password'));
        },
        async read(reading) {
          done();
          if (reading === 'unknown') return resolve('unknown');
          fleet.ensureNode(target.nodeId);
          fleet.pressButton(target.nodeId, reading);
          resolve(await sim.query(simTarget, new AbortController().signal));
        },
      };
      held.set(target.nodeId, call);
      waiting.get(target.nodeId)?.(call);
      waiting.delete(target.nodeId);
    });
  }

  const driver: PowerDriver<ScriptedParams> = {
    name: 'sim',
    paramsSchema: Type.Object({ maxAttempts: Type.Integer({ minimum: 1 }), queryable: Type.Boolean() }),
    secretParams: [],
    capabilities: (p) => ({
      softOff: true,
      queryable: p.queryable,
      ...resolveLimits({ requestTimeoutMs: 30_000, commandBudgetMs: 30_000, settleMs: 0, stepTimeoutMs: 30_000, attempts: p.maxAttempts, minIntervalMs: 0 }, {}),
    }),
    defaultBmc: (_p, nodeId) => `scripted:${nodeId}`,
    powerOn: (t, s) => hold('on', t, s) as Promise<StepAck>,
    powerOff: (t, s) => hold('off', t, s) as Promise<StepAck>,
    softOff: (t, s) => hold('soft_off', t, s) as Promise<StepAck>,
    query: (t, s) => hold('query', t, s) as Promise<Reading>,
  };

  return {
    driver,
    /** The call the host has made for this node, once it makes it. */
    next(nodeId: string, timeoutMs = 5000): Promise<HeldCall> {
      const now = held.get(nodeId);
      if (now) return Promise.resolve(now);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(nodeId);
          reject(new Error(`the host made no driver call for ${nodeId} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(nodeId, (call) => {
          clearTimeout(timer);
          resolve(call);
        });
      });
    },
    isHeld: (nodeId: string) => held.has(nodeId),
  };
}
