/**
 * Host and Origin checks: DNS rebinding (a Host that is not a name of this server) and
 * cross-site requests and WebSockets (a browser's Origin of another site) are refused with 403
 * before auth, any route or the upgrade; requests without Origin (curl, the CLI) and the UI's
 * own origin pass, also in demo mode (open read from localhost).
 */
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { hostAllowed, originAllowed, type OriginPolicy } from '../../src/http/auth.ts';
import { startHttpStack, type HttpStack } from '../support/http.ts';

interface Outcome {
  status: number | undefined;
  messages: { type: string }[];
  body: string;
  /** The socket was still open when collecting ended. */
  open: boolean;
}

/** Opens a real WebSocket with these headers; collects what the server sends for a short while. */
function openStream(url: string, headers: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const messages: { type: string }[] = [];
    const ws = new WebSocket(url, { headers });
    const done = (status: number | undefined, body = '') => {
      setTimeout(() => {
        const open = ws.readyState === WebSocket.OPEN;
        ws.terminate();
        resolve({ status, messages, body, open });
      }, status === 101 ? 200 : 0);
    };
    ws.on('message', (data: WebSocket.RawData) => messages.push(JSON.parse(data.toString()) as { type: string }));
    ws.on('open', () => done(101));
    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s)).on('end', () => {
        // A refused upgrade leaves the request to the listener to end (ws does not).
        req.destroy();
        done(res.statusCode, body);
      });
    });
    ws.on('error', () => undefined);
  });
}

let t: HttpStack;
let port: number;
let base: string;
beforeAll(async () => {
  // Demo mode: the open read from localhost is what a cross-site page would abuse.
  t = await startHttpStack({ auth: { openReadOnLocalhost: true }, env: { SWITCHBOARD_ALLOWED_ORIGINS: 'https://ops.example', SWITCHBOARD_ALLOWED_HOSTS: 'switchboard.example,proxy.example:8443' } });
  await t.simNode('o-1');
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await t?.close();
});

describe('Host check (DNS rebinding)', () => {
  it('refuses an API request whose Host is not a name of this server, with forbidden_host', async () => {
    for (const host of ['attacker.example', `attacker.example:${port}`, 'localhost.attacker.example', 'proxy.example:9999']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { host } });
      expect(res.statusCode, host).toBe(403);
      expect(res.json().error.code).toBe('forbidden_host');
      expect(res.json().error.message).toContain('SWITCHBOARD_ALLOWED_HOSTS');
    }
  });

  it('refuses it before auth: with a valid token, on public routes, the UI and /docs too', async () => {
    for (const url of ['/api/v1/nodes', '/healthz', '/', '/docs', '/api/v1/no-such-route']) {
      const res = await t.app.inject({ method: 'GET', url, headers: { host: 'attacker.example', ...t.auth('admin') } });
      expect(res.statusCode, url).toBe(403);
      expect(res.json().error.code, url).toBe('forbidden_host');
    }
    const write = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/o-1/power', headers: { host: 'attacker.example', ...t.auth('admin') }, payload: { action: 'off' } });
    expect(write.statusCode).toBe(403);
  });

  it('answers loopback names and IP addresses on any port, HOST and the configured names', async () => {
    for (const host of ['localhost', 'localhost:80', `127.0.0.1:${port}`, `[::1]:${port}`, '10.1.2.3:3000', 'LOCALHOST', 'switchboard.example', 'switchboard.example:3000', 'proxy.example:8443']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { host } });
      expect(res.statusCode, host).toBe(200);
    }
  });

  it('refuses a real request (the CLI talks the same way) only for a foreign Host', async () => {
    expect((await fetch(`${base}/api/v1/nodes`)).status).toBe(200);
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      request(`${base}/api/v1/nodes`, { headers: { host: `attacker.example:${port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode);
      }).on('error', reject).end();
    });
    expect(status).toBe(403);
  });
});

describe('Origin check (cross-site requests and WebSockets)', () => {
  it('a WebSocket from another site gets no fleet snapshot: the upgrade is refused with forbidden_origin', async () => {
    const out = await openStream(`ws://127.0.0.1:${port}/api/v1/stream`, { origin: 'http://evil.example' });
    expect(out.status).toBe(403);
    expect(out.messages).toEqual([]);
    expect(JSON.parse(out.body).error.code).toBe('forbidden_origin');
    expect(out.body).not.toContain('o-1');
    expect(out.open).toBe(false);
  });

  it('refuses foreign, null and look-alike origins, also with a valid token', async () => {
    for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${port + 1}`, `http://127.0.0.1.evil.example:${port}`, 'https://ops.example:444', 'chrome-extension://abc']) {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { host: `127.0.0.1:${port}`, origin, ...t.auth('viewer') } });
      expect(res.statusCode, origin).toBe(403);
      expect(res.json().error.code, origin).toBe('forbidden_origin');
      expect(res.json().error.message).toContain('SWITCHBOARD_ALLOWED_ORIGINS');
    }
  });

  it('demo mode stays usable from the UI itself: same-origin stream and API, and a configured origin', async () => {
    const same = await openStream(`ws://127.0.0.1:${port}/api/v1/stream`, { origin: base });
    expect(same.status).toBe(101);
    expect(same.messages[0]?.type).toBe('snapshot');
    expect(same.open).toBe(true);
    const res = await fetch(`${base}/api/v1/nodes`, { headers: { origin: base } });
    expect(res.status).toBe(200);
    const configured = await t.app.inject({ method: 'GET', url: '/api/v1/nodes', headers: { host: `127.0.0.1:${port}`, origin: 'https://ops.example' } });
    expect(configured.statusCode).toBe(200);
  });

  it('requests without Origin (curl, the CLI) pass', async () => {
    const out = await openStream(`ws://127.0.0.1:${port}/api/v1/stream`, {});
    expect(out.status).toBe(101);
    expect(out.messages[0]?.type).toBe('snapshot');
    expect(out.open).toBe(true);
  });
});

describe('the policy', () => {
  const policy: OriginPolicy = { listenHost: 'sb.lab', allowedHosts: ['a.example', 'b.example:8443'], allowedOrigins: ['https://ops.example'] };
  it('matches Host names', () => {
    expect(hostAllowed(policy, 'sb.lab:3000')).toBe(true);
    expect(hostAllowed(policy, 'SB.LAB.')).toBe(true);
    expect(hostAllowed(policy, 'a.example:1')).toBe(true);
    expect(hostAllowed(policy, 'b.example:8443')).toBe(true);
    expect(hostAllowed(policy, 'b.example')).toBe(false);
    expect(hostAllowed(policy, '[fd00::1]:3000')).toBe(true);
    expect(hostAllowed(policy, 'evil.example')).toBe(false);
    expect(hostAllowed(policy, 'a.example@evil.example')).toBe(false);
    expect(hostAllowed(policy, '')).toBe(false);
  });
  it('matches origins against the Host, with default ports (a TLS proxy in front is the same origin)', () => {
    expect(originAllowed(policy, 'https://sb.lab', 'sb.lab')).toBe(true);
    expect(originAllowed(policy, 'http://sb.lab', 'sb.lab:80')).toBe(true);
    expect(originAllowed(policy, 'http://sb.lab:3000', 'sb.lab:3000')).toBe(true);
    expect(originAllowed(policy, 'http://sb.lab:3001', 'sb.lab:3000')).toBe(false);
    expect(originAllowed(policy, 'https://ops.example', 'sb.lab')).toBe(true);
    expect(originAllowed(policy, 'null', 'sb.lab')).toBe(false);
  });
  it('is configured through validated variables', () => {
    expect(() => loadConfig({ SWITCHBOARD_ALLOWED_HOSTS: 'a b' })).toThrow(ConfigError);
    expect(() => loadConfig({ SWITCHBOARD_ALLOWED_HOSTS: 'a b' })).toThrow(/SWITCHBOARD_ALLOWED_HOSTS/);
    expect(() => loadConfig({ SWITCHBOARD_ALLOWED_ORIGINS: 'ops.example' })).toThrow(/SWITCHBOARD_ALLOWED_ORIGINS/);
    expect(() => loadConfig({ SWITCHBOARD_ALLOWED_ORIGINS: 'https://ops.example/app' })).toThrow(/SWITCHBOARD_ALLOWED_ORIGINS/);
    const c = loadConfig({ SWITCHBOARD_ALLOWED_HOSTS: 'A.example, b.example:8443', SWITCHBOARD_ALLOWED_ORIGINS: 'HTTPS://Ops.example:443/' });
    expect(c.allowedHosts).toEqual(['a.example', 'b.example:8443']);
    expect(c.allowedOrigins).toEqual(['https://ops.example']);
  });
});
