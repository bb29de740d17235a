import type WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeChange, NodeView } from '../../src/actors/types.ts';
import { StreamClient, type StreamSocket } from '../../src/http/stream-client.ts';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';

interface Message {
  type: string;
  nodes?: NodeView[];
  node?: NodeView;
  events?: { kind: string }[];
}

/** Connects and collects every message from the first on (listeners attach before the upgrade ends). */
async function connect(s: HttpStack, url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; messages: Message[] }> {
  const messages: Message[] = [];
  const ws = await s.app.injectWS(url, { headers }, {
    onInit: (socket) => socket.on('message', (data: WebSocket.RawData) => messages.push(JSON.parse(data.toString()) as Message)),
  });
  return { ws, messages };
}

let t: HttpStack;
beforeAll(async () => {
  t = await startHttpStack();
});
afterAll(async () => {
  await t?.close();
});

describe('GET /api/v1/stream', () => {
  it('sends a snapshot, then a change after a power request', async () => {
    await t.simNode('w-1', { latencyMs: 5 });
    await t.simNode('w-2');
    await t.quiet();
    const { ws, messages } = await connect(t, '/api/v1/stream', t.auth('viewer'));
    await eventually(() => (messages.length >= 1 ? true : undefined));
    expect(messages[0]!.type).toBe('snapshot');
    expect(messages[0]!.nodes!.map((n) => n.name).sort()).toEqual(['w-1', 'w-2']);

    const res = await t.app.inject({ method: 'POST', url: '/api/v1/nodes/w-1/power', headers: t.auth('operator'), payload: { action: 'off' } });
    expect(res.statusCode).toBe(202);
    const opId = res.json().op.id;
    const change = await eventually(() => messages.find((m) => m.type === 'change' && m.node?.name === 'w-1' && m.node.power.inFlight?.opId === opId));
    expect(change.events!.length).toBeGreaterThan(0);
    await eventually(() => messages.find((m) => m.type === 'change' && m.node?.name === 'w-1' && m.node.power.inFlight === null && m.node.power.observed === 'off'));
    ws.terminate();
    await eventually(() => (t.metrics.streamClients.get().then((g) => g.values[0]?.value === 0) as unknown as true | undefined));
  });

  it('?nodes= limits the snapshot and changes to those nodes; the token can come as ?token=', async () => {
    await t.simNode('w-only', { latencyMs: 1 });
    await t.simNode('w-other', { latencyMs: 1 });
    await t.quiet();
    const { ws, messages } = await connect(t, `/api/v1/stream?nodes=w-only&token=${t.tokens.viewer}`);
    await eventually(() => (messages.length >= 1 ? true : undefined));
    expect(messages[0]!.nodes!.map((n) => n.name)).toEqual(['w-only']);
    await t.app.inject({ method: 'POST', url: '/api/v1/nodes/w-other/power', headers: t.auth('operator'), payload: { action: 'off' } });
    await t.app.inject({ method: 'POST', url: '/api/v1/nodes/w-only/power', headers: t.auth('operator'), payload: { action: 'off' } });
    await eventually(() => messages.find((m) => m.type === 'change' && m.node?.name === 'w-only'));
    await t.quiet();
    expect(messages.filter((m) => m.type === 'change').every((m) => m.node?.name === 'w-only')).toBe(true);
    ws.terminate();
  });

  it('refuses the upgrade without a valid token (401) or for an unknown node (404)', async () => {
    for (const [url, status] of [
      ['/api/v1/stream', 401],
      ['/api/v1/stream?token=sbt_wrong', 401],
      [`/api/v1/stream?token=${t.tokens.viewer}&nodes=no-such-node`, 404],
      [`/api/v1/stream?token=${t.tokens.viewer}&bogus=1`, 400],
    ] as const) {
      const res = await t.app.inject({
        method: 'GET',
        url,
        headers: { connection: 'upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      expect(res.statusCode, url).toBe(status);
    }
  });

  it('426 upgrade_required for a plain GET', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/v1/stream', headers: t.auth('viewer') });
    expect(res.statusCode).toBe(426);
    expect(res.json().error.code).toBe('upgrade_required');
  });

  it('a client that does not read gets a bounded number of messages while many changes happen', async () => {
    const s = await startHttpStack({ stream: { highWaterBytes: 1, flushIntervalMs: 20 } });
    try {
      const names = Array.from({ length: 10 }, (_, i) => `slow-${i}`);
      for (const name of names) await s.simNode(name, { latencyMs: 0 });
      await s.quiet();
      const { ws, messages } = await connect(s, '/api/v1/stream', s.auth('viewer'));
      await eventually(() => (messages.length >= 1 ? true : undefined));
      // Stop reading: the server's send buffer stays above the threshold.
      (ws as unknown as { pause(): void }).pause();
      let changes = 0;
      const unsubscribe = s.host.subscribe(() => changes++);
      for (let round = 0; round < 20; round++) {
        await Promise.all(names.map((n) => s.app.inject({ method: 'POST', url: `/api/v1/nodes/${n}/power`, headers: s.auth('operator'), payload: { action: round % 2 === 0 ? 'off' : 'query' } })));
      }
      await s.quiet();
      unsubscribe();
      const coalesced = (await s.metrics.streamCoalesced.get()).values[0]?.value ?? 0;
      const sent = (await s.metrics.streamMessages.get()).values[0]?.value ?? 0;
      expect(changes).toBeGreaterThan(200);
      // At most one waiting change per node, plus what went out before the buffer filled.
      expect(sent).toBeLessThan(changes / 4);
      expect(coalesced).toBeGreaterThan(changes / 2);
      // Reading again delivers the latest state of every node.
      (ws as unknown as { resume(): void }).resume();
      await eventually(() => {
        const latest = new Map<string, NodeView>();
        for (const m of messages) if (m.type === 'change' && m.node) latest.set(m.node.name, m.node);
        return names.every((n) => latest.get(n)?.updatedAt === s.host.findNode(n)?.updatedAt) ? true : undefined;
      }, 5_000, 'latest state of every node');
      ws.terminate();
    } finally {
      await s.close();
    }
  });
});

describe('StreamClient', () => {
  const view = (id: string, n: number) => ({ id, name: id, updatedAt: String(n) }) as unknown as NodeView;
  const change = (id: string, n: number): NodeChange => ({ node: view(id, n), events: [{ id: n, nodeId: id, at: new Date(0), kind: 'k', origin: null, actor: null, opId: null, detail: {} }] });

  it('keeps one undelivered change per node while the socket is full, then sends the latest of each', () => {
    const sent: string[] = [];
    const socket: StreamSocket & { bufferedAmount: number } = { bufferedAmount: 10_000, readyState: 1, send: (d) => void sent.push(d) };
    const client = new StreamClient(socket, { highWaterBytes: 1_000, flushIntervalMs: 1_000_000 });
    for (let i = 0; i < 1_000; i++) client.push(change(`n${i % 10}`, i));
    expect(sent).toHaveLength(0);
    expect(client.waiting).toBe(10);
    expect(client.coalesced).toBe(990);
    socket.bufferedAmount = 0;
    client.flush();
    expect(sent).toHaveLength(10);
    const latest = sent.map((s) => JSON.parse(s) as { node: { id: string; updatedAt: string }; events: unknown[]; droppedEvents?: number });
    expect(latest.find((m) => m.node.id === 'n3')?.node.updatedAt).toBe('993');
    // Events are kept up to a bound; what was dropped is counted.
    expect(latest[0]!.events.length).toBe(50);
    expect(latest[0]!.droppedEvents).toBe(50);
    client.close();
  });

  it('sends at once while the socket keeps up, and nothing after close', () => {
    const sent: string[] = [];
    const client = new StreamClient({ bufferedAmount: 0, readyState: 1, send: (d) => void sent.push(d) }, { highWaterBytes: 1_000, flushIntervalMs: 10 });
    client.push(change('a', 1));
    client.push(change('a', 2));
    expect(sent).toHaveLength(2);
    client.close();
    client.push(change('a', 3));
    expect(sent).toHaveLength(2);
  });
});
