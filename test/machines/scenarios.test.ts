/** The sharp cases of the 2014 MAAS thread, and the design's resolved details, by hand. */
import { createActor } from 'xstate';
import { describe, expect, it } from 'vitest';
import { allowedActions, commandFor } from '../../src/machines/derive.ts';
import { nodeMachine } from '../../src/machines/node-machine.ts';
import { DEFAULT_RETRY_POLICY } from '../../src/machines/retry.ts';
import { startNode } from './harness.ts';

const attempts = (n: number) => ({ ...DEFAULT_RETRY_POLICY, attempts: n });

/** A node in `deployed`, observed on, desired on, idle. */
function deployedNode(settings = {}) {
  const node = startNode(settings);
  node.lifecycle('commission');
  node.complete(); // off step
  node.complete(); // on step
  node.lifecycle('commissioning_done');
  node.complete(); // off
  node.lifecycle('allocate');
  node.lifecycle('deploy');
  node.complete(); // cycle: observed off, so only the on step
  node.lifecycle('deploy_done');
  expect(node.status).toBe('deployed');
  expect(node.phase).toBe('idle');
  return node;
}

describe('conflicting requests (the seed thread)', () => {
  it('power on then power off in quick succession: off waits in the next slot and the node ends off', () => {
    const node = deployedNode();
    node.power('off');
    node.complete();
    const on = node.power('on');
    const off = node.power('off');
    expect(on.result).toBe('accepted');
    expect(off.result).toBe('accepted');
    expect(node.ctx.inFlight?.action).toBe('on');
    expect(node.ctx.pending?.action).toBe('off');
    expect(node.ctx.desired).toBe('off');
    node.complete(); // the on op finishes: off starts only now
    expect(node.ctx.inFlight?.action).toBe('off');
    node.complete();
    expect(node.phase).toBe('idle');
    expect(node.ctx.observed).toBe('off');
    expect(node.ctx.desired).toBe('off');
    expect(node.opStates(on.opId!)).toEqual(['pending', 'in_flight', 'succeeded']);
    expect(node.opStates(off.opId!)).toEqual(['pending', 'in_flight', 'succeeded']);
  });

  it('a third conflicting request is refused with slots_full and changes nothing', () => {
    const node = deployedNode();
    node.power('off');
    node.power('on');
    const before = JSON.stringify(node.state.context);
    const third = node.power('cycle');
    expect(third.result).toBe('refused');
    expect(third.refusal?.code).toBe('slots_full');
    expect(third.refusal?.message).toMatch(/off in flight and on pending/);
    expect(JSON.stringify(node.state.context)).toBe(before);
  });

  it('a repeat is coalesced with the pending op, or with the in-flight op when nothing is pending', () => {
    const node = deployedNode();
    const first = node.power('off');
    const repeat = node.power('off');
    expect(repeat).toMatchObject({ result: 'coalesced', opId: first.opId });
    const next = node.power('on');
    const repeatNext = node.power('on');
    expect(repeatNext).toMatchObject({ result: 'coalesced', opId: next.opId });
    // A query while a command is in flight joins that command.
    expect(node.power('query')).toMatchObject({ result: 'coalesced', opId: first.opId });
    expect(node.commands.filter((c) => c.kind === 'step' && c.opId === first.opId)).toHaveLength(1);
  });
});

describe('lifecycle gating', () => {
  it('refuses a power op the status forbids, naming the status and where it would be allowed', () => {
    const node = startNode();
    const answer = node.power('on');
    expect(answer.result).toBe('refused');
    expect(answer.refusal).toMatchObject({ code: 'not_allowed_in_status', status: 'new' });
    expect(answer.refusal?.allowedIn).toContain('deployed');
    expect(answer.refusal?.message).toMatch(/not allowed while the node is new.*allowed when the node is allocated/);
  });

  it('refuses lifecycle events the status does not take', () => {
    const node = startNode();
    expect(node.lifecycle('deploy').refusal?.message).toMatch(/deploy is not allowed while the node is new; it is allowed when the node is allocated/);
    expect(node.status).toBe('new');
  });

  it('release waits for the BMC to confirm off before ready', () => {
    const node = deployedNode();
    node.lifecycle('release');
    expect(node.status).toBe('releasing');
    node.ack();
    expect(node.status).toBe('releasing'); // acknowledged is not done
    node.read('on'); // still on: keep verifying
    expect(node.status).toBe('releasing');
    node.send({ type: 'POLL_DUE', opId: node.ctx.inFlight!.opId });
    node.read('off');
    expect(node.status).toBe('ready');
    expect(node.ctx.observed).toBe('off');
  });

  it('a failed release ends in failed_releasing with the reason', () => {
    const node = deployedNode({ retry: attempts(1) });
    node.lifecycle('release');
    node.fail(false, 'RAKP 2 HMAC is invalid');
    node.read('on');
    expect(node.status).toBe('failed_releasing');
    expect(node.ctx.lastError).toMatch(/RAKP 2 HMAC is invalid/);
    const note = node.emitted.find((e) => e.type === 'note' && e.kind === 'lifecycle_failed');
    expect(note?.type === 'note' && note.message).toMatch(/releasing failed/);
  });

  it('a lifecycle op supersedes a waiting user op but never cancels the one in flight', () => {
    const node = deployedNode();
    const userOff = node.power('off');
    const userOn = node.power('on');
    node.lifecycle('release');
    expect(node.ctx.inFlight?.opId).toBe(userOff.opId); // untouched
    expect(node.ctx.pending?.origin).toBe('lifecycle');
    expect(node.opStates(userOn.opId!)).toContain('superseded');
    node.complete(); // the user's off finishes normally
    expect(node.opStates(userOff.opId!)).toEqual(['pending', 'in_flight', 'succeeded']);
    expect(node.ctx.inFlight?.origin).toBe('lifecycle');
  });

  it('abort lets the in-flight lifecycle step finish, supersedes its op, powers off and goes back', () => {
    const node = startNode();
    node.lifecycle('commission');
    const cycleId = node.ctx.inFlight!.opId;
    node.lifecycle('abort');
    expect(node.status).toBe('new');
    expect(node.ctx.inFlight?.opId).toBe(cycleId);
    node.complete(); // the off step finishes; the cycle ends here, its on step never runs
    expect(node.opStates(cycleId)).toContain('superseded');
    expect(node.ctx.inFlight?.action).toBe('off');
    expect(node.commands.filter((c) => c.kind === 'step').map((c) => c.step)).toEqual(['off', 'off']);
  });

  it('exit_rescue cycles back to deployed, or powers off back to broken', () => {
    const node = deployedNode();
    node.lifecycle('rescue');
    node.complete();
    node.complete();
    node.lifecycle('rescue_done');
    expect(node.status).toBe('rescue');
    node.lifecycle('exit_rescue');
    expect(node.ctx.inFlight?.action).toBe('cycle');
    node.complete();
    node.complete();
    expect(node.status).toBe('deployed');

    const broken = startNode();
    broken.lifecycle('mark_broken');
    broken.lifecycle('rescue');
    broken.complete();
    broken.complete();
    broken.lifecycle('rescue_done');
    broken.lifecycle('exit_rescue');
    expect(broken.ctx.inFlight?.action).toBe('off');
    broken.complete();
    expect(broken.status).toBe('broken');
  });
});

describe('crash recovery', () => {
  it('a cycle interrupted by a crash resumes with a query and never reboots twice', () => {
    const node = deployedNode();
    node.power('cycle');
    node.complete(); // off done
    expect(node.ctx.inFlight?.step).toBe('on');
    // The host crashes with the on step in flight; restore from the persisted snapshot.
    const persisted = node.actor.getPersistedSnapshot();
    node.actor.stop();
    const restored = startNode({}, JSON.parse(JSON.stringify(persisted)));
    restored.send({ type: 'RECOVER' });
    const next = commandFor(restored.state);
    expect(next?.kind).toBe('query'); // verify first, never re-send blindly
    restored.read('on'); // the BMC had done it
    expect(restored.phase).toBe('idle');
    expect(restored.ctx.observed).toBe('on');
    expect(restored.commands.filter((c) => c.kind === 'step')).toHaveLength(0);
  });

  it('after recovery, a step that had not happened is retried, counting the lost attempt', () => {
    const node = deployedNode({ retry: attempts(3) });
    node.power('off');
    const restored = startNode({}, JSON.parse(JSON.stringify(node.actor.getPersistedSnapshot())));
    restored.send({ type: 'RECOVER' });
    restored.read('on'); // not off: the command was lost
    expect(restored.phase).toBe('backoff');
    restored.send({ type: 'RETRY_DUE', opId: restored.ctx.inFlight!.opId });
    expect(commandFor(restored.state)).toMatchObject({ kind: 'step', step: 'off', attempt: 2 });
  });
});

describe('failures, retries and deadlines', () => {
  it('retries a failed step after verifying, then fails visibly with the reason; desired stays', () => {
    const node = deployedNode({ retry: attempts(2) });
    node.power('off');
    node.fail(true, 'busy');
    expect(node.phase).toBe('polling'); // verify before retrying
    node.read('on');
    expect(node.phase).toBe('backoff');
    expect(node.ctx.inFlight!.retryAt).toBeGreaterThan(0);
    node.send({ type: 'RETRY_DUE', opId: node.ctx.inFlight!.opId });
    node.fail(true, 'busy again');
    node.send({ type: 'QUERY_FAILED', opId: node.ctx.inFlight!.opId, step: 'off', attempt: 2, retryable: true, error: 'no answer' });
    expect(node.phase).toBe('idle');
    expect(node.ctx.observed).toBe('error');
    expect(node.ctx.desired).toBe('off');
    expect(node.ctx.lastError).toMatch(/off failed.*2 attempt/);
  });

  it('a step that failed but reached its target anyway succeeds without a retry', () => {
    const node = deployedNode();
    const op = node.power('off');
    node.fail(true, 'timeout reading reply');
    node.read('off');
    expect(node.opStates(op.opId!)).toEqual(['pending', 'in_flight', 'succeeded']);
  });

  it('a newer request supersedes an op waiting in backoff', () => {
    const node = deployedNode();
    const off = node.power('off');
    node.fail();
    node.read('on');
    expect(node.phase).toBe('backoff');
    const on = node.power('on');
    expect(on.result).toBe('accepted');
    expect(node.opStates(off.opId!)).toContain('superseded');
    expect(node.ctx.inFlight).toMatchObject({ opId: on.opId, action: 'on', attempt: 1 });
    expect(node.phase).toBe('dispatching');
    expect(node.ctx.desired).toBe('on');
  });

  it('soft off escalates to a hard off at its deadline, or fails when escalation is off', () => {
    const node = deployedNode({ softOffEscalate: true });
    node.power('soft_off');
    node.ack();
    node.read('on');
    const op = node.ctx.inFlight!;
    node.send({ type: 'DEADLINE', opId: op.opId, step: op.step, attempt: op.attempt });
    node.read('on');
    expect(node.ctx.inFlight?.step).toBe('off');
    expect(node.emitted.some((e) => e.type === 'note' && e.kind === 'soft_off_escalated')).toBe(true);

    const strict = deployedNode({ softOffEscalate: false });
    strict.power('soft_off');
    strict.ack();
    strict.read('on');
    const op2 = strict.ctx.inFlight!;
    strict.send({ type: 'DEADLINE', opId: op2.opId, step: op2.step, attempt: op2.attempt });
    strict.read('on');
    expect(strict.phase).toBe('idle');
    expect(strict.ctx.lastError).toMatch(/soft off failed/);
  });

  it('ignores stale results from an earlier attempt', () => {
    const node = deployedNode();
    node.power('off');
    const op = node.ctx.inFlight!;
    node.send({ type: 'STEP_ACK', opId: op.opId, step: op.step, attempt: op.attempt + 1 });
    expect(node.phase).toBe('dispatching');
  });
});

describe('drift', () => {
  it('adopt: a button press seen by a sync becomes the desired state', () => {
    const node = deployedNode();
    node.send({ type: 'SYNC_DUE', opId: 'sync1' });
    node.read('off');
    expect(node.ctx.desired).toBe('off');
    expect(node.emitted.some((e) => e.type === 'note' && e.kind === 'drift_adopted')).toBe(true);
  });

  it('enforce: puts the desired state back at most three times, then reports drift_unresolved', () => {
    const node = deployedNode({ driftPolicy: 'enforce' });
    for (let i = 1; i <= 3; i++) {
      node.send({ type: 'SYNC_DUE', opId: `sync${i}` });
      node.read('off');
      expect(node.ctx.inFlight).toMatchObject({ action: 'on', origin: 'sync' });
      node.complete();
    }
    node.send({ type: 'SYNC_DUE', opId: 'sync4' });
    node.read('off');
    expect(node.phase).toBe('idle');
    expect(node.ctx.desired).toBe('on');
    expect(node.emitted.filter((e) => e.type === 'note' && e.kind === 'drift_enforced')).toHaveLength(3);
    expect(node.emitted.some((e) => e.type === 'note' && e.kind === 'drift_unresolved')).toBe(true);
  });
});

describe('manual driver (not queryable)', () => {
  it('waits for a person to confirm, then succeeds', () => {
    const node = startNode({ queryable: false });
    node.power('off');
    node.ack();
    expect(node.phase).toBe('confirming');
    expect(commandFor(node.state)).toBeNull(); // nothing to send to a BMC
    node.send({ type: 'CONFIRM', opId: node.ctx.inFlight!.opId, observed: 'off' });
    expect(node.phase).toBe('idle');
    expect(node.ctx.observed).toBe('off');
  });
});

describe('allowedActions', () => {
  it('reads the gating table and the slots', () => {
    const fresh = createActor(nodeMachine, { input: undefined }).start();
    expect(allowedActions(fresh.getSnapshot())).toEqual({ power: ['off', 'soft_off', 'query'], lifecycle: ['commission', 'mark_broken'] });
    const node = deployedNode();
    node.power('off');
    node.power('on');
    expect(allowedActions(node.state).power).toEqual(['on', 'query']);
  });
});
