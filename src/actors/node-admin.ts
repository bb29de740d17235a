/**
 * Creating, changing and deleting nodes: params validated by the driver's schema (and what a
 * schema cannot say), secrets encrypted before they are stored, names unique, and a node's row
 * and first snapshot written together. A node's driver, params or BMC change only while it is idle.
 */
import { Value } from '@sinclair/typebox/value';
import type { Kysely } from 'kysely';
import { commitBatch } from '../db/commit-batch.ts';
import { NODE_NAME_CONSTRAINT, isUniqueViolation } from '../db/errors.ts';
import { inTransaction } from '../db/executor.ts';
import { insertEvents, type NewEvent } from '../db/repositories/events.ts';
import { deleteNode, insertNode, updateNode, type NodeRecord } from '../db/repositories/nodes.ts';
import type { Database } from '../db/schema.ts';
import { timingProblem } from '../drivers/timing.ts';
import type { DriverName, PowerDriver } from '../drivers/types.ts';
import { AppError, nodeNameTaken, nodeNotFound } from '../errors.ts';
import { powerPhase } from '../machines/derive.ts';
import { MACHINE_VERSION } from '../machines/node-machine.ts';
import { encryptParams, type SecretKey } from '../secrets.ts';
import { newNodeId, newOpId } from './ids.ts';
import { newRuntime, startActor, type NodeRuntime } from './node-runtime.ts';
import { nodeSettings } from './node-settings.ts';
import type { NodeTable } from './node-table.ts';
import { driverNamed, type DriverRegistry } from './restore.ts';
import { storedSnapshotOf } from './stored-snapshot.ts';
import type { Meta } from './transitions.ts';
import type { Caller, CreateNodeInput, UpdateNodeInput } from './types.ts';
import type { NodeEvent } from '../machines/types.ts';

export interface NodeAdminDeps {
  db: Kysely<Database>;
  drivers: DriverRegistry;
  secretKey: SecretKey;
  clock: () => number;
  nodes: NodeTable;
  dispatch(node: NodeRuntime, event: NodeEvent, meta: Meta): Promise<unknown>;
  publish(node: NodeRuntime, events: NewEvent[], ids: number[], deleted?: boolean): void;
  reconcile(node: NodeRuntime): void;
  /** A deleted node's timers go. */
  clear(node: NodeRuntime): void;
  /** The node a request may act on (not shutting down, not faulted). */
  usable(idOrName: string): NodeRuntime;
  stopping(): boolean;
  /** The fleet has been restored and commands run (a new node asks its BMC at once). */
  started(): boolean;
}

function driverOrRefuse(drivers: DriverRegistry, name: string): PowerDriver {
  const driver = driverNamed(drivers, name);
  if (!driver) throw new AppError('invalid_params', `unknown driver "${name}"`);
  return driver;
}

export function validateParams(driver: PowerDriver, params: Record<string, unknown>): void {
  if (!Value.Check(driver.paramsSchema, params)) {
    const problems = [...Value.Errors(driver.paramsSchema, params)]
      .slice(0, 5)
      .map((e) => `${e.path || '/'}: ${e.message}${typeof e.schema.description === 'string' ? ` (${e.schema.description})` : ''}`);
    throw new AppError('invalid_params', `params for the ${driver.name} driver are not valid: ${problems.join('; ')}`, { problems });
  }
  try {
    driver.validateParams?.(params as never);
  } catch (err) {
    throw new AppError('invalid_params', err instanceof Error ? err.message : String(err));
  }
  const timing = timingProblem(driver.capabilities(params as never).timing);
  if (timing) throw new AppError('invalid_params', `params for the ${driver.name} driver are not valid: ${timing}`);
}

export class NodeAdmin {
  constructor(private readonly deps: NodeAdminDeps) {}

  async create(input: CreateNodeInput, caller: Caller): Promise<NodeRuntime> {
    const { db, clock, nodes } = this.deps;
    if (this.deps.stopping()) throw new AppError('shutting_down');
    const driver = driverOrRefuse(this.deps.drivers, input.driver);
    validateParams(driver, input.params);
    if (nodes.nameTaken(input.name)) throw nodeNameTaken(input.name);
    const id = newNodeId();
    const bmc = input.bmc ?? driver.defaultBmc(input.params as never, id);
    const stored = encryptParams(input.params, driver.secretParams, this.deps.secretKey);
    const record: NodeRecord = {
      id,
      name: input.name,
      driver: input.driver,
      bmc,
      params: stored,
      driftPolicy: input.driftPolicy ?? 'adopt',
      softOffEscalate: input.softOffEscalate ?? true,
      createdAt: new Date(),
      updatedAt: new Date(),
      deletedAt: null,
    };
    const node = newRuntime(record);
    node.driver = driver;
    node.params = { ...input.params };
    node.actor = startActor(node, { settings: nodeSettings(record, driver.capabilities(node.params)) });
    const initial = node.actor.getSnapshot();
    const c = initial.context;
    const event: NewEvent = { nodeId: id, at: new Date(clock()), kind: 'node_created', origin: 'user', actor: caller.requestedBy, detail: { name: input.name, driver: input.driver, bmc } };
    let ids: number[];
    try {
      ids = await inTransaction(db, async (trx) => {
        const saved = await insertNode(trx, { id, name: record.name, driver: record.driver, bmc, params: stored, driftPolicy: record.driftPolicy, softOffEscalate: record.softOffEscalate });
        node.record = saved;
        const snapshot = { nodeId: id, machineVersion: MACHINE_VERSION, seq: 1, snapshot: storedSnapshotOf(initial), status: c.status, observed: c.observed, desired: c.desired };
        return (await commitBatch(trx, { snapshots: [snapshot], ops: [], events: [event] })).eventIds;
      });
    } catch (err) {
      node.actor.stop();
      if (isUniqueViolation(err, NODE_NAME_CONSTRAINT)) throw nodeNameTaken(input.name);
      if (err instanceof AppError) throw err;
      throw new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    node.stagedSeq = node.committedSeq = 1;
    node.committedState = initial;
    nodes.add(node);
    this.deps.publish(node, [event], ids);
    // Learn the power state at once rather than at the first sync.
    if (this.deps.started() && c.settings.queryable) {
      await this.deps.dispatch(node, { type: 'POWER', action: 'query', origin: 'sync', opId: newOpId(), at: clock() }, { requestedBy: null, origin: 'sync' }).catch(() => {});
    } else this.deps.reconcile(node);
    return node;
  }

  async update(idOrName: string, patch: UpdateNodeInput, caller: Caller): Promise<NodeRuntime> {
    const { db, nodes } = this.deps;
    const node = this.deps.usable(idOrName);
    const changesDriver = patch.driver !== undefined || patch.params !== undefined || patch.bmc !== undefined;
    const phase = powerPhase(node.actor!.getSnapshot());
    if (changesDriver && (phase !== 'idle' || node.running)) {
      throw new AppError('node_busy', `node ${node.record.name} has an op in flight; change its driver, params or BMC when it is idle`);
    }
    const driver = driverOrRefuse(this.deps.drivers, patch.driver ?? (node.record.driver as DriverName));
    const params = patch.params ?? (patch.driver ? {} : node.params);
    if (patch.params !== undefined || patch.driver !== undefined) validateParams(driver, params);
    if (patch.name !== undefined && patch.name !== node.record.name && nodes.nameTaken(patch.name)) throw nodeNameTaken(patch.name);
    let saved: NodeRecord | undefined;
    try {
      saved = await updateNode(db, node.id, {
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.driver !== undefined ? { driver: patch.driver } : {}),
        ...(changesDriver ? { bmc: patch.bmc ?? driver.defaultBmc(params as never, node.id) } : {}),
        ...(patch.params !== undefined || patch.driver !== undefined ? { params: encryptParams(params, driver.secretParams, this.deps.secretKey) } : {}),
        ...(patch.driftPolicy !== undefined ? { driftPolicy: patch.driftPolicy } : {}),
        ...(patch.softOffEscalate !== undefined ? { softOffEscalate: patch.softOffEscalate } : {}),
      });
    } catch (err) {
      if (isUniqueViolation(err, NODE_NAME_CONSTRAINT)) throw nodeNameTaken(patch.name!);
      throw new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    if (!saved) throw nodeNotFound(idOrName);
    nodes.rename(node, node.record.name, saved.name);
    node.record = saved;
    node.driver = driver;
    node.params = params;
    const settings = nodeSettings(saved, driver.capabilities(params));
    await this.deps.dispatch(node, { type: 'CONFIGURE', settings, at: this.deps.clock() }, { requestedBy: caller.requestedBy, origin: 'user' });
    return node;
  }

  async delete(idOrName: string, caller: Caller): Promise<void> {
    const { db, nodes } = this.deps;
    if (this.deps.stopping()) throw new AppError('shutting_down');
    const node = nodes.lookup(idOrName);
    if (node.actor && (powerPhase(node.actor.getSnapshot()) !== 'idle' || node.running)) {
      throw new AppError('node_busy', `node ${node.record.name} has an op in flight or pending; wait for it to finish, then delete`);
    }
    try {
      await deleteNode(db, node.id);
      await insertEvents(db, [{ nodeId: node.id, at: new Date(this.deps.clock()), kind: 'node_deleted', origin: 'user', actor: caller.requestedBy }]);
    } catch (err) {
      throw new AppError('database_unavailable', undefined, undefined, { cause: err });
    }
    this.deps.clear(node);
    node.actor?.stop();
    nodes.remove(node);
    this.deps.publish(node, [], [], true);
  }
}
