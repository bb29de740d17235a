/**
 * A BMC that never answers: a UDP socket on a free loopback port that takes every datagram and
 * replies to none. `ipmitool -I lanplus -N 6 -R 3` against it keeps retrying for about 20 s,
 * which makes it a long-running, real driver command for tests (orphan checks, aborts).
 */
import { createSocket } from 'node:dgram';

export interface SilentBmc {
  readonly host: string;
  readonly port: number;
  /** Datagrams received so far. */
  packets(): number;
  /** Resolves once at least `count` datagrams have arrived; rejects after timeoutMs. */
  waitForPackets(count: number, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSilentBmc(): Promise<SilentBmc> {
  const sock = createSocket('udp4');
  let received = 0;
  const waiters = new Set<() => void>();
  sock.on('message', () => {
    received++;
    for (const w of [...waiters]) w();
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve());
  });
  const { port } = sock.address();
  return {
    host: '127.0.0.1',
    port,
    packets: () => received,
    waitForPackets(count, timeoutMs) {
      if (received >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (received < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`silent BMC on port ${port}: ${received} of ${count} datagrams within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    stop: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
