/**
 * The manual driver through the API: an op waits (in flight, phase `confirming`) until a person
 * calls POST /api/v1/nodes/:id/power/confirm, and fails clearly at its deadline when nobody
 * does. The real manual driver, with its one-hour deadline shortened so the test is quick.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualDriver } from '../../src/drivers/manual.ts';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';

const DEADLINE_MS = 1_500;

let t: HttpStack;
beforeAll(async () => {
  const manual = createManualDriver();
  t = await startHttpStack({
    drivers: { manual: { ...manual, capabilities: (params) => ({ ...manual.capabilities(params), timing: { ...manual.capabilities(params).timing, stepTimeoutMs: DEADLINE_MS } }) } },
  });
});
afterAll(async () => {
  await t?.close();
});

async function manualNode(name: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('admin'), payload: { name, driver: 'manual', params: { location: 'DC2 rack 4 U12' } } });
  expect(res.statusCode).toBe(201);
  const broken = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/${name}/lifecycle`, headers: t.auth('operator'), payload: { event: 'mark_broken' } });
  expect(broken.statusCode).toBeLessThan(300);
}

async function requestOn(name: string): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/${name}/power`, headers: t.auth('operator'), payload: { action: 'on' } });
  expect(res.statusCode).toBe(202);
  return (res.json() as { op: { id: string } }).op.id;
}

async function readOp(id: string): Promise<{ state: string; error: unknown; finishedAt: string | null }> {
  const res = await t.app.inject({ method: 'GET', url: `/api/v1/ops/${id}`, headers: t.auth('viewer') });
  expect(res.statusCode).toBe(200);
  return res.json();
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('manual driver: waiting for a person', () => {
  it('the op stays in flight until confirmed, then succeeds with the confirmed state', async () => {
    await manualNode('by-hand-1');
    const opId = await requestOn('by-hand-1');
    await eventually(() => (t.host.findNode('by-hand-1')?.power.phase === 'confirming' ? true : undefined), 5_000, 'confirming');
    await sleep(DEADLINE_MS / 3);
    expect((await readOp(opId)).state).toBe('in_flight');
    expect(t.host.findNode('by-hand-1')?.power.phase).toBe('confirming');

    const confirm = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/by-hand-1/power/confirm', headers: t.auth('operator'), payload: { observed: 'on' } });
    expect(confirm.statusCode).toBe(200);
    const done = await eventually(async () => {
      const op = await readOp(opId);
      return op.state === 'in_flight' ? undefined : op;
    });
    expect(done.state).toBe('succeeded');
    const node = t.host.findNode('by-hand-1');
    expect(node?.power).toMatchObject({ observed: 'on', desired: 'on', inFlight: null });
  });

  it('nobody confirms: the op fails at its deadline with a message saying so', async () => {
    await manualNode('by-hand-2');
    const started = Date.now();
    const opId = await requestOn('by-hand-2');
    const done = await eventually(
      async () => {
        const op = await readOp(opId);
        return op.state === 'in_flight' || op.state === 'pending' ? undefined : op;
      },
      DEADLINE_MS * 4,
      'the op to end',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(done.state).toBe('failed');
    expect(JSON.stringify(done.error)).toMatch(/nobody confirmed the result by the deadline/);
    const node = t.host.findNode('by-hand-2');
    expect(node?.power.inFlight).toBeNull();
    expect(node?.power.lastError ?? '').toMatch(/nobody confirmed/);
    // A late confirmation finds nothing waiting.
    const late = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/by-hand-2/power/confirm', headers: t.auth('operator'), payload: { observed: 'on' } });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe('not_confirmable');
  });
});
