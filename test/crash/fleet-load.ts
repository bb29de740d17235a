/**
 * In-process helpers for the fault tests: a fleet of sim nodes on shared BMCs, a seeded stream
 * of conflicting requests that records what was acknowledged and how requests failed, and the
 * wait until the fleet is idle.
 */
import type { Host } from '../../src/actors/types.ts';
import { AppError } from '../../src/errors.ts';
import type { LifecycleEventType, PowerAction } from '../../src/machines/types.ts';
import { seededRandom } from './random.ts';

const caller = { requestedBy: 'fault-test' };
const POWER: readonly PowerAction[] = ['on', 'off', 'cycle', 'soft_off'];
const LIFECYCLE: readonly LifecycleEventType[] = ['commission', 'commissioning_done', 'allocate', 'deploy', 'deploy_done', 'release', 'abort', 'mark_broken', 'mark_fixed'];

export async function createFleet(host: Host, count: number, options: { nodesPerBmc: number; latencyMs: number; prefix: string; bmcOf?: (i: number) => string; timeoutMs?: number; initialPower?: 'on' | 'off' }): Promise<string[]> {
  const ids: string[] = [];
  for (let at = 0; at < count; at += 25) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, count - at) }, (_, k) => at + k).map((i) => host.createNode({
      name: `${options.prefix}-${i}`,
      driver: 'sim',
      params: { bmc: options.bmcOf?.(i) ?? `${options.prefix}-bmc-${Math.floor(i / options.nodesPerBmc)}`, latencyMs: options.latencyMs, seed: i, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}), ...(options.initialPower ? { initialPower: options.initialPower } : {}) },
    }, caller)));
    ids.push(...batch.map((n) => n.id));
  }
  return ids;
}

export interface LoadTally {
  requests: number;
  acked: Set<string>;
  refused: number;
  /** AppError codes of failed requests; `unexpected` counts anything else thrown. */
  errors: Record<string, number>;
  unexpected: unknown[];
}

/** Sends requests at `perSecond` until stop() is called; stop() resolves once all are answered. */
export function startLoad(host: Host, ids: readonly string[], options: { perSecond: number; seed: number }): { tally: LoadTally; stop(): Promise<LoadTally> } {
  const random = seededRandom(options.seed);
  const tally: LoadTally = { requests: 0, acked: new Set(), refused: 0, errors: {}, unexpected: [] };
  const inFlight = new Set<Promise<void>>();
  const one = async (): Promise<void> => {
    const id = ids[Math.floor(random() * ids.length)]!;
    const power = random() < 0.7;
    tally.requests++;
    try {
      const answer = power
        ? await host.requestPower(id, POWER[Math.floor(random() * POWER.length)]!, caller)
        : await host.lifecycle(id, LIFECYCLE[Math.floor(random() * LIFECYCLE.length)]!, caller);
      if (answer.result === 'refused') tally.refused++;
      else if (answer.op) tally.acked.add(answer.op.id);
    } catch (err) {
      if (err instanceof AppError) tally.errors[err.code] = (tally.errors[err.code] ?? 0) + 1;
      else tally.unexpected.push(err);
    }
  };
  const perTick = options.perSecond / 100;
  let credit = 0;
  const timer = setInterval(() => {
    credit += perTick;
    while (credit >= 1) {
      credit--;
      const p = one();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
  }, 10);
  return {
    tally,
    async stop() {
      clearInterval(timer);
      await Promise.all(inFlight);
      return tally;
    },
  };
}

/** Every node idle (no command, nothing pending) twice in a row; throws after `timeoutMs`. */
export async function waitIdle(host: Host, timeoutMs: number, ids?: readonly string[]): Promise<number> {
  const began = Date.now();
  let streak = 0;
  const watched = () => (ids ? ids.map((id) => host.getNode(id)!) : host.listNodes());
  while (streak < 2) {
    if (Date.now() - began > timeoutMs) {
      const busy = watched().filter((n) => n.power.phase !== 'idle').slice(0, 3).map((n) => `${n.name}:${n.power.phase}`);
      throw new Error(`the fleet did not settle within ${timeoutMs} ms (still busy: ${busy.join(', ')})`);
    }
    await new Promise((r) => setTimeout(r, 25));
    streak = watched().every((n) => n.power.phase === 'idle' && n.power.inFlight === null && n.power.pending === null) ? streak + 1 : 0;
  }
  return Date.now() - began;
}
