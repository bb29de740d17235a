/** `switchboard nodes ls|add|rm` and `token create` against the real stack; usage and connection errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliStack, type CliStack } from './support.ts';

let t: CliStack;

beforeAll(async () => {
  t = await startCliStack();
});
afterAll(async () => {
  await t?.close();
});

interface JsonNode {
  id: string;
  name: string;
  status: string;
  bmc: string;
  driver: string;
  power: { observed: string };
}

describe('switchboard nodes', () => {
  it('adds nodes with typed params, lists them with filters, removes them', async () => {
    const add = await t.cli(['nodes', 'add', 'n-one', '--driver', 'sim', '--param', 'latencyMs=5', '--param', 'initialPower=on', '--bmc', 'rack1', '--json']);
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    const created = JSON.parse(add.stdout) as JsonNode;
    expect(created).toMatchObject({ name: 'n-one', driver: 'sim', bmc: 'rack1', status: 'new' });
    const second = await t.cli(['nodes', 'add', 'n-two', '--driver', 'sim']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^created n-two \(id \S+, driver sim, bmc sim:\S+\): new, power /);

    const ls = await t.cli(['nodes', 'ls'], 'viewer');
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+POWER\s+IN FLIGHT\s+PENDING\s+COMMAND\s+DRIVER\s+BMC\s+LAST ERROR$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['n-one', 'n-two']);

    await t.host.lifecycle(created.id, 'mark_broken', { requestedBy: 'test' });
    const broken = await t.cli(['nodes', 'ls', '--status', 'broken', '--json'], 'viewer');
    expect((JSON.parse(broken.stdout) as JsonNode[]).map((n) => n.name)).toEqual(['n-one']);
    const both = await t.cli(['nodes', 'ls', '--status', 'broken,new', '--json'], 'viewer');
    expect((JSON.parse(both.stdout) as JsonNode[]).map((n) => n.name)).toEqual(['n-one', 'n-two']);

    const rm = await t.cli(['nodes', 'rm', 'n-two', 'ghost']);
    expect(rm.code).toBe(4);
    expect(rm.stdout).toMatch(/^n-two\s+removed/m);
    expect(rm.stdout).toMatch(/^ghost\s+not found/m);
    expect(t.host.findNode('n-two')).toBeUndefined();
  });

  it('passes the server\'s refusals on: bad params exit 2, a taken name exits 3', async () => {
    const bad = await t.cli(['nodes', 'add', 'n-bad', '--driver', 'sim', '--param', 'latencyMs=-1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/latencyMs/);
    await t.simNode('n-taken');
    const taken = await t.cli(['nodes', 'add', 'n-taken', '--driver', 'sim']);
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain('node_name_taken');
  });

  it('checks the command line before it asks the server (exit 2)', async () => {
    const [noDriver, badStatus, badParam, unknown, help] = await Promise.all([
      t.cli(['nodes', 'add', 'x']),
      t.cli(['nodes', 'ls', '--status', 'sleeping']),
      t.cli(['nodes', 'add', 'x', '--driver', 'sim', '--param', 'latencyMs']),
      t.cli(['reboot', 'everything']),
      t.cli(['--help']),
    ]);
    expect(noDriver.code).toBe(2);
    expect(noDriver.stderr).toContain('--driver is required');
    expect(badStatus.code).toBe(2);
    expect(badStatus.stderr).toContain('--status: "sleeping" is not one of new, commissioning');
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('expected KEY=VALUE');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown command "reboot"');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
    expect(help.stdout).toMatch(/3 {2}refused/);
  });

  it('says how to reach a server when there is none (exit 1), and rejects a bad URL (exit 2)', async () => {
    const [down, badEnv] = await Promise.all([
      t.cli(['nodes', 'ls', '--url', 'http://127.0.0.1:1']),
      t.cli(['nodes', 'ls'], 'admin', { SWITCHBOARD_URL: 'ftp://nowhere' }),
    ]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('cannot reach the Switchboard server at http://127.0.0.1:1');
    expect(down.stderr).toContain('switchboard serve');
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain('SWITCHBOARD_URL');
  });
});

describe('switchboard token create', () => {
  it('prints a new token once, which then works with its role', async () => {
    const run = await t.cli(['token', 'create', 'ci-bot', '--role', 'operator']);
    expect(run.code).toBe(0);
    const token = run.stdout.trim();
    expect(token).toMatch(/^\S{20,}$/);
    expect(run.stderr).toContain('operator token "ci-bot"');
    const [use, forbidden, json, badRole, wrong] = await Promise.all([
      t.cli(['nodes', 'ls', '--token', token, '--json'], null),
      t.cli(['nodes', 'add', 'n-op', '--driver', 'sim', '--token', token], null),
      t.cli(['token', 'create', 'dash', '--role', 'viewer', '--json']),
      t.cli(['token', 'create', 'x', '--role', 'root']),
      t.cli(['token', 'create', 'x', '--role', 'viewer', '--token', 'not-a-real-token'], null),
    ]);
    expect(use.code).toBe(0);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('admin role');

    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'dash', role: 'viewer', token: expect.any(String) });
    expect(badRole.code).toBe(2);
    expect(badRole.stderr).toContain('viewer, operator, admin');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('not valid');
  });
});
