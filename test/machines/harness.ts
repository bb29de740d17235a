/** A node actor driven by hand in tests: time is a counter, results are sent explicitly. */
import { createActor, type Snapshot } from 'xstate';
import { commandFor, powerPhase, type Command } from '../../src/machines/derive.ts';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import type { NodeEmitted, NodeEvent, NodeSettings, PowerAction, Reading } from '../../src/machines/types.ts';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export function startNode(settings: Partial<NodeSettings> = {}, snapshot?: Snapshot<unknown>) {
  const actor = snapshot ? createActor(nodeMachine, { snapshot: snapshot as never, input: undefined }) : createActor(nodeMachine, { input: { settings } });
  const emitted: NodeEmitted[] = [];
  const commands: Command[] = [];
  actor.on('*', (e) => emitted.push(e as NodeEmitted));
  let now = 1_000;
  let seq = 0;
  let lastCommand: string | null = null;
  const trackCommand = () => {
    const cmd = commandFor(actor.getSnapshot());
    const key = cmd && `${cmd.opId}/${cmd.step}/${cmd.attempt}/${cmd.kind}`;
    if (cmd && key !== lastCommand) commands.push(cmd);
    lastCommand = key;
  };
  actor.subscribe(trackCommand);
  actor.start();
  if (snapshot) {
    // A restored snapshot's command was sent before the crash; only what follows counts.
    const cmd = commandFor(actor.getSnapshot());
    lastCommand = cmd && `${cmd.opId}/${cmd.step}/${cmd.attempt}/${cmd.kind}`;
    commands.length = 0;
  } else trackCommand();
  const send = (event: DistributiveOmit<NodeEvent, 'at'>) => {
    now += 1_000;
    actor.send({ ...event, at: now } as NodeEvent);
    return actor.getSnapshot();
  };
  const node = {
    actor,
    emitted,
    /** Every driver command the chart asked for, in order (a query or a step). */
    commands,
    get state() {
      return actor.getSnapshot();
    },
    get ctx() {
      return actor.getSnapshot().context;
    },
    get phase() {
      return powerPhase(actor.getSnapshot());
    },
    get status() {
      return actor.getSnapshot().context.status;
    },
    send,
    power(action: PowerAction) {
      const opId = `op${++seq}`;
      const before = emitted.length;
      send({ type: 'POWER', action, origin: 'user', opId });
      const answer = emitted.slice(before).find((e) => e.type === 'request');
      if (!answer || answer.type !== 'request') throw new Error('no answer to a request');
      return answer;
    },
    lifecycle(type: Extract<NodeEvent, { opId: string; reason?: string }>['type']) {
      const opId = `lc${++seq}`;
      const before = emitted.length;
      send({ type, opId } as never);
      const answer = emitted.slice(before).find((e) => e.type === 'request');
      if (!answer || answer.type !== 'request') throw new Error('no answer to a lifecycle event');
      return answer;
    },
    /** Acknowledge the step in flight. */
    ack(observed?: Reading) {
      const op = actor.getSnapshot().context.inFlight!;
      return send({ type: 'STEP_ACK', opId: op.opId, step: op.step, attempt: op.attempt, ...(observed ? { observed } : {}) });
    },
    fail(retryable = true, error = 'BMC busy') {
      const op = actor.getSnapshot().context.inFlight!;
      return send({ type: 'STEP_FAILED', opId: op.opId, step: op.step, attempt: op.attempt, retryable, error });
    },
    read(observed: Reading) {
      const op = actor.getSnapshot().context.inFlight!;
      return send({ type: 'QUERY_DONE', opId: op.opId, step: op.step, attempt: op.attempt, observed });
    },
    /** Ack the step and answer the verification query with the step's target. */
    complete() {
      const op = actor.getSnapshot().context.inFlight!;
      const target = op.step === 'on' ? 'on' : 'off';
      if (op.step !== 'query') node.ack();
      return node.read(op.step === 'query' ? 'on' : target);
    },
    opStates(opId: string) {
      return emitted.filter((e) => e.type === 'op' && e.opId === opId).map((e) => (e.type === 'op' ? e.state : ''));
    },
  };
  return node;
}
