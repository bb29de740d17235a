/** What one transition writes besides its snapshot: op rows and history events (invariant 8). */
import { describe, expect, it } from 'vitest';
import { recordsFor } from '../../src/actors/records.ts';
import { startNode } from '../machines/harness.ts';

const meta = { requestedBy: 'alice', origin: 'user' as const };

/** Sends one event to a node in the harness and returns the records of that transition. */
function transition(node: ReturnType<typeof startNode>, send: () => void) {
  const before = node.ctx;
  const from = node.emitted.length;
  send();
  return recordsFor('n1', before, node.ctx, node.emitted.slice(from), { ...meta, at: 5_000 });
}

describe('recordsFor', () => {
  it('writes an op that starts at once as in flight only: no pending row or event repeating the accepted request', () => {
    const node = startNode();
    node.lifecycle('mark_broken');
    const { ops, events } = transition(node, () => node.power('on'));
    expect(ops.map((o) => o.state)).toEqual(['in_flight']);
    expect(ops[0]).toMatchObject({ action: 'on', origin: 'user', requestedBy: 'alice', startedAt: expect.any(Date) });
    expect(events.map((e) => e.kind)).toEqual(['power_accepted', 'op_in_flight', 'desired_changed']);
  });

  it('writes an op that has to wait as pending, and its start later as in flight', () => {
    const node = startNode();
    node.lifecycle('mark_broken');
    const first = node.power('on');
    const waiting = transition(node, () => node.power('off'));
    expect(waiting.ops.map((o) => [o.id, o.state])).toEqual([[expect.not.stringMatching(first.opId!), 'pending']]);
    expect(waiting.events.map((e) => e.kind)).toEqual(['power_accepted', 'op_pending', 'desired_changed']);
    node.complete();
    const started = node.emitted.filter((e) => e.type === 'op' && e.state === 'in_flight').map((e) => (e.type === 'op' ? e.opId : ''));
    expect(started).toContain(waiting.ops[0]!.id);
  });
});
