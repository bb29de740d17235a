/**
 * Hostile input at every route: malformed and hostile bodies, path params, query strings,
 * headers and tokens. Whatever comes in: no 5xx, no crash, every error is a catalogued JSON
 * error, and nothing changes (the host's nodes and every table's row count stay the same).
 *
 * Refused-by-construction: path ids never name an existing node ("fz" prefix), and an object
 * body always carries an unknown property, so no generated request can be a valid change.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.ts';
import { HTTP_STATUS } from '../../src/http/error-handler.ts';
import { startHttpStack, type HttpStack } from '../support/http.ts';

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
  for (let i = 0; i < 5; i++) await t.simNode(`fuzz-node-${i}`, { latencyMs: 0 });
});
afterAll(async () => {
  await t?.close();
});

const ROUTES: readonly [string, string][] = [
  ['POST', '/api/v1/nodes'],
  ['GET', '/api/v1/nodes'],
  ['GET', '/api/v1/nodes/:id'],
  ['PATCH', '/api/v1/nodes/:id'],
  ['DELETE', '/api/v1/nodes/:id'],
  ['POST', '/api/v1/nodes/:id/power'],
  ['POST', '/api/v1/nodes/:id/power/confirm'],
  ['POST', '/api/v1/power'],
  ['POST', '/api/v1/nodes/:id/lifecycle'],
  ['GET', '/api/v1/nodes/:id/ops'],
  ['GET', '/api/v1/ops/:id'],
  ['GET', '/api/v1/nodes/:id/events'],
  ['GET', '/api/v1/statechart'],
  ['GET', '/api/v1/gating'],
  ['POST', '/api/v1/tokens'],
  ['GET', '/api/v1/tokens'],
  ['DELETE', '/api/v1/tokens/:id'],
  ['GET', '/api/v1/stream'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
  ['GET', '/'],
  ['PUT', '/api/v1/nodes'],
  ['GET', '/api/v1/../../etc/passwd'],
];

const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCXYZ[\\]^_`abcxyz{|}~'.split('')), maxLength: 40 });

const token = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom<'viewer' | 'operator' | 'admin'>('viewer', 'operator', 'admin'),
  printable.map((s) => `Bearer ${s}`),
  printable,
  fc.constantFrom('Bearer', 'Bearer ', 'bearer sbt_', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'x'.repeat(600)}`, 'Bearer sbt_\u0000'.replace('\u0000', '%00')),
);

const pathId = fc.oneof(
  printable.map((s) => `fz${encodeURIComponent(s)}`),
  fc.constantFrom('fz%2e%2e', 'fz%00', 'fz' + 'a'.repeat(600), 'fz%ZZ', 'fz\u00e9'.normalize(), 'fz%F0%9F%92%A5', 'fz..%2F..%2F'),
);

const query = fc.dictionary(
  fc.oneof(fc.constantFrom('limit', 'cursor', 'status', 'power', 'format', 'nodes', 'token'), printable),
  fc.oneof(printable, fc.integer().map(String), fc.constantFrom('-1', '1e309', 'NaN', '0', '99999999999', 'svg', 'ready', 'on')),
  { maxKeys: 4 },
);

const json = fc.jsonValue({ maxDepth: 3 });
const body = fc.oneof(
  // An object always carries an unknown key, so no schema accepts it.
  fc.dictionary(fc.constantFrom('name', 'driver', 'params', 'action', 'event', 'observed', 'nodes', 'role', 'bmc', 'driftPolicy'), json, { maxKeys: 5 })
    .map((o) => ({ kind: 'json' as const, payload: JSON.stringify({ ...o, __fz: true }) })),
  json.filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => ({ kind: 'json' as const, payload: JSON.stringify(v) })),
  printable.map((s) => ({ kind: 'json' as const, payload: `{${s}` })),
  fc.record({ kind: fc.constantFrom('text/plain', 'application/xml', 'multipart/form-data', 'application/json; charset=latin1', 'application/x-www-form-urlencoded', ''), payload: printable }),
  fc.constant({ kind: 'json' as const, payload: JSON.stringify({ __proto__: { polluted: true }, constructor: { prototype: { x: 1 } }, __fz: 1 }) }),
  fc.constant({ kind: 'none' as const, payload: '' }),
);

const request = fc.record({
  route: fc.constantFrom(...ROUTES),
  id: pathId,
  query,
  body,
  token,
  extraHeaders: fc.dictionary(fc.constantFrom('x-forwarded-for', 'content-length', 'accept', 'x-request-id', 'connection', 'upgrade'), printable, { maxKeys: 2 }),
});

describe('fuzz: hostile requests at every route', () => {
  it('never 5xx, always a catalogued JSON error, and nothing changes', async () => {
    await t.quiet();
    const nodesBefore = JSON.stringify(t.host.listNodes());
    const countsBefore = await t.rowCounts();
    const statuses = new Map<number, number>();

    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const [method, template] = r.route;
        const url = template.replace(':id', r.id) + (Object.keys(r.query).length ? `?${new URLSearchParams(r.query).toString()}` : '');
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(r.extraHeaders)) if (k !== 'content-length') headers[k] = v;
        if (r.token === 'viewer' || r.token === 'operator' || r.token === 'admin') Object.assign(headers, t.auth(r.token));
        else if (r.token !== undefined) headers.authorization = r.token;
        const withBody = r.body.kind !== 'none' && method !== 'GET';
        if (withBody && r.body.kind !== '') headers['content-type'] = r.body.kind === 'json' ? 'application/json' : r.body.kind;
        const res = await t.app.inject({ method: method as 'GET', url, headers, ...(withBody ? { payload: r.body.payload } : {}) });
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode, `${method} ${url} -> ${res.body.slice(0, 200)}`).toBeLessThan(500);
        if (res.statusCode >= 400) {
          const error = (res.json() as { error: { code: string; message: string } }).error;
          expect(ERROR_CODES).toContain(error.code);
          expect(HTTP_STATUS[error.code as keyof typeof HTTP_STATUS]).toBe(res.statusCode);
          expect(error.message.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 600, seed: 20140101 },
    );

    expect(JSON.stringify(t.host.listNodes())).toBe(nodesBefore);
    expect(await t.rowCounts()).toEqual(countsBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // The run reached past auth and validation, not just 401s.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(401) ?? 0).toBeGreaterThan(20);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(20);
  });
});
