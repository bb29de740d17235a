/** `switchboard watch`: a line per committed change over the real WebSocket stream; Ctrl-C exits 0. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, startCliStack, waitForOutput, type CliStack } from './support.ts';

let t: CliStack;

beforeAll(async () => {
  t = await startCliStack();
});
afterAll(async () => {
  await t?.close();
});

describe('switchboard watch', () => {
  it('prints one line per change of the nodes named, and exits 0 on SIGINT', async () => {
    const node = await t.simNode('w-one', { latencyMs: 20 });
    await t.simNode('w-other');
    const child = t.spawnCli(['watch', 'w-one'], 'viewer');
    const finished = collect(child);
    try {
      await waitForOutput(child.stderr, /watching 1 node\(s\)/);
      const seen = waitForOutput(child.stdout, /w-one .*off succeeded/);
      await t.host.requestPower(t.host.findNode('w-other')?.id ?? '', 'off', { requestedBy: 'test' });
      await t.host.requestPower(node.id, 'off', { requestedBy: 'alice' });
      const text = await seen;
      expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}w-one {2}new {2}\S+\/off {2}.*power off accepted by alice/m);
      expect(text).not.toContain('w-other');
    } finally {
      child.kill('SIGINT');
    }
    const run = await finished;
    expect(run.code).toBe(0);
  });

  it('--json prints the stream messages as JSON lines', async () => {
    await t.simNode('w-json');
    const child = t.spawnCli(['watch', '--json'], 'viewer');
    const finished = collect(child);
    try {
      const first = await waitForOutput(child.stdout, /\n/);
      const snapshot = JSON.parse(first.split('\n')[0] ?? '') as { type: string; nodes: { name: string }[] };
      expect(snapshot.type).toBe('snapshot');
      expect(snapshot.nodes.map((n) => n.name)).toContain('w-json');
      const change = waitForOutput(child.stdout, /"type":"change".*"name":"w-json"/);
      await t.host.requestPower(t.host.findNode('w-json')?.id ?? '', 'query', { requestedBy: 'test' });
      await change;
    } finally {
      child.kill('SIGINT');
    }
    expect((await finished).code).toBe(0);
  });

  it('exits 4 for a node that does not exist, 1 when the server goes away', async () => {
    const missing = await t.cli(['watch', 'nobody'], 'viewer');
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('nodes ls');

    const child = t.spawnCli(['watch'], 'viewer');
    const finished = collect(child);
    await waitForOutput(child.stderr, /watching/);
    await t.close();
    const run = await finished;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('closed the stream');
  });
});
