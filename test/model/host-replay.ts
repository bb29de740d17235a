/**
 * Replays the chart's transition-cover paths against the real host, database and (scripted)
 * sim BMC: after each step the persisted snapshot has the model's abstract key, the open op rows
 * match the model's slots, and the sim's power agrees with what the model observed.
 */
import { transition } from 'xstate';
import type { Kysely } from 'kysely';
import { attachSettings } from '../../src/actors/stored-snapshot.ts';
import { createTestableHost, type TestableHost } from '../../src/actors/testing.ts';
import { getSnapshot } from '../../src/db/repositories/snapshots.ts';
import type { Database } from '../../src/db/schema.ts';
import { SimBmcFleet } from '../../src/drivers/sim/index.ts';
import { initialContext, nodeMachine } from '../../src/machines/node-machine.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
import type { LifecycleEventType, NodeEvent } from '../../src/machines/types.ts';
import { LIFECYCLE_EVENT_TYPES } from '../../src/machines/gating.ts';
import { testConfig, testSecretKey, until } from '../support/host.ts';
import { modelKey, type ModelConfig } from './node-model.ts';
import { createScriptedBmc } from './scripted-bmc.ts';

type ModelSnapshot = ReturnType<typeof nodeMachine.resolveState>;
const LIFECYCLE = new Set<string>(LIFECYCLE_EVENT_TYPES);
const caller = { requestedBy: 'replay' };
const neverFires = { setTimeout: () => null, clearTimeout: () => {} };

/** Results and timers of another op, step or attempt: the model ignores them, the host never makes them. */
function isStaleFor(model: ModelSnapshot, event: NodeEvent): boolean {
  const op = model.context.inFlight;
  if (!op) return 'opId' in event && !LIFECYCLE.has(event.type) && event.type !== 'POWER' && event.type !== 'SYNC_DUE';
  if ('attempt' in event) return event.opId !== op.opId || event.step !== op.step || event.attempt !== op.attempt;
  if (event.type === 'RETRY_DUE' || event.type === 'POLL_DUE' || event.type === 'CONFIRM') return event.opId !== op.opId;
  return false;
}

export interface ReplayResult {
  paths: number;
  steps: number;
  staleSkipped: number;
  restarts: number;
}

export async function replayPaths(db: Kysely<Database>, config: ModelConfig, paths: NodeEvent[][]): Promise<ReplayResult> {
  const fleet = new SimBmcFleet({ bmcLimit: 1 });
  const bmc = createScriptedBmc(fleet);
  const secretKey = testSecretKey();
  // The host's clock: a restart moves it past every command's latest end, so recovery (which waits
  // for it, invariant 10) proceeds at once while the scheduler stays in the replay's hands.
  let skew = 0;
  const clock = () => Date.now() + skew;
  const build = (): TestableHost =>
    createTestableHost({
      db,
      clock,
      config: testConfig({ SWITCHBOARD_GLOBAL_CONCURRENCY: '10000' }),
      secretKey,
      drivers: { sim: bmc.driver as never },
      scheduler: neverFires,
      bootQueries: false,
    });
  let host = build();
  await host.start();
  const result: ReplayResult = { paths: 0, steps: 0, staleSkipped: 0, restarts: 0 };
  const settings = config.settings;
  const queryable = settings.queryable ?? true;
  try {
    for (const [index, path] of paths.entries()) {
      const name = `replay-${config.name.replace(/\W+/g, '-')}-${index}-${Date.now()}`;
      const view = await host.createNode(
        { name, driver: 'sim', params: { maxAttempts: settings.retry?.attempts ?? DEFAULT_RETRY_POLICY.attempts, queryable }, driftPolicy: settings.driftPolicy ?? 'adopt', softOffEscalate: settings.softOffEscalate ?? true },
        caller,
      );
      const id = view.id;
      // A new node asks its BMC once; an 'unknown' answer leaves it exactly in the model's start state.
      if (queryable) await (await bmc.next(id)).read('unknown');
      let model = nodeMachine.resolveState({ value: { lifecycle: 'new', power: 'idle' }, context: initialContext({ settings }) });
      await agree(id, model, `path ${index} start`);
      for (const [stepIndex, event] of path.entries()) {
        if (isStaleFor(model, event)) {
          result.staleSkipped++;
          continue;
        }
        const [next] = transition(nodeMachine, model, event);
        await apply(id, event);
        await agree(id, next, `path ${index} step ${stepIndex} (${event.type})`, event);
        model = next;
        result.steps++;
      }
      result.paths++;
    }
  } finally {
    await host.stop();
  }
  return result;

  async function apply(id: string, event: NodeEvent): Promise<void> {
    const at = clock();
    if (event.type === 'POWER' && event.origin === 'user') await host.requestPower(id, event.action, caller);
    else if (event.type === 'POWER' || event.type === 'CONFIGURE') await host.internals.send(id, { ...event, ...('opId' in event ? { opId: `${event.opId}-${at}` } : {}), at });
    else if (LIFECYCLE.has(event.type)) await host.lifecycle(id, event.type as LifecycleEventType, caller);
    else if (event.type === 'SYNC_DUE') host.internals.fireTimer(id, 'sync');
    else if (event.type === 'DEADLINE') {
      // A command given up on at its deadline is waited out to its latest end (invariant 10): let that pass.
      skew += 10 * 60_000;
      host.internals.fireTimer(id, 'deadline');
    }
    else if (event.type === 'RETRY_DUE') host.internals.fireTimer(id, 'retry');
    else if (event.type === 'POLL_DUE') host.internals.fireTimer(id, 'poll');
    else if (event.type === 'CONFIRM') await host.confirm(id, event.observed, caller);
    else if (event.type === 'STEP_ACK') await (await bmc.next(id)).ack(event.observed);
    else if (event.type === 'STEP_FAILED' || event.type === 'QUERY_FAILED') (await bmc.next(id)).fail(event.retryable);
    else if (event.type === 'QUERY_DONE') await (await bmc.next(id)).read(event.observed);
    else if (event.type === 'COMMAND_STARTED' || event.type === 'COMMAND_ABANDONED') {
      // The host's own events about the command it runs: sent with the host's op id.
      const op = host.getNode(id)!.power.inFlight!;
      await host.internals.send(id, { ...event, opId: op.opId, step: op.step, attempt: op.attempt, at });
    } else if (event.type === 'RECOVER') {
      // A restart: a new host restores every node from the database and sends RECOVER where due,
      // once the latest end of the command it had in flight has passed.
      await host.stop();
      skew += 10 * 60_000;
      host = build();
      await host.start();
      result.restarts++;
    }
  }

  async function agree(id: string, model: ModelSnapshot, where: string, event?: NodeEvent): Promise<void> {
    const expected = modelKey(model);
    let persisted = '';
    let ops = '';
    const slots = [
      model.context.inFlight && `${model.context.inFlight.action}/${model.context.inFlight.origin}/in_flight`,
      model.context.pending && `${model.context.pending.action}/${model.context.pending.origin}/pending`,
    ]
      .filter(Boolean)
      .sort()
      .join(',');
    try {
      await until(
        async () => {
          await host.internals.settled();
          const row = await getSnapshot(db, id);
          // Settings are not stored (src/actors/stored-snapshot.ts): the node's come from its row.
          persisted = row ? modelKey(attachSettings(row.snapshot, model.context.settings) as never) : 'none';
          const open = await db.selectFrom('power_ops').select(['action', 'origin', 'state']).where('node_id', '=', id).where('state', 'in', ['pending', 'in_flight']).execute();
          ops = open.map((o) => `${o.action}/${o.origin}/${o.state}`).sort().join(',');
          return persisted === expected && ops === slots;
        },
        'the host agrees with the model',
        3000,
      );
    } catch {
      throw new Error(`${where}: host and model disagree\n  event:    ${JSON.stringify(event)}\n  model:    ${expected}\n  database: ${persisted}\n  model slots: ${slots}\n  open ops:    ${ops}`);
    }
    const observed = model.context.observed;
    const readBmc = event?.type === 'QUERY_DONE' || (event?.type === 'STEP_ACK' && event.observed !== undefined);
    if (readBmc && (observed === 'on' || observed === 'off') && fleet.power(id) !== observed) {
      throw new Error(`${where}: the sim BMC reads ${fleet.power(id)} but the model observed ${observed}`);
    }
  }
}
