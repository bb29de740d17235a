/**
 * Security headers (@fastify/helmet) on the UI, /docs and the API: a CSP the UI and Swagger UI
 * pass (checked in Chromium by the browser suite), nosniff, no framing, no referrer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_UI_ROOT } from '../../src/http/app.ts';
import { startHttpStack, type HttpStack } from '../support/http.ts';

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack({ uiRoot: DEFAULT_UI_ROOT });
});
afterAll(async () => {
  await t?.close();
});

function directives(csp: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of csp.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name, values);
  }
  return out;
}

describe('security headers', () => {
  const pages = [
    ['the UI', '/', 'text/html'],
    ['a UI module', '/js/main.js', 'text/javascript'],
    ['the UI stylesheet', '/style.css', 'text/css'],
    ['/docs', '/docs', 'text/html'],
    ['the OpenAPI document', '/docs/json', 'application/json'],
    ['an API route', '/api/v1/nodes', 'application/json'],
    ['a refusal (401)', '/api/v1/nodes?no-token', 'application/json'],
    ['a 404', '/api/v1/no-such-route', 'application/json'],
  ] as const;

  for (const [what, url, type] of pages) {
    it(`are on ${what} (${url})`, async () => {
      const headers = url === '/api/v1/nodes' ? t.auth('viewer') : {};
      const res = await t.app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, res.body.slice(0, 200)).toBeLessThan(url.includes('no-') ? 500 : 300);
      expect(String(res.headers['content-type'])).toContain(type);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      const csp = directives(String(res.headers['content-security-policy'] ?? ''));
      expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
      expect(csp.get('default-src')).toEqual(["'self'"]);
      expect(csp.get('script-src')).toEqual(["'self'"]);
      expect(csp.get('object-src')).toEqual(["'none'"]);
      expect(csp.get('base-uri')).toEqual(["'self'"]);
      // No inline scripts or styles anywhere, and nothing that breaks plain-HTTP deployments.
      expect(String(res.headers['content-security-policy'])).not.toMatch(/unsafe-inline|unsafe-eval|upgrade-insecure-requests/);
    });
  }

  it('the UI page has no inline script or style the CSP would block', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/' });
    expect(res.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
    expect(res.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });
});
