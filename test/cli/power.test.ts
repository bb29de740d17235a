/** `switchboard power` and `lifecycle` against the real stack: per-node results, exit codes, --json, --wait, progress. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/http.ts';
import { startCliStack, type CliStack } from './support.ts';

let t: CliStack;
const caller = { requestedBy: 'test' };

/** A sim node in `broken`, where every power op is allowed. */
async function brokenNode(name: string, params: Record<string, unknown> = {}) {
  const node = await t.simNode(name, params);
  await t.host.lifecycle(node.id, 'mark_broken', caller);
  return node;
}

interface JsonResult {
  node: string;
  outcome: string;
  status: number;
  op?: { id: string; action: string; state: string } | null;
  error?: { code: string; message: string };
  final?: { state: string; error: string | null };
}

beforeAll(async () => {
  t = await startCliStack();
});
afterAll(async () => {
  await t?.close();
});

describe('switchboard power', () => {
  it('prints a line per node and exits 0 when all are accepted', async () => {
    await brokenNode('p-a');
    await brokenNode('p-b');
    const run = await t.cli(['power', 'on', 'p-a', 'p-b']);
    expect(run.stderr).toContain('2 accepted');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^p-a\s+accepted\s+\S+\s+on \(user\)$/m);
    expect(run.stdout).toMatch(/^p-b\s+accepted/m);
    await t.quiet();
  });

  it('exits 3 when a node refuses, with the reason, and still acts on the others', async () => {
    await brokenNode('r-ok');
    await t.simNode('r-new'); // status new: "on" is not allowed
    const run = await t.cli(['power', 'on', 'r-ok', 'r-new', '--json']);
    expect(run.code).toBe(3);
    const out = JSON.parse(run.stdout) as { results: JsonResult[]; exitCode: number; summary: Record<string, number> };
    expect(out.exitCode).toBe(3);
    expect(out.summary).toEqual({ accepted: 1, refused: 1 });
    const [ok, refused] = out.results;
    expect(ok).toMatchObject({ node: 'r-ok', outcome: 'accepted', status: 202, op: { action: 'on', state: expect.any(String) } });
    expect(refused).toMatchObject({ node: 'r-new', outcome: 'refused', status: 409, error: { code: 'not_allowed_in_status' } });
    await t.quiet();
  });

  it('exits 4 when a node does not exist, before 3 for a refusal', async () => {
    await t.simNode('nf-new');
    const run = await t.cli(['power', 'on', 'nf-new', 'ghost-node']);
    expect(run.code).toBe(4);
    expect(run.stdout).toMatch(/^ghost-node\s+not found\s+node_not_found/m);
    expect(run.stdout).toMatch(/^nf-new\s+refused\s+not_allowed_in_status/m);
  });

  it('reports a repeat of the op in flight as coalesced with that op (exit 0)', async () => {
    const node = await brokenNode('c-slow', { latencyMs: 1500 });
    const first = await t.host.requestPower(node.id, 'off', caller);
    expect(first.result).toBe('accepted');
    const run = await t.cli(['power', 'off', 'c-slow', '--wait', '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { results: JsonResult[] };
    // --wait follows the op it was coalesced with until that op finishes.
    expect(out.results[0]).toMatchObject({ outcome: 'coalesced', status: 200, op: { id: first.op?.id }, final: { state: 'succeeded' } });
  });

  it('--wait waits until the ops finish and exits 0 when they succeeded', async () => {
    await brokenNode('w-a', { latencyMs: 300 });
    const run = await t.cli(['power', 'soft-off', 'w-a', '--wait', '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { results: JsonResult[] };
    expect(out.results[0]).toMatchObject({ outcome: 'accepted', op: { action: 'soft_off' }, final: { state: 'succeeded' } });
    expect(t.fleet.power(t.host.findNode('w-a')?.id ?? '')).toBe('off');
  });

  it('--wait exits 5 when an op fails, with the error', async () => {
    const node = await brokenNode('w-fail');
    t.fleet.setFault(node.id, { failNext: 10, failKind: 'auth' });
    const run = await t.cli(['power', 'on', 'w-fail', '--wait']);
    expect(run.code).toBe(5);
    expect(run.stdout).toMatch(/^w-fail\s+accepted\s+\S+\s+failed\s+\S/m);
  });

  it('--wait gives up after --timeout with exit 1 and says the ops go on', async () => {
    await brokenNode('w-hang', { latencyMs: 3_000 });
    const run = await t.cli(['power', 'on', 'w-hang', '--wait', '--timeout', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('timed out after 1 s');
    expect(run.stderr).toContain('switchboard watch');
  });

  it('shows progress on stderr for a bulk run, over several chunks', async () => {
    const names: string[] = [];
    for (let i = 0; i < 60; i++) names.push((await t.simNode(`bulk-${String(i).padStart(2, '0')}`)).name);
    const run = await t.cli(['power', 'query', ...names]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^power query: 0\/60$/m);
    expect(run.stderr).toMatch(/^power query: 50\/60$/m);
    expect(run.stderr).toMatch(/^power query: 60\/60$/m);
    expect(run.stdout.trim().split('\n')).toHaveLength(61);
    const quiet = await t.cli(['power', 'query', ...names, '--quiet', '--json']);
    expect(quiet.stderr).not.toContain('power query:');
  });

  it('rejects bad usage with exit 2 and says what is wrong', async () => {
    const [badAction, badFlag, twice, noNodes] = await Promise.all([
      t.cli(['power', 'explode', 'p-a']),
      t.cli(['power', 'on', '--force', 'p-a']),
      t.cli(['power', 'on', 'p-a', 'p-a']),
      t.cli(['power', 'on']),
    ]);
    expect(badAction.code).toBe(2);
    expect(badAction.stderr).toContain('unknown action "explode"; use one of on, off, soft-off, cycle, query');
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toContain("Unknown option '--force'");
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('named twice');
    expect(noNodes.code).toBe(2);
    expect(noNodes.stderr).toContain('name at least one node');
  });

  it('without a token says how to get one (exit 1); a viewer token is told which role it needs', async () => {
    const [none, viewer] = await Promise.all([t.cli(['power', 'on', 'p-a'], null), t.cli(['power', 'on', 'p-a'], 'viewer')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('token create');
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toContain('operator role');
  });
});

describe('switchboard lifecycle', () => {
  it('sends the event to each node; refusal exits 3; --wait waits for the power op it requested', async () => {
    const a = await t.simNode('l-a', { latencyMs: 50 });
    await t.simNode('l-b');
    const run = await t.cli(['lifecycle', 'commission', 'l-a', '--wait', '--json'], 'operator');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { results: JsonResult[] };
    expect(out.results[0]).toMatchObject({ outcome: 'accepted', status: 202, op: { action: 'cycle' }, final: { state: 'succeeded' } });
    expect(t.host.findNode(a.id)?.status).toBe('commissioning');

    const refused = await t.cli(['lifecycle', 'deploy', 'l-a', 'l-b'], 'operator');
    expect(refused.code).toBe(3);
    expect(refused.stdout).toMatch(/^l-a\s+refused\s+not_allowed_in_status/m);

    const fine = await t.cli(['lifecycle', 'mark-broken', 'l-b'], 'operator');
    expect(fine.code).toBe(0);
    await eventually(() => (t.host.findNode('l-b')?.status === 'broken' ? true : undefined));

    const bad = await t.cli(['lifecycle', 'explode', 'l-b']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('commission');
  });
});
