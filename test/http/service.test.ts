import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENTS, POWER_GATE } from '../../src/machines/gating.ts';
import { POWER_ACTIONS, STATUSES } from '../../src/machines/types.ts';
import { startHttpStack, type HttpStack } from '../support/http.ts';

let t: HttpStack;
let uiRoot: string;
beforeAll(async () => {
  uiRoot = await mkdtemp(join(tmpdir(), 'switchboard-ui-'));
  await writeFile(join(uiRoot, 'index.html'), '<!doctype html><title>UI here</title>');
  await writeFile(join(uiRoot, 'app.js'), 'console.log(1)');
  t = await startHttpStack({ uiRoot });
});
afterAll(async () => {
  await t?.close();
  await rm(uiRoot, { recursive: true, force: true });
});

describe('health and readiness', () => {
  it('/healthz answers without a token', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ok: true });
  });

  it('/readyz is 200 with a live database', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, checks: { database: true, host: true } });
  });
});

describe('metrics', () => {
  it('counts ops by action/origin/result and shows gauges, with a token', async () => {
    await t.simNode('m-node');
    await t.app.inject({ method: 'POST', url: '/api/v1/nodes/m-node/power', headers: t.auth('operator'), payload: { action: 'on' } });
    expect((await t.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const res = await t.app.inject({ method: 'GET', url: '/metrics', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.body).toMatch(/switchboard_ops_total\{action="on",origin="user",result="refused"\} 1/);
    expect(res.body).toMatch(/switchboard_ops_in_flight \d+/);
    expect(res.body).toMatch(/switchboard_ops_pending \d+/);
    expect(res.body).toMatch(/switchboard_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/nodes\/:id\/power"/);
    expect(res.body).toMatch(/switchboard_stream_clients 0/);
    expect(res.body).toMatch(/switchboard_commit_batch_transitions_count [1-9]/);
  });
});

describe('statechart and gating', () => {
  it.each([
    ['svg', /image\/svg\+xml/, /<svg/],
    ['dot', /text\/vnd\.graphviz/, /digraph/],
    ['mermaid', /text\/plain/, /stateDiagram/],
    ['json', /application\/json/, /"lifecycle"|"states"/],
  ])('format %s', async (format, type, body) => {
    const res = await t.app.inject({ method: 'GET', url: `/api/v1/statechart?format=${format}`, headers: t.auth('viewer') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(type);
    expect(res.body).toMatch(body);
  });

  it('400 for an unknown format', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/statechart?format=png', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(400);
  });

  it('the gating table is the one in src/machines', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/gating', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(200);
    const table = res.json();
    expect(table.power.deployed).toEqual([...POWER_GATE.deployed, 'query']);
    expect(table.power.commissioning).toEqual(['query']);
    expect(table.lifecycle.release.from).toEqual(LIFECYCLE_EVENTS.release.from);
  });

  it('serves the chart\'s words the UI shows: statuses, actions with labels, transitional statuses, event labels', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/gating', headers: t.auth('viewer') });
    const table = res.json();
    expect(table.statuses).toEqual([...STATUSES]);
    expect(table.powerActions).toEqual([...POWER_ACTIONS]);
    expect(table.actionLabels).toEqual({ on: 'On', off: 'Off', soft_off: 'Soft off', cycle: 'Cycle', query: 'Query' });
    expect(table.transitional).toEqual(['commissioning', 'deploying', 'releasing', 'entering_rescue', 'exiting_rescue']);
    expect(table.labels.failed_commissioning).toBe('failed commissioning');
    expect(table.lifecycle.mark_broken).toMatchObject({ label: 'mark broken', summary: LIFECYCLE_EVENTS.mark_broken.summary });
  });
});

describe('docs and UI', () => {
  it('serves the OpenAPI 3 document with every route', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/v1/nodes', '/api/v1/nodes/{id}', '/api/v1/nodes/{id}/power', '/api/v1/power', '/api/v1/nodes/{id}/lifecycle', '/api/v1/tokens', '/api/v1/statechart', '/api/v1/gating', '/api/v1/ops/{id}']) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect(doc.paths['/api/v1/nodes/{id}/power'].post.responses).toHaveProperty(['409']);
    const ui = await t.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it('serves the UI folder at / and nothing outside it', async () => {
    const index = await t.app.inject({ method: 'GET', url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('UI here');
    const js = await t.app.inject({ method: 'GET', url: '/app.js' });
    expect(js.headers['content-type']).toMatch(/javascript/);
    for (const url of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/missing.js']) {
      const res = await t.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.body).not.toContain('"name": "switchboard"');
    }
  });
});

describe('readiness without a database', () => {
  it('/readyz is 503 when the database is closed, and API reads that need it fail with 503 not 500', async () => {
    const s = await startHttpStack();
    try {
      await s.simNode('r-1');
      await s.handle.close();
      const res = await s.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ ready: false, checks: { database: false } });
      const events = await s.app.inject({ method: 'GET', url: '/api/v1/nodes/r-1/events', headers: s.auth('viewer') });
      expect(events.statusCode).toBe(503);
      expect(events.json().error.code).toBe('database_unavailable');
    } finally {
      await s.app.close();
      await s.host.stop().catch(() => undefined);
    }
  });
});
