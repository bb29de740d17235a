/**
 * A slow BMC for tests: a UDP proxy on 127.0.0.1 in front of a real BMC (an `ipmi_sim` from
 * ipmi-sim.ts) that holds every packet from a client for a random delay (3–5 s by default)
 * before passing it on, and passes the BMC's answers straight back. Like an iDRAC- or iLO-class
 * BMC under load, it takes seconds to answer each request — and, like them, it carries out a
 * request whose client has already given up: a held packet is forwarded when its delay is over
 * whatever the client did meanwhile (timed out, was killed, retransmitted).
 *
 * Each client (source address and port) gets its own upstream socket, so the BMC sees one peer
 * per ipmitool run, as it would without the proxy. Every packet is recorded with what the
 * RMCP/RMCP+ header says it is (presession: ASF ping, IPMI 1.5 Get Channel Auth Capabilities,
 * Open Session, RAKP 1–4; in session: an IPMI message), so a test can count the packets of a
 * run and see retransmissions (more in-session requests than a run without delay sends).
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';

export type PacketKind =
  | 'asf' // RMCP presence ping/pong
  | 'ipmi15' // an IPMI 1.5 message (ipmitool lanplus sends Get Channel Auth Capabilities this way)
  | 'open-session-request'
  | 'open-session-response'
  | 'rakp1'
  | 'rakp2'
  | 'rakp3'
  | 'rakp4'
  | 'ipmi' // an RMCP+ IPMI message (session id 0 before the session is up)
  | 'sol'
  | 'other';

export interface ProxyPacket {
  readonly direction: 'request' | 'reply';
  /** The client's address:port (one per ipmitool run). */
  readonly client: string;
  readonly kind: PacketKind;
  /** The RMCP+ session id in the header; 0 when none. */
  readonly sessionId: number;
  /** True for an IPMI message inside an established session (the command packets). */
  readonly inSession: boolean;
  readonly bytes: number;
  /** Epoch milliseconds the proxy received it. */
  readonly receivedMs: number;
  /** How long the proxy held it (0 for replies and undelayed requests). */
  readonly delayMs: number;
  /** Epoch milliseconds it was passed on; undefined while held (or dropped by stop()). */
  forwardedMs?: number;
}

export interface SlowUdpProxyOptions {
  readonly targetHost?: string;
  readonly targetPort: number;
  /** Shortest hold of a client packet; default 3000. */
  readonly minDelayMs?: number;
  /** Longest hold of a client packet; default 5000. */
  readonly maxDelayMs?: number;
  /**
   * Only hold IPMI messages inside an established session (the commands); the session set-up
   * (ping, auth capabilities, open session, RAKP) passes at once. Default false: hold everything.
   */
  readonly onlyInSession?: boolean;
  /**
   * Which client packets to hold (overrides onlyInSession). `inSessionIndex` counts the client's
   * earlier in-session requests: with ipmitool 1.8.19, index 5 is the chassis command.
   */
  readonly shouldHold?: (packet: HoldCandidate) => boolean;
  /** Source of randomness in [0, 1); default Math.random. */
  readonly random?: () => number;
}

export interface HoldCandidate {
  readonly kind: PacketKind;
  readonly sessionId: number;
  readonly inSession: boolean;
  readonly inSessionIndex: number;
}

export interface SlowUdpProxy {
  readonly host: string;
  readonly port: number;
  /** Every packet so far, in the order received. */
  packets(): ProxyPacket[];
  /** Forget the packets recorded so far. */
  clearPackets(): void;
  /** Change the hold for packets received from now on. */
  setDelay(minMs: number, maxMs: number): void;
  /** Client packets held right now. */
  held(): number;
  /** Resolves once no client packet is held (the BMC has everything it will ever get). */
  drained(): Promise<void>;
  /** Closes the sockets; packets still held are dropped. */
  stop(): Promise<void>;
}

const RMCP_CLASS_ASF = 0x06;
const AUTHTYPE_RMCP_PLUS = 0x06;

const PAYLOAD_KINDS: Record<number, PacketKind> = {
  0x00: 'ipmi',
  0x01: 'sol',
  0x10: 'open-session-request',
  0x11: 'open-session-response',
  0x12: 'rakp1',
  0x13: 'rakp2',
  0x14: 'rakp3',
  0x15: 'rakp4',
};

/** What an RMCP datagram is, from its headers (the payload may be encrypted; the headers never are). */
export function classifyRmcp(msg: Buffer): { kind: PacketKind; sessionId: number } {
  if (msg.length < 5 || msg[0] !== 0x06) return { kind: 'other', sessionId: 0 };
  if (((msg[3] ?? 0) & 0x1f) === RMCP_CLASS_ASF) return { kind: 'asf', sessionId: 0 };
  if (msg[4] !== AUTHTYPE_RMCP_PLUS) {
    // IPMI 1.5 session header: auth type, sequence (4), session id (4).
    return { kind: 'ipmi15', sessionId: msg.length >= 13 ? msg.readUInt32LE(9) : 0 };
  }
  if (msg.length < 6) return { kind: 'other', sessionId: 0 };
  const payloadType = (msg[5] ?? 0) & 0x3f;
  // OEM explicit payloads carry 6 more header bytes (IANA + payload id) before the session id.
  const idAt = payloadType === 0x02 ? 12 : 6;
  const sessionId = msg.length >= idAt + 4 ? msg.readUInt32LE(idAt) : 0;
  return { kind: PAYLOAD_KINDS[payloadType] ?? 'other', sessionId };
}

async function bind(sock: Socket, port: number, host: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

export async function startSlowUdpProxy(options: SlowUdpProxyOptions): Promise<SlowUdpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const random = options.random ?? Math.random;
  let minDelay = options.minDelayMs ?? 3_000;
  let maxDelay = options.maxDelayMs ?? 5_000;
  const checkDelay = (min: number, max: number): void => {
    if (!(min >= 0 && max >= min)) throw new Error(`delay must satisfy 0 <= min <= max, got ${min}..${max}`);
  };
  checkDelay(minDelay, maxDelay);

  const front = createSocket('udp4');
  await bind(front, 0, '127.0.0.1');
  const upstreams = new Map<string, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let log: ProxyPacket[] = [];
  let drainWaiters: (() => void)[] = [];
  let stopped = false;

  const record = (direction: ProxyPacket['direction'], client: string, msg: Buffer, delayMs: number): ProxyPacket => {
    const { kind, sessionId } = classifyRmcp(msg);
    const packet: ProxyPacket = {
      direction,
      client,
      kind,
      sessionId,
      inSession: kind === 'ipmi' && sessionId !== 0,
      bytes: msg.length,
      receivedMs: Date.now(),
      delayMs,
    };
    log.push(packet);
    return packet;
  };

  const settleDrain = (): void => {
    if (timers.size > 0) return;
    const waiters = drainWaiters;
    drainWaiters = [];
    for (const w of waiters) w();
  };

  const upstreamFor = async (client: RemoteInfo): Promise<Socket> => {
    const key = `${client.address}:${client.port}`;
    const existing = upstreams.get(key);
    if (existing) return existing;
    const sock = createSocket('udp4');
    upstreams.set(key, sock);
    sock.on('message', (reply) => {
      if (stopped) return;
      const packet = record('reply', key, reply, 0);
      front.send(reply, client.port, client.address, () => {
        packet.forwardedMs = Date.now();
      });
    });
    // The BMC's port may be closed (ICMP unreachable): the client just sees no answer.
    sock.on('error', () => undefined);
    await bind(sock, 0, '127.0.0.1');
    return sock;
  };

  front.on('message', (msg, client) => {
    if (stopped) return;
    const key = `${client.address}:${client.port}`;
    const { kind, sessionId } = classifyRmcp(msg);
    const inSession = kind === 'ipmi' && sessionId !== 0;
    const inSessionIndex = log.filter((p) => p.direction === 'request' && p.client === key && p.inSession).length;
    const hold = options.shouldHold
      ? options.shouldHold({ kind, sessionId, inSession, inSessionIndex })
      : !options.onlyInSession || inSession;
    const delayMs = hold ? Math.round(minDelay + random() * (maxDelay - minDelay)) : 0;
    const packet = record('request', key, msg, delayMs);
    const upstream = upstreamFor(client);
    const forward = (): void => {
      void upstream.then((sock) => {
        if (stopped) return;
        sock.send(msg, options.targetPort, targetHost, () => {
          packet.forwardedMs = Date.now();
        });
      });
    };
    if (delayMs === 0) {
      forward();
      return;
    }
    const timer = setTimeout(() => {
      timers.delete(timer);
      forward();
      settleDrain();
    }, delayMs);
    timers.add(timer);
  });
  front.on('error', () => undefined);

  const { port } = front.address();

  return {
    host: '127.0.0.1',
    port,
    packets: () => [...log],
    clearPackets() {
      log = [];
    },
    setDelay(min, max) {
      checkDelay(min, max);
      minDelay = min;
      maxDelay = max;
    },
    held: () => timers.size,
    drained() {
      if (timers.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => drainWaiters.push(resolve));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      settleDrain();
      const closing = [front, ...upstreams.values()].map(
        (s) =>
          new Promise<void>((resolve) => {
            try {
              s.close(() => resolve());
            } catch {
              resolve(); // already closed
            }
          }),
      );
      await Promise.all(closing);
    },
  };
}
