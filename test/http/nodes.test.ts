import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpStack, type HttpStack } from '../support/http.ts';

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
});
afterAll(async () => {
  await t?.close();
});

const json = (body: unknown) => ({ 'content-type': 'application/json', ...((body as object) ?? {}) });

describe('nodes', () => {
  it('creates a node (201) and shows it by id and by name', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: t.auth('admin'),
      payload: { name: 'n-create', driver: 'sim', params: { latencyMs: 1 } },
    });
    expect(res.statusCode).toBe(201);
    const node = res.json();
    expect(node).toMatchObject({ name: 'n-create', driver: 'sim', status: 'new', power: { desired: null } });
    expect(node.allowed.power).toContain('off');
    expect(node).not.toHaveProperty('params');

    const byId = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/${node.id}`, headers: t.auth('viewer') });
    expect(byId.statusCode).toBe(200);
    expect(byId.json().id).toBe(node.id);
    const byName = await t.app.inject({ method: 'GET', url: '/api/v1/nodes/n-create', headers: t.auth('viewer') });
    expect(byName.json().id).toBe(node.id);
  });

  it('refuses a second node with the same name (409 node_name_taken)', async () => {
    await t.simNode('n-dup');
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('admin'), payload: { name: 'n-dup', driver: 'sim', params: {} } });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('node_name_taken');
  });

  it('refuses params the driver does not accept (400 invalid_params) and changes nothing', async () => {
    const before = await t.quiet();
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: t.auth('admin'),
      payload: { name: 'n-badparams', driver: 'sim', params: { latencyMs: 'slow' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_params');
    expect(res.json().error.message).toMatch(/latencyMs/);
    expect(await t.rowCounts()).toEqual(before);
  });

  it('400 bad_request for a body the schema refuses, with the schema\'s complaint', async () => {
    const cases = [
      { name: 'x', driver: 'nope', params: {} },
      { name: '', driver: 'sim', params: {} },
      { name: 'x', driver: 'sim' },
      { name: 'x', driver: 'sim', params: {}, extra: 1 },
      { name: 'bad name with spaces', driver: 'sim', params: {} },
    ];
    for (const payload of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('admin'), payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
      expect(res.json().error.message.length).toBeGreaterThan(5);
    }
  });

  it('lists with status and power filters and pages with limit + cursor', async () => {
    for (let i = 0; i < 5; i++) await t.simNode(`page-${i}`);
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = `/api/v1/nodes?limit=2&status=new${cursor === null ? '' : `&cursor=${cursor}`}`;
      const res = await t.app.inject({ method: 'GET', url: q, headers: t.auth('viewer') });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.items.length).toBeLessThanOrEqual(2);
      names.push(...body.items.map((n: { name: string }) => n.name));
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 100);
    expect(names.filter((n) => n.startsWith('page-'))).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);
    expect([...names].sort()).toEqual(names);
    expect(new Set(names).size).toBe(names.length);

    const none = await t.app.inject({ method: 'GET', url: '/api/v1/nodes?status=deployed', headers: t.auth('viewer') });
    expect(none.json().items).toEqual([]);
    const off = await t.app.inject({ method: 'GET', url: '/api/v1/nodes?power=on', headers: t.auth('viewer') });
    expect(off.json().items.every((n: { power: { observed: string } }) => n.power.observed === 'on')).toBe(true);
  });

  it('400 for a bad filter, limit or cursor', async () => {
    for (const q of ['status=flying', 'limit=0', 'limit=5000', 'limit=abc', 'cursor=%%%', 'cursor=not*a*cursor', 'power=maybe', 'unknown=1']) {
      const res = await t.app.inject({ method: 'GET', url: `/api/v1/nodes?${q}`, headers: t.auth('viewer') });
      expect(res.statusCode, q).toBe(400);
      expect(res.json().error.code).toBe('bad_request');
    }
  });

  it('patches a node (admin) and 404s an unknown one', async () => {
    const node = await t.simNode('n-patch');
    const res = await t.app.inject({ method: 'PATCH', url: `/api/v1/nodes/${node.id}`, headers: t.auth('admin'), payload: { driftPolicy: 'enforce' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().driftPolicy).toBe('enforce');
    const empty = await t.app.inject({ method: 'PATCH', url: `/api/v1/nodes/${node.id}`, headers: t.auth('admin'), payload: {} });
    expect(empty.statusCode).toBe(400);
    const missing = await t.app.inject({ method: 'PATCH', url: '/api/v1/nodes/nope', headers: t.auth('admin'), payload: { driftPolicy: 'adopt' } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('node_not_found');
  });

  it('deletes a node (204); then it is gone (404)', async () => {
    const node = await t.simNode('n-delete');
    const res = await t.app.inject({ method: 'DELETE', url: '/api/v1/nodes/n-delete', headers: t.auth('admin') });
    expect(res.statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: `/api/v1/nodes/${node.id}`, headers: t.auth('viewer') });
    expect(after.statusCode).toBe(404);
    const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/nodes/${node.id}`, headers: t.auth('admin') });
    expect(again.statusCode).toBe(404);
  });

  it('refuses to delete a node with an op in flight (409 node_busy)', async () => {
    const node = await t.simNode('n-busy', { latencyMs: 400 });
    const power = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/${node.id}/power`, headers: t.auth('operator'), payload: { action: 'off' } });
    expect(power.statusCode).toBe(202);
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/nodes/${node.id}`, headers: t.auth('admin') });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('node_busy');
  });
});

describe('auth on node routes', () => {
  it('401 without a token, with a wrong one, or a malformed header; 403 for a too-small role', async () => {
    const noToken = await t.app.inject({ method: 'GET', url: '/api/v1/nodes' });
    expect(noToken.statusCode).toBe(401);
    expect(noToken.json().error.code).toBe('unauthorized');
    const wrong = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: 'Bearer sbt_nope' } });
    expect(wrong.statusCode).toBe(401);
    const malformed = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: 'Basic abc' } });
    expect(malformed.statusCode).toBe(401);
    const viewerCreates = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('viewer'), payload: { name: 'v', driver: 'sim', params: {} } });
    expect(viewerCreates.statusCode).toBe(403);
    expect(viewerCreates.json().error.code).toBe('forbidden');
    const operatorCreates = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: t.auth('operator'), payload: { name: 'o', driver: 'sim', params: {} } });
    expect(operatorCreates.statusCode).toBe(403);
    const operatorDeletes = await t.app.inject({ method: 'DELETE', url: '/api/v1/nodes/x', headers: t.auth('operator') });
    expect(operatorDeletes.statusCode).toBe(403);
  });

  it('413 for a body over the limit and 415 for a non-JSON body, nothing changed', async () => {
    const before = await t.quiet();
    const big = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: json(t.auth('admin')),
      payload: JSON.stringify({ name: 'big', driver: 'sim', params: { pad: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('payload_too_large');
    const text = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: { ...t.auth('admin'), 'content-type': 'text/plain' }, payload: 'name=x' });
    expect(text.statusCode).toBe(415);
    expect(text.json().error.code).toBe('unsupported_media_type');
    const form = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: { ...t.auth('admin'), 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=x' });
    expect(form.statusCode).toBe(415);
    const badJson = await t.app.inject({ method: 'POST', url: '/api/v1/nodes', headers: json({ ...t.auth('admin') }), payload: '{"name":' });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('bad_request');
    expect(await t.rowCounts()).toEqual(before);
  });

  it('404 JSON for an unknown route', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/nothing-here', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('not_found');
    const post = await t.app.inject({ method: 'POST', url: '/api/v2/nodes' });
    expect(post.statusCode).toBe(404);
    expect(post.json().error.code).toBe('not_found');
  });
});
