/**
 * Redirects in the HTTP client the redfish and webhook drivers share: followed only within the
 * request's own origin (scheme, host, port), at most MAX_REDIRECTS hops, with fetch's method
 * rules; a redirect to another origin is a config error naming that origin, and the other
 * origin receives nothing — no credential (Basic, X-Auth-Token, bearer) and no reading crosses.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHttpClient, MAX_REDIRECTS } from '../../src/drivers/http-client.ts';
import { createRedfishDriver, type RedfishParams } from '../../src/drivers/redfish.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';
import { createWebhookDriver, type WebhookParams } from '../../src/drivers/webhook.ts';
import { driverFailure } from '../support/driver-errors.ts';
import { startRedfishServer, type RedfishServer, type RedfishServerOptions } from '../peers/redfish-server.ts';

const http = createHttpClient({ requestTimeoutMs: 5_000 });
const closers: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});
afterAll(async () => {
  await http.close();
});

const signal = (): AbortSignal => new AbortController().signal;

async function redfishPeer(options: RedfishServerOptions = {}): Promise<RedfishServer> {
  const peer = await startRedfishServer(options);
  closers.push(() => peer.close());
  return peer;
}

function redfishTarget(url: string, overrides: Partial<RedfishParams> = {}): DriverTarget<RedfishParams> {
  const params: RedfishParams = { url, systemId: '1', user: 'admin', password: 'secret', ...overrides };
  return { nodeId: 'n1', bmc: new URL(url).origin, params };
}

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A bare HTTP server: `handler` answers, every request is recorded. */
async function rawServer(handler: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      handler(req, res, entry);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function redirectTo(res: ServerResponse, status: number, location: string): void {
  res.writeHead(status, { location });
  res.end();
}

describe('redirect to another origin: refused, nothing crosses', () => {
  it('basic auth: a redirected query fails as config naming the origin; the other host sees no request and its reading is not believed', async () => {
    const bmc = await redfishPeer();
    const foreign = await redfishPeer({ initialPower: 'On' });
    const foreignOrigin = new URL(foreign.url).origin;
    // userinfo and a query in the Location must not end up in the message
    const location = `http://spy:hunter2@${new URL(foreign.url).host}/redfish/v1/Systems/1?token=abc123`;
    bmc.redirect('/redfish/v1/Systems/1', location, 302);
    const driver = createRedfishDriver({ http });
    const err = await driverFailure(driver.query(redfishTarget(bmc.url), signal()));
    expect(err.kind).toBe('config');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(foreignOrigin);
    expect(err.message).toMatch(/another origin/);
    for (const secret of ['hunter2', 'spy', 'abc123', 'token=', 'secret']) expect(err.message).not.toContain(secret);
    expect(foreign.log).toEqual([]);
    expect(bmc.log).toHaveLength(1);
    expect(bmc.log[0]).toMatchObject({ status: 302, auth: 'basic' });
  });

  it('basic auth: a redirected Reset (307 keeps POST) is refused; the other BMC is not powered on', async () => {
    const bmc = await redfishPeer();
    const foreign = await redfishPeer();
    bmc.redirect('/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', `${foreign.url}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset`, 307);
    const driver = createRedfishDriver({ http });
    const err = await driverFailure(driver.powerOn(redfishTarget(bmc.url), signal()));
    expect(err.kind).toBe('config');
    expect(err.message).toContain(new URL(foreign.url).origin);
    expect(foreign.log).toEqual([]);
    expect(foreign.power()).toBe('Off');
    expect(bmc.power()).toBe('Off');
  });

  it('session auth: after a login the X-Auth-Token does not follow a redirect elsewhere', async () => {
    const bmc = await redfishPeer();
    const foreign = await redfishPeer({ initialPower: 'On' });
    bmc.redirect('/redfish/v1/Systems/1', `${foreign.url}/redfish/v1/Systems/1`, 301);
    const driver = createRedfishDriver({ http });
    const err = await driverFailure(driver.query(redfishTarget(bmc.url, { auth: 'session' }), signal()));
    expect(err.kind).toBe('config');
    expect(err.message).toContain(new URL(foreign.url).origin);
    expect(bmc.sessionsCreated).toBe(1);
    expect(bmc.log.map((r) => [r.method, r.path, r.status, r.auth])).toEqual([
      ['POST', '/redfish/v1/SessionService/Sessions', 201, 'none'],
      ['GET', '/redfish/v1/Systems/1', 301, 'session'],
    ]);
    expect(foreign.log).toEqual([]);
    expect(foreign.sessionsCreated).toBe(0);
  });

  it('session auth: a redirected login does not carry user and password to the other host', async () => {
    const bmc = await redfishPeer();
    const foreign = await rawServer((_req, res) => {
      res.writeHead(201, { 'x-auth-token': 'stolen' });
      res.end('{}');
    });
    bmc.redirect('/redfish/v1/SessionService/Sessions', `${foreign.url}/redfish/v1/SessionService/Sessions`, 307);
    const driver = createRedfishDriver({ http });
    const err = await driverFailure(driver.query(redfishTarget(bmc.url, { auth: 'session' }), signal()));
    expect(err.kind).toBe('config');
    expect(err.message).toContain(foreign.url);
    expect(foreign.seen).toEqual([]);
  });

  it('webhook: the bearer token does not follow a redirect to another host', async () => {
    const foreign = await rawServer((_req, res) => res.end('{"power":"on"}'));
    const front = await rawServer((req, res) => redirectTo(res, 302, `${foreign.url}${req.url ?? '/'}`));
    const driver = createWebhookDriver({ http });
    const params: WebhookParams = {
      onUrl: `${front.url}/power/on`,
      offUrl: `${front.url}/power/off`,
      queryUrl: `${front.url}/power/status?key=k3y`,
      onRegex: '"on"',
      offRegex: '"off"',
      bearer: 'b34rer',
    };
    const target = { nodeId: 'n1', bmc: front.url, params };
    for (const call of [driver.query(target, signal()), driver.powerOn(target, signal())]) {
      const err = await driverFailure(call);
      expect(err.kind).toBe('config');
      expect(err.message).toContain(foreign.url);
      expect(err.message).not.toContain('b34rer');
      expect(err.message).not.toContain('k3y');
    }
    expect(front.seen.map((s) => s.headers.authorization)).toEqual(['Bearer b34rer', 'Bearer b34rer']);
    expect(foreign.seen).toEqual([]);
  });

  it('the same host on another port is another origin', async () => {
    const other = await rawServer((_req, res) => res.end('{}'));
    const front = await rawServer((_req, res) => redirectTo(res, 308, `${other.url}/x`));
    const err = await driverFailure(http.request({ method: 'GET', url: `${front.url}/x`, signal: signal(), what: 'test GET /x' }));
    expect(err.kind).toBe('config');
    expect(err.message).toContain(other.url);
    expect(other.seen).toEqual([]);
  });
});

describe('redirect within the origin: followed', () => {
  it('redfish basic and session: a moved system resource is read and powered through the redirect, with credentials', async () => {
    const bmc = await redfishPeer({ transitionMs: 20 });
    bmc.redirect('/redfish/v1/Systems/legacy', '/redfish/v1/Systems/1', 301);
    const driver = createRedfishDriver({ http });
    for (const auth of ['basic', 'session'] as const) {
      bmc.setPower('Off');
      const target = redfishTarget(bmc.url, { systemId: 'legacy', auth });
      expect(await driver.query(target, signal())).toBe('off');
      await driver.powerOn(target, signal());
      expect(bmc.power()).toMatch(/^(PoweringOn|On)$/);
    }
    const reads = bmc.log.filter((r) => r.path === '/redfish/v1/Systems/1');
    expect(reads.map((r) => r.auth)).toEqual(['basic', 'session']);
  });

  it('absolute and relative Locations in the same origin are followed; 307/308 keep method and body', async () => {
    const server = await rawServer((req, res, seen) => {
      if (req.url === '/a') return redirectTo(res, 307, '/b');
      if (req.url === '/b') return redirectTo(res, 308, `http://${req.headers.host}/c`);
      res.end(JSON.stringify({ method: seen.method, body: seen.body }));
    });
    const res = await http.request({ method: 'POST', url: `${server.url}/a`, json: { ResetType: 'On' }, signal: signal(), what: 'test' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ method: 'POST', body: '{"ResetType":"On"}' });
    expect(server.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['POST /a', 'POST /b', 'POST /c']);
  });

  it.each([301, 302, 303] as const)('%i turns a POST into a GET without body, as fetch does', async (status) => {
    const server = await rawServer((req, res) => {
      if (req.url === '/a') return redirectTo(res, status, '/b');
      res.end('done');
    });
    const res = await http.request({ method: 'POST', url: `${server.url}/a`, json: { x: 1 }, signal: signal(), what: 'test' });
    expect(res.text).toBe('done');
    const second = server.seen[1];
    expect(second).toMatchObject({ method: 'GET', path: '/b', body: '' });
    expect(second?.headers['content-type']).toBeUndefined();
  });

  it('303 turns a PUT into a GET; 301 keeps a PUT', async () => {
    const server = await rawServer((req, res) => {
      if (req.url === '/303') return redirectTo(res, 303, '/done');
      if (req.url === '/301') return redirectTo(res, 301, '/done');
      res.end('ok');
    });
    await http.request({ method: 'PUT', url: `${server.url}/303`, body: 'x', signal: signal(), what: 'test' });
    await http.request({ method: 'PUT', url: `${server.url}/301`, body: 'x', signal: signal(), what: 'test' });
    expect(server.seen.map((s) => `${s.method} ${s.path} ${s.body}`)).toEqual(['PUT /303 x', 'GET /done ', 'PUT /301 x', 'PUT /done x']);
  });

  it(`a redirect loop stops after ${MAX_REDIRECTS} hops with a config error`, async () => {
    const server = await rawServer((req, res) => redirectTo(res, 302, req.url ?? '/'));
    const err = await driverFailure(http.request({ method: 'GET', url: `${server.url}/loop`, signal: signal(), what: 'test GET /loop' }));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/more than 5 redirects/);
    expect(server.seen).toHaveLength(MAX_REDIRECTS + 1);
  });

  it('a 3xx without Location is handed to the caller as is', async () => {
    const server = await rawServer((_req, res) => {
      res.writeHead(304);
      res.end();
    });
    const res = await http.request({ method: 'GET', url: `${server.url}/x`, signal: signal(), what: 'test' });
    expect(res.status).toBe(304);
  });
});
