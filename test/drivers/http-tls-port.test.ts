/**
 * `http://` against a port that speaks TLS: the error says so and names the https:// URL
 * (kind 'config', not retried), against a real TLS server with a certificate made here; a
 * plain server that merely drops the connection stays 'unreachable'.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from '../../src/drivers/http-client.ts';
import { createRedfishDriver } from '../../src/drivers/redfish.ts';
import { createWebhookDriver } from '../../src/drivers/webhook.ts';
import { driverFailure } from '../support/driver-errors.ts';
import { selfSignedCert } from '../peers/redfish-server.ts';

const http = createHttpClient({ requestTimeoutMs: 5_000 });
const signal = (): AbortSignal => new AbortController().signal;

let certDir: string;
let tlsServer: HttpsServer;
let tlsPort: number;
let tlsRequests = 0;
const others: Array<NetServer | ReturnType<typeof createHttpServer>> = [];

async function listen(server: NetServer | HttpsServer | ReturnType<typeof createHttpServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  certDir = await mkdtemp(join(tmpdir(), 'http-tls-port-'));
  const { key, cert } = await selfSignedCert(certDir);
  tlsServer = createHttpsServer({ key, cert }, (_req, res) => {
    tlsRequests++;
    res.end('{}');
  });
  tlsPort = await listen(tlsServer);
});

afterAll(async () => {
  await http.close();
  tlsServer.closeAllConnections();
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  await Promise.all(others.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await rm(certDir, { recursive: true, force: true });
});

describe('http:// against a TLS port', () => {
  it('redfish: says the port speaks TLS and to use https://, as config', async () => {
    const driver = createRedfishDriver({ http });
    const url = `http://127.0.0.1:${tlsPort}`;
    const params = { url, user: 'admin', password: 'secret' };
    const err = await driverFailure(driver.query({ nodeId: 'n1', bmc: url, params }, signal()));
    expect(err.kind).toBe('config');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/speaks TLS/);
    expect(err.message).toContain(`https://127.0.0.1:${tlsPort}`);
    expect(tlsRequests).toBe(0);
  });

  it('webhook: the same for a POST command', async () => {
    const driver = createWebhookDriver({ http });
    const base = `http://127.0.0.1:${tlsPort}`;
    const params = { onUrl: `${base}/on`, offUrl: `${base}/off` };
    const err = await driverFailure(driver.powerOn({ nodeId: 'n1', bmc: base, params }, signal()));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/speaks TLS.*https:\/\//);
  });

  it('a server that answers with a TLS alert record (as OpenSSL-based servers do) is recognised too', async () => {
    // Answers any bytes with a fatal protocol_version alert, plain or ClientHello alike.
    const alerting = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => socket.end(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46])));
    });
    others.push(alerting);
    const port = await listen(alerting);
    const err = await driverFailure(http.request({ method: 'GET', url: `http://127.0.0.1:${port}/x`, signal: signal(), what: 'test GET /x' }));
    expect(err.kind).toBe('config');
    expect(err.message).toMatch(/speaks TLS/);
  });

  it('a plain server that drops the connection is unreachable, not TLS', async () => {
    const dropping = createHttpServer((req) => req.socket.destroy());
    others.push(dropping);
    const port = await listen(dropping);
    const err = await driverFailure(http.request({ method: 'GET', url: `http://127.0.0.1:${port}/x`, signal: signal(), what: 'test GET /x' }));
    expect(err.kind).toBe('unreachable');
    expect(err.retryable).toBe(true);
    expect(err.message).not.toMatch(/TLS/);
  });
});
