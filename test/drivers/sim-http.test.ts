/**
 * The sim BMC as its own process: the driver talks to it over HTTP, and the server ends a
 * command when its client gives up or dies, so overlap detection across a crash is honest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimBmcClient } from '../../src/drivers/sim/client.ts';
import { createSimDriver, type SimPowerDriver } from '../../src/drivers/sim/driver.ts';
import type { SimParams } from '../../src/drivers/sim/params.ts';
import type { DriverTarget } from '../../src/drivers/types.ts';

const CLI = 'src/drivers/sim/cli.ts';
const live = () => new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function target(nodeId: string, params: SimParams = {}): DriverTarget<SimParams> {
  return { nodeId, bmc: `sim:${nodeId}`, params };
}

function spawnTsx(args: string[]): ChildProcess {
  // stdin is a pipe so a server started with --exit-on-stdin-close dies with this worker.
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing: ${stderr}`)));
  });
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await exited;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

let server: ChildProcess;
let url: string;
let client: SimBmcClient;
let driver: SimPowerDriver;

beforeAll(async () => {
  server = spawnTsx(['--port', '0', '--exit-on-stdin-close']);
  const line = JSON.parse(await firstLine(server)) as { url: string; pid: number };
  url = line.url;
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(line.pid).toBe(server.pid);
  client = new SimBmcClient(url);
  driver = createSimDriver({ url });
});

afterAll(async () => {
  // The server first: it drops any connection still open, so closing the clients cannot wait on it.
  if (server) await stop(server);
  await driver?.close();
  await client?.close();
});

describe('sim BMC over HTTP', () => {
  it('runs commands and keeps power state in the sim process', async () => {
    expect(await driver.query(target('h1'), live())).toBe('off');
    expect(await driver.powerOn(target('h1', { reportsStateOnAck: true }), live())).toEqual({ observed: 'on' });
    expect(await client.power('h1')).toBe('on');
    await client.pressButton('h1', 'off');
    expect(await driver.query(target('h1'), live())).toBe('off');
    const stats = await client.stats();
    expect(stats.commands).toMatchObject({ on: 1, query: 2 });
    expect((await client.powers())['h1']).toBe('off');
    expect(await client.power('never-seen')).toBeUndefined();
  });

  it('carries driver error kinds across the wire', async () => {
    await client.ensureNode('h2');
    await client.setFault('h2', { failNext: 1, failKind: 'busy' });
    await expect(driver.powerOn(target('h2'), live())).rejects.toMatchObject({ name: 'DriverError', kind: 'busy', retryable: true });
    await client.setFault('h2', { unreachable: true });
    await expect(driver.query(target('h2'), live())).rejects.toMatchObject({ kind: 'unreachable' });
    await client.setFault('h2', {});
    await expect(driver.query(target('h2', { latencyMs: -1 }), live())).rejects.toMatchObject({ kind: 'config', retryable: false });
  });

  it('a hung command rejects as aborted, and the next command never overlaps it', async () => {
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const hung = driver.powerOn(target('h3', { hangRate: 1 }), ac.signal);
      setTimeout(() => ac.abort(new Error('deadline')), 5);
      await expect(hung).rejects.toMatchObject({ kind: 'aborted' });
      // What a host does right after a deadline: verify with a query, at once.
      expect(await driver.query(target('h3'), live())).toBe('off');
    }
    const history = await client.history('h3');
    expect(history.filter((r) => r.kind === 'on').every((r) => r.outcome === 'aborted' && r.end !== undefined)).toBe(true);
    expect(history.filter((r) => r.kind === 'query').every((r) => r.outcome === 'ok')).toBe(true);
    expect((await client.overlaps()).nodeOverlaps).toBe(0);
  });

  it('the detector in the sim process finds an overlap a caller really makes', async () => {
    const before = (await client.overlaps()).nodeOverlaps;
    await Promise.all([driver.powerOn(target('h4', { latencyMs: 100 }), live()), (async () => {
      await sleep(30);
      return driver.query(target('h4'), live());
    })()]);
    const report = await client.overlaps();
    expect(report.nodeOverlaps).toBe(before + 1);
    expect(report.samples.filter((v) => v.type === 'node_overlap').at(-1)).toMatchObject({ nodeId: 'h4', running: { kind: 'on' }, started: { kind: 'query' } });
  });

  it('a client killed mid-command ends that command on the server', async () => {
    await client.ensureNode('h5');
    await client.setFault('h5', { hang: true });
    const caller = spawnTsx(['call', '--url', url, '--node', 'h5', '--kind', 'on']);
    try {
      const running = await until('the command to reach the server', async () => {
        const h = await client.history('h5');
        return h.find((r) => r.outcome === 'running');
      });
      expect((await client.stats()).inFlight).toBeGreaterThanOrEqual(1);
      await stop(caller, 'SIGKILL');
      const ended = await until('the server to end the command', async () => {
        const h = await client.history('h5');
        const r = h.find((x) => x.id === running.id);
        return r && r.end !== undefined ? r : undefined;
      });
      expect(ended.outcome).toBe('aborted');
      expect(ended.end).toBeGreaterThanOrEqual(ended.start);
      expect(await client.power('h5')).toBe('off');
    } finally {
      await stop(caller, 'SIGKILL');
    }
    // The sim outlived its client: it still answers, with the state it had.
    await client.setFault('h5', {});
    expect(await driver.query(target('h5'), live())).toBe('off');
  });

  it('a command from another process changes the state this one reads', async () => {
    const caller = spawnTsx(['call', '--url', url, '--node', 'h6', '--kind', 'on']);
    const line = JSON.parse(await firstLine(caller)) as { ok: boolean };
    expect(line.ok).toBe(true);
    await new Promise((r) => (caller.exitCode !== null ? r(undefined) : caller.once('exit', r)));
    expect(await client.power('h6')).toBe('on');
  });

  it('answers bad requests with clear errors', async () => {
    const post = (path: string, body: string) => fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const junk = await post('/command', 'not json');
    expect(junk.status).toBe(400);
    expect(await junk.json()).toMatchObject({ error: { message: 'body is not JSON' } });
    expect((await post('/command', '{"nodeId":"x"}')).status).toBe(400);
    const ghost = await post('/button', JSON.stringify({ nodeId: 'ghost', power: 'on' }));
    expect(ghost.status).toBe(404);
    expect((await post('/fault', JSON.stringify({ nodeId: 'h1', failNext: 'many' }))).status).toBe(400);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    await expect(client.pressButton('ghost', 'on')).rejects.toThrow(/unknown sim node/);
  });

  it('with --exit-on-stdin-close, stops when its parent lets go of stdin', async () => {
    const child = spawnTsx(['--exit-on-stdin-close']);
    const { url: otherUrl } = JSON.parse(await firstLine(child)) as { url: string };
    expect((await fetch(`${otherUrl}/healthz`)).status).toBe(200);
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin?.end();
    expect(await exited).toBe(0);
  });

  it('refuses to listen beyond loopback and reports a missing server as unreachable', async () => {
    const wide = spawnTsx(['--host', '0.0.0.0']);
    const code = await new Promise((r) => wide.once('exit', r));
    expect(code).toBe(1);
    const nowhere = createSimDriver({ url: 'http://127.0.0.1:1' });
    await expect(nowhere.query(target('x'), live())).rejects.toMatchObject({ kind: 'unreachable', retryable: true });
    await nowhere.close();
  });
});
