/**
 * `switchboard nodes show` and the marks of `nodes ls` for a node waiting out an abandoned
 * command, one queued behind it on the same BMC and one whose BMC cannot be read; --json stays
 * the raw node view.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeView } from '../../src/actors/types.ts';
import { eventually } from '../support/http.ts';
import { startCliStack, type CliStack } from './support.ts';
import { commandCell, commandLine, millisText } from '../../src/cli/commands/nodes.ts';

const CALLER = { requestedBy: 'test' };
const SETTLE_MS = 20_000;

let t: CliStack;
let hung: NodeView;
let behind: NodeView;
let dark: NodeView;

const clock = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

beforeAll(async () => {
  t = await startCliStack();
  const settled = (id: string) => eventually(() => {
    const n = t.host.getNode(id);
    return n !== undefined && n.power.inFlight === null && n.power.command === null && n.power.observed !== 'unknown' ? n : undefined;
  }, 10_000, `node ${id} settled`);
  hung = await t.simNode('hung-01', {
    latencyMs: 5, initialPower: 'on', bmc: 'bmc-shared',
    timing: { commandBudgetMs: 300, requestTimeoutMs: 300, settleMs: SETTLE_MS, stepTimeoutMs: 60_000 },
  });
  behind = await t.simNode('hung-02', { latencyMs: 5, initialPower: 'off', bmc: 'bmc-shared' });
  dark = await t.simNode('dark-01', { latencyMs: 5, initialPower: 'on' });
  await Promise.all([settled(hung.id), settled(behind.id), settled(dark.id)]);

  t.fleet.setFault(hung.id, { hang: true });
  expect((await t.host.requestPower(hung.id, 'off', CALLER)).result).toBe('accepted');
  hung = await eventually(() => {
    const n = t.host.getNode(hung.id)!;
    return n.power.command?.state === 'waiting_out' ? n : undefined;
  }, 5_000, 'waiting out');
  expect((await t.host.requestPower(behind.id, 'query', CALLER)).result).toBe('accepted');
  behind = await eventually(() => {
    const n = t.host.getNode(behind.id)!;
    return n.power.command?.state === 'queued_for_bmc' ? n : undefined;
  }, 5_000, 'queued for the BMC');
  t.fleet.setFault(dark.id, { unreachable: true });
  expect((await t.host.requestPower(dark.id, 'query', CALLER)).result).toBe('accepted');
  dark = await eventually(() => {
    const n = t.host.getNode(dark.id)!;
    return n.power.readError !== null ? n : undefined;
  }, 5_000, 'read error');
}, 30_000);

afterAll(async () => {
  await t?.close();
});

describe('switchboard nodes show', () => {
  it('prints the command waiting out, until when, and the effective timing with units', async () => {
    const run = await t.cli(['nodes', 'show', 'hung-01'], 'viewer');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const until = hung.power.command!.until!;
    expect(run.stdout).toMatch(/^name\s+hung-01$/m);
    expect(run.stdout).toMatch(/^in flight\s+off \((dispatching|polling|waiting|backoff)\), attempt 1, origin user, op \S+$/m);
    expect(run.stdout).toMatch(new RegExp(
      `^command\\s+waiting out since \\d\\d:\\d\\d:\\d\\d, until ${clock(until)} \\(in \\d+ s\\): Switchboard gave up on the command, ` +
      'but the BMC may still be acting on it; nothing else is sent to this node or its BMC before then$', 'm'));
    expect(run.stdout).toMatch(/^read error\s+-$/m);
    expect(run.stdout).toMatch(/^timing$/m);
    for (const line of [/^ {2}request timeout\s+300 ms$/m, /^ {2}command budget\s+300 ms$/m, /^ {2}settle time\s+20 s$/m,
      /^ {2}step timeout\s+1 min$/m, /^ {2}attempts\s+3 per step$/m, /^ {2}min interval\s+0 ms$/m]) {
      expect(run.stdout).toMatch(line);
    }
  });

  it('prints a command queued for its BMC and a BMC that cannot be read', async () => {
    const [queued, unreadable] = await Promise.all([t.cli(['nodes', 'show', behind.id], 'viewer'), t.cli(['nodes', 'show', 'dark-01'], 'viewer')]);
    expect(queued.code).toBe(0);
    expect(queued.stdout).toMatch(/^command\s+queued for its BMC since \d\d:\d\d:\d\d: another command to the same BMC runs first$/m);
    expect(unreadable.code).toBe(0);
    const lineOf = (label: string) => unreadable.stdout.split('\n').find((l) => l.startsWith(`${label} `))?.replace(/^\S+( \S+)?\s+/, '');
    expect(lineOf('read error')).toBe(`BMC unreadable: ${dark.power.readError!} (Switchboard checks again on its own; this clears when the BMC answers)`);
    expect(lineOf('power')).toBe('observed on, desired - (last reading: the BMC cannot be read now)');
    expect(unreadable.stdout).toMatch(/^ {2}command budget\s+5 s$/m);
  });

  it('keeps --json the raw node view, and a node that does not exist exits 4', async () => {
    const [json, ghost, noArg] = await Promise.all([
      t.cli(['nodes', 'show', 'hung-01', '--json'], 'viewer'),
      t.cli(['nodes', 'show', 'ghost'], 'viewer'),
      t.cli(['nodes', 'show'], 'viewer'),
    ]);
    expect(json.code).toBe(0);
    const view = JSON.parse(json.stdout) as NodeView;
    expect(view.id).toBe(hung.id);
    expect(view.power.command).toMatchObject({ state: 'waiting_out', until: hung.power.command!.until });
    expect(view.timing).toEqual({ requestTimeoutMs: 300, commandBudgetMs: 300, settleMs: SETTLE_MS, stepTimeoutMs: 60_000, attempts: 3, minIntervalMs: 0 });
    expect(ghost.code).toBe(4);
    expect(noArg.code).toBe(2);
    expect(noArg.stderr).toContain('give exactly one NODE');
  });
});

describe('switchboard nodes ls', () => {
  it('marks a node waiting out, one queued and one unreadable in the table; --json is the raw views', async () => {
    const ls = await t.cli(['nodes', 'ls'], 'viewer');
    expect(ls.code).toBe(0);
    const lines = ls.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+STATUS\s+POWER\s+IN FLIGHT\s+PENDING\s+COMMAND\s+DRIVER\s+BMC\s+LAST ERROR$/);
    const line = (name: string) => lines.find((l) => l.startsWith(`${name} `)) ?? '';
    expect(line('hung-01')).toMatch(new RegExp(`^hung-01\\s+new\\s+on/off\\s+off \\(\\w+\\)\\s+-\\s+waiting out until ${clock(hung.power.command!.until!)}\\s+sim\\s+bmc-shared`));
    expect(line('hung-02')).toMatch(/^hung-02\s+new\s+off\/-\s+query \(\w+\)\s+-\s+queued for bmc\s+sim\s+bmc-shared/);
    expect(line('dark-01')).toMatch(/^dark-01\s+new\s+on\/- unreadable\s+/);
    expect(line('dark-01')).toContain('unreachable');
    const json = await t.cli(['nodes', 'ls', '--json'], 'viewer');
    const views = JSON.parse(json.stdout) as NodeView[];
    expect(views.find((n) => n.name === 'hung-01')?.power.command?.state).toBe('waiting_out');
    expect(views.find((n) => n.name === 'dark-01')?.power.readError).toBe(dark.power.readError);
  });

  it('words for each command state and timing value', () => {
    const since = '2025-01-01T10:00:00.000Z';
    const until = '2025-01-01T10:00:20.000Z';
    expect(commandCell(null)).toBe('-');
    expect(commandCell({ state: 'sent', since, until: null })).toBe('sent');
    expect(commandCell({ state: 'queued_for_global_cap', since, until: null })).toBe('queued: global cap');
    expect(commandCell({ state: 'waiting_out', since, until })).toBe(`waiting out until ${clock(until)}`);
    expect(commandLine({ state: 'waiting_out', since, until }, Date.parse(since) + 5_500)).toContain(`until ${clock(until)} (in 15 s)`);
    expect(commandLine({ state: 'waiting_out', since, until }, Date.parse(until) + 1)).toContain('(now)');
    expect(commandLine({ state: 'queued_for_global_cap', since, until: null })).toMatch(/^queued for the global concurrency cap since \d\d:\d\d:\d\d: sent when a slot frees up$/);
    expect([0, 999, 1000, 1500, 5000, 60_000, 90_000, 3_600_000].map(millisText)).toEqual(['0 ms', '999 ms', '1 s', '1.5 s', '5 s', '1 min', '1 min 30 s', '60 min']);
  });
});
