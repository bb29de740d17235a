import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';

const PASSWORD = 'hunter2-very-secret-pw';
const BEARER = 'bearer-secret-abcdef123456';

let t: HttpStack;
const logLines: string[] = [];
beforeAll(async () => {
  t = await startHttpStack({ logLines });
});
afterAll(async () => {
  await t?.close();
});

describe('driver secrets are write-only', () => {
  it('never appear in a reply, the history, the stream or the log', async () => {
    const ws = await t.app.injectWS('/api/v1/stream', { headers: t.auth('viewer') });
    const received: string[] = [];
    ws.on('message', (data: WebSocket.RawData) => received.push(data.toString()));

    const redfish = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: t.auth('admin'),
      payload: { name: 's-redfish', driver: 'redfish', params: { url: 'http://127.0.0.1:9', user: 'root', password: PASSWORD } },
    });
    expect(redfish.statusCode).toBe(201);
    const webhook = await t.app.inject({
      method: 'POST',
      url: '/api/v1/nodes',
      headers: t.auth('admin'),
      payload: { name: 's-webhook', driver: 'webhook', params: { onUrl: 'http://127.0.0.1:9/on', offUrl: 'http://127.0.0.1:9/off', bearer: BEARER } },
    });
    expect(webhook.statusCode).toBe(201);
    // Params change only while idle (the first query of an unreachable BMC fails after its retries).
    await eventually(() => (t.host.findNode('s-webhook')?.power.inFlight === null ? true : undefined), 10_000);
    const patched = await t.app.inject({
      method: 'PATCH',
      url: '/api/v1/nodes/s-webhook',
      headers: t.auth('admin'),
      payload: { params: { onUrl: 'http://127.0.0.1:9/on', offUrl: 'http://127.0.0.1:9/off', bearer: `${BEARER}-2` } },
    });
    expect(patched.statusCode).toBe(200);
    const powered = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/s-webhook/power', headers: t.auth('operator'), payload: { action: 'off' } });
    expect([200, 202]).toContain(powered.statusCode);

    const replies = [redfish.body, webhook.body, patched.body, powered.body];
    for (const url of ['/api/v1/nodes', '/api/v1/nodes/s-redfish', '/api/v1/nodes/s-webhook', '/api/v1/nodes/s-redfish/events', '/api/v1/nodes/s-webhook/events', '/api/v1/nodes/s-webhook/ops']) {
      const res = await t.app.inject({ method: 'GET', url, headers: t.auth('admin') });
      expect(res.statusCode).toBe(200);
      replies.push(res.body);
    }
    await eventually(() => (received.length >= 3 ? true : undefined));
    ws.terminate();

    const everything = [...replies, ...received, ...logLines].join('\n');
    // The test would fail if the secret were anywhere: make sure we looked at something real.
    expect(everything).toContain('s-redfish');
    expect(logLines.length).toBeGreaterThan(5);
    for (const secret of [PASSWORD, BEARER]) expect(everything).not.toContain(secret);
    expect(everything).not.toContain(t.tokens.admin);
    expect(everything).not.toContain(t.tokens.operator);
  });

  it('the stream token in the url is not logged', async () => {
    const ws = await t.app.injectWS(`/api/v1/stream?token=${t.tokens.viewer}`);
    await new Promise((r) => ws.once('message', r));
    ws.terminate();
    expect(logLines.join('\n')).not.toContain(t.tokens.viewer);
    expect(logLines.join('\n')).toContain('token=***');
  });
});

describe('tokens', () => {
  it('an admin creates a token shown once, lists tokens without secrets, revokes one with immediate effect', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.auth('admin'), payload: { name: 'ci', role: 'operator' } });
    expect(created.statusCode).toBe(201);
    const { id, token, role } = created.json();
    expect(role).toBe('operator');
    expect(token).toMatch(/^sbt_/);

    const use = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: `Bearer ${token}` } });
    expect(use.statusCode).toBe(200);

    const list = await t.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: t.auth('admin') });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((x: { id: string }) => x.id)).toContain(id);
    expect(list.body).not.toContain(token);
    expect(list.body).not.toMatch(/hash/i);

    const revoke = await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: t.auth('admin') });
    expect(revoke.statusCode).toBe(204);
    const after = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { authorization: `Bearer ${token}` } });
    expect(after.statusCode).toBe(401);
    const again = await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: t.auth('admin') });
    expect(again.statusCode).toBe(404);
  });

  it('revoking a token closes its open streams', async () => {
    const created = (await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.auth('admin'), payload: { name: 'watcher', role: 'viewer' } })).json();
    const ws = await t.app.injectWS(`/api/v1/stream?token=${created.token}`);
    const closed = new Promise<number>((r) => ws.once('close', (code: number) => r(code)));
    await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${created.id}`, headers: t.auth('admin') });
    expect(await closed).toBe(1008);
  });

  it('token routes are admin only; the last admin token cannot be revoked', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: t.auth('operator') })).statusCode).toBe(403);
    expect((await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.auth('viewer'), payload: { name: 'x', role: 'admin' } })).statusCode).toBe(403);
    const bad = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.auth('admin'), payload: { name: 'x', role: 'root' } });
    expect(bad.statusCode).toBe(400);
    const list = (await t.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: t.auth('admin') })).json().items;
    const admins = list.filter((x: { role: string; revokedAt: string | null }) => x.role === 'admin' && x.revokedAt === null);
    expect(admins).toHaveLength(1);
    const res = await t.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${admins[0].id}`, headers: t.auth('admin') });
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('last_admin');
  });
});

describe('open read on localhost (demo mode)', () => {
  it('lets a loopback client read without a token, but not write', async () => {
    const open = await startHttpStack({ auth: { openReadOnLocalhost: true } });
    try {
      expect((await open.app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode).toBe(200);
      expect((await open.app.inject({ method: 'GET', url: '/api/v1/nodes', remoteAddress: '10.1.2.3' })).statusCode).toBe(401);
      const write = await open.app.inject({ method: 'POST', url: '/api/v1/power', payload: { nodes: ['x'], action: 'off' } });
      expect(write.statusCode).toBe(401);
      expect((await open.app.inject({ method: 'GET', url: '/api/v1/tokens' })).statusCode).toBe(401);
    } finally {
      await open.close();
    }
    // Off by default.
    expect((await t.app.inject({ method: 'GET', url: '/api/v1/nodes' })).statusCode).toBe(401);
  });
});
