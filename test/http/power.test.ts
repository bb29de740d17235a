import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';
import { MAX_BULK_NODES } from '../../src/http/schemas.ts';

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
});
afterAll(async () => {
  await t?.close();
});

/** A new sim node, once the host's first query of it has ended (so both slots are free). */
async function idleNode(name: string, params: Record<string, unknown> = {}) {
  const node = await t.simNode(name, params);
  await eventually(() => (t.host.findNode(name)?.power.inFlight === null ? true : undefined), 5_000, `${name} idle`);
  return node;
}

const power = (node: string, action: string, role: 'viewer' | 'operator' | 'admin' = 'operator') =>
  t.app.inject({ method: 'POST', url: `/api/v1/nodes/${node}/power`, headers: t.auth(role), payload: { action } });

describe('POST /api/v1/nodes/:id/power', () => {
  it('202 accepted with the committed op; the op is readable at once', async () => {
    const node = await idleNode('p-accept', { latencyMs: 5 });
    const res = await power('p-accept', 'off');
    expect(res.statusCode).toBe(202);
    const { op, node: view } = res.json();
    expect(op).toMatchObject({ nodeId: node.id, action: 'off', origin: 'user', requestedBy: 'token:test-operator' });
    expect(['pending', 'in_flight']).toContain(op.state);
    expect(view.power.desired).toBe('off');
    const read = await t.app.inject({ method: 'GET', url: `/api/v1/ops/${op.id}`, headers: t.auth('viewer') });
    expect(read.statusCode).toBe(200);
    expect(read.json().id).toBe(op.id);
    const done = await eventually(async () => {
      const r = await t.app.inject({ method: 'GET', url: `/api/v1/ops/${op.id}`, headers: t.auth('viewer') });
      const body = r.json() as { state: string; finishedAt: string | null };
      return body.state === 'succeeded' ? body : undefined;
    });
    expect(done.finishedAt).not.toBeNull();
  });

  it('200 coalesced: a repeat of the op in flight returns that op', async () => {
    await idleNode('p-coalesce', { latencyMs: 400 });
    const first = await power('p-coalesce', 'off');
    expect(first.statusCode).toBe(202);
    const again = await power('p-coalesce', 'off');
    expect(again.statusCode).toBe(200);
    expect(again.json().op.id).toBe(first.json().op.id);
  });

  it('409 slots_full when an op is in flight and another pending; the slots stay as they were', async () => {
    await idleNode('p-full', { latencyMs: 500 });
    const first = await power('p-full', 'off');
    expect(first.statusCode).toBe(202);
    const second = await power('p-full', 'soft_off');
    expect(second.statusCode).toBe(202);
    const before = t.host.findNode('p-full')!;
    const res = await power('p-full', 'off');
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('slots_full');
    expect(res.json().error.details.status).toBe('new');
    const after = t.host.findNode('p-full')!;
    expect(after.power.inFlight?.opId).toBe(first.json().op.id);
    expect(after.power.pending?.opId).toBe(second.json().op.id);
    expect(after.power.desired).toBe(before.power.desired);
    // The refusal is history (invariant 8), never a live op.
    const ops = (await t.app.inject({ method: 'GET', url: '/api/v1/nodes/p-full/ops', headers: t.auth('viewer') })).json().items;
    const live = ops.filter((o: { state: string }) => o.state === 'pending' || o.state === 'in_flight');
    expect(live.map((o: { id: string }) => o.id).sort()).toEqual([first.json().op.id, second.json().op.id].sort());
  });

  it('409 not_allowed_in_status names the status and where it would be allowed', async () => {
    await idleNode('p-gate');
    const res = await power('p-gate', 'on');
    expect(res.statusCode).toBe(409);
    const { error } = res.json();
    expect(error.code).toBe('not_allowed_in_status');
    expect(error.message).toMatch(/new/);
    expect(error.message).toMatch(/allocated/);
    expect(error.details.status).toBe('new');
    expect(error.details.allowedIn).toContain('deployed');
    expect(error.details.allowedIn).not.toContain('new');
  });

  it('404 for an unknown node, 400 for an unknown action, 403 for a viewer, 401 without a token', async () => {
    expect((await power('no-such-node', 'off')).statusCode).toBe(404);
    const bad = await power('p-gate', 'explode');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/action|allowed/);
    expect((await power('p-gate', 'off', 'viewer')).statusCode).toBe(403);
    const anon = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/p-gate/power', payload: { action: 'off' } });
    expect(anon.statusCode).toBe(401);
  });
});

describe('POST /api/v1/power (bulk)', () => {
  it('answers every node in order with its own status: 202, 200, 409, 404', async () => {
    await idleNode('b-1', { latencyMs: 300 });
    await idleNode('b-2', { latencyMs: 300 });
    await idleNode('b-3', { latencyMs: 300 });
    expect((await power('b-2', 'off')).statusCode).toBe(202);
    expect((await power('b-3', 'off')).statusCode).toBe(202);
    expect((await power('b-3', 'soft_off')).statusCode).toBe(202);
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/power',
      headers: t.auth('operator'),
      payload: { nodes: ['b-1', 'b-2', 'b-3', 'b-missing'], action: 'off' },
    });
    expect(res.statusCode).toBe(200);
    const { results } = res.json();
    expect(results.map((r: { node: string }) => r.node)).toEqual(['b-1', 'b-2', 'b-3', 'b-missing']);
    expect(results.map((r: { status: number }) => r.status)).toEqual([202, 200, 409, 404]);
    expect(results[0].op.action).toBe('off');
    expect(results[2].error.code).toBe('slots_full');
    expect(results[3].error.code).toBe('node_not_found');
  });

  it('409 not_allowed_in_status per node in a bulk request', async () => {
    await idleNode('b-gate');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/power', headers: t.auth('operator'), payload: { nodes: ['b-gate'], action: 'cycle' } });
    expect(res.json().results[0]).toMatchObject({ status: 409, error: { code: 'not_allowed_in_status', details: { status: 'new' } } });
  });

  it('400 and nothing changed for a duplicate (also id + name of one node), an empty list or too many nodes', async () => {
    const node = await idleNode('b-dup');
    const before = await t.quiet();
    for (const nodes of [['b-dup', 'b-dup'], ['b-dup', node.id], [], Array.from({ length: MAX_BULK_NODES + 1 }, (_, i) => `x-${i}`)]) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/power', headers: t.auth('operator'), payload: { nodes, action: 'off' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    }
    expect(await t.rowCounts()).toEqual(before);
  });
});

describe('lifecycle', () => {
  it('202 with the power op the transition asks for, then the walk to allocated', async () => {
    await idleNode('l-walk', { latencyMs: 2 });
    const commission = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-walk/lifecycle', headers: t.auth('operator'), payload: { event: 'commission' } });
    expect(commission.statusCode).toBe(202);
    expect(commission.json().op).toMatchObject({ action: 'cycle', origin: 'lifecycle' });
    expect(commission.json().node.status).toBe('commissioning');
    await eventually(() => (t.host.findNode('l-walk')?.power.inFlight === null ? true : undefined));
    const done = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-walk/lifecycle', headers: t.auth('operator'), payload: { event: 'commissioning_done' } });
    expect(done.statusCode).toBe(202);
    expect(done.json().node.status).toBe('ready');
    await eventually(() => (t.host.findNode('l-walk')?.power.inFlight === null ? true : undefined));
    const allocate = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-walk/lifecycle', headers: t.auth('operator'), payload: { event: 'allocate' } });
    expect(allocate.statusCode).toBe(202);
    expect(allocate.json().op).toBeNull();
    expect(allocate.json().node.status).toBe('allocated');
  });

  it('409 not_allowed_in_status for an event the status forbids; 400 for an unknown event', async () => {
    await idleNode('l-gate');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-gate/lifecycle', headers: t.auth('operator'), payload: { event: 'deploy' } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'not_allowed_in_status', details: { status: 'new' } });
    expect(res.json().error.message).toMatch(/allocated/);
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-gate/lifecycle', headers: t.auth('operator'), payload: { event: 'teleport' } });
    expect(bad.statusCode).toBe(400);
    const viewer = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/l-gate/lifecycle', headers: t.auth('viewer'), payload: { event: 'commission' } });
    expect(viewer.statusCode).toBe(403);
  });
});

describe('manual driver confirm', () => {
  it('a person confirms the state an op waits for; 409 when nothing waits', async () => {
    const create = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: t.auth('admin'),
      payload: { name: 'm-1', driver: 'manual', params: { location: 'rack 4' } },
    });
    expect(create.statusCode).toBe(201);
    const nothing = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/m-1/power/confirm', headers: t.auth('operator'), payload: { observed: 'off' } });
    expect(nothing.statusCode).toBe(409);
    expect(nothing.json().error.code).toBe('not_confirmable');
    expect((await power('m-1', 'off')).statusCode).toBe(202);
    await eventually(() => (t.host.findNode('m-1')?.power.phase === 'confirming' ? true : undefined));
    const confirm = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/m-1/power/confirm', headers: t.auth('operator'), payload: { observed: 'off' } });
    expect(confirm.statusCode).toBe(200);
    expect(confirm.json().node.power.observed).toBe('off');
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/m-1/power/confirm', headers: t.auth('operator'), payload: { observed: 'error' } });
    expect(bad.statusCode).toBe(400);
  });
});

describe('history', () => {
  it('lists a node\'s ops and events newest first, paged; 404 for unknown node or op', async () => {
    await idleNode('h-1', { latencyMs: 1 });
    for (const action of ['off', 'query', 'soft_off']) {
      expect([200, 202]).toContain((await power('h-1', action)).statusCode);
      await eventually(() => (t.host.findNode('h-1')?.power.inFlight === null ? true : undefined));
    }
    const ops = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/h-1/ops?limit=2', headers: t.auth('viewer') });
    expect(ops.statusCode).toBe(200);
    expect(ops.json().items).toHaveLength(2);
    expect(ops.json().nextCursor).not.toBeNull();
    const rest = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/h-1/ops?limit=2&cursor=${ops.json().nextCursor}`, headers: t.auth('viewer') });
    expect(rest.statusCode).toBe(200);
    const ids = [...ops.json().items, ...rest.json().items].map((o: { id: string }) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    const events = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/h-1/events?limit=3', headers: t.auth('viewer') });
    expect(events.statusCode).toBe(200);
    const items = events.json().items as { id: number; kind: string }[];
    expect(items).toHaveLength(3);
    expect(items[0]!.id).toBeGreaterThan(items[1]!.id);
    const more = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/h-1/events?cursor=${events.json().nextCursor}`, headers: t.auth('viewer') });
    expect(more.json().items[0].id).toBeLessThan(items[2]!.id);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/nodes/nope/events', headers: t.auth('viewer') })).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/ops/op_nope', headers: t.auth('viewer') })).json().error.code).toBe('op_not_found');
    const badCursor = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/h-1/events?cursor=WzFd_garbage', headers: t.auth('viewer') });
    expect(badCursor.statusCode).toBe(400);
  });
});
