/**
 * An HTTP pass-through in front of a test peer that has no request start times in its log
 * (the webhook server logs only when it answers): it holds each request `delayMs` (so two
 * commands sent at once would visibly overlap), forwards it, and records its interval.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Interval } from './command-log.ts';

export interface TimingProxy {
  readonly url: string;
  readonly log: Interval[];
  close(): Promise<void>;
}

const now = (): number => performance.timeOrigin + performance.now();

export async function startTimingProxy(target: string, delayMs: number): Promise<TimingProxy> {
  const log: Interval[] = [];
  const upstream = new URL(target);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const startMs = now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const out = httpRequest(
          { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const body: Buffer[] = [];
            answer.on('data', (c: Buffer) => body.push(c));
            answer.on('end', () => {
              res.writeHead(answer.statusCode ?? 502, answer.headers);
              res.end(Buffer.concat(body));
              log.push({ startMs, endMs: now(), what: `${req.method ?? '?'} ${req.url ?? ''}` });
            });
          },
        );
        out.on('error', (err) => {
          res.writeHead(502);
          res.end(err.message);
        });
        out.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
