/**
 * The web UI in real Chromium (Debian's /usr/bin/chromium via playwright-core) against the real
 * stack listening on a loopback port: live row updates without reload, a token pasted as a
 * person would, a slots_full refusal explained in words, bulk progress to 100 %, and the
 * statechart with the node's current states highlighted live; a node waiting out an abandoned
 * command (and one queued behind it on the same BMC, and one whose BMC cannot be read) in the
 * fleet table and on its page, at 1440 and 1024 px. Screenshots go to test-results/.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually, startHttpStack, type HttpStack } from '../support/http.ts';
import { buildFleet, type TestFleet } from './fleet.ts';
import { CHROMIUM, findCommand, requirePeers } from '../support/peers.ts';
import { pageWaitUntil } from './page-wait.ts';

const peers = requirePeers('test/browser/ui.test.ts (the web UI in real Chromium)', [CHROMIUM]);

const UI_ROOT = fileURLToPath(new URL('../../src/http/ui/', import.meta.url));
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const FLEET_SIZE = 80;

let t: HttpStack;
let fleet: TestFleet;
let browser: Browser;
let page: Page;

const waitUntil = (expression: string, timeoutMs?: number) => pageWaitUntil(page, expression, timeoutMs);
/** What the page's CSP refused (the console reports each refusal). */
const cspRefusals: string[] = [];
let base: string;

beforeAll(async () => {
  if (!peers) return;
  mkdirSync(RESULTS, { recursive: true });
  t = await startHttpStack({ auth: { openReadOnLocalhost: true }, uiRoot: UI_ROOT });
  fleet = await buildFleet(t, FLEET_SIZE);
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
  browser = await chromium.launch({
    executablePath: findCommand(CHROMIUM),
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.setDefaultTimeout(10_000);
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspRefusals.push(m.text());
  });
}, 60_000);

afterAll(async () => {
  await page?.screenshot({ path: `${RESULTS}ui-last.png` }).catch(() => undefined);
  await browser?.close();
  await t?.close();
});

const row = (id: string) => `tr.row[data-id="${id}"]`;

/** In-page conditions as source text: this test compiles without the DOM library. */
const textOf = (selector: string) => `(document.querySelector(${JSON.stringify(selector)})?.textContent ?? '')`;
const waitText = (selector: string, text: string) => waitUntil(`${textOf(selector)} === ${JSON.stringify(text)}`);
/** What a person sees (innerText: no display:none parts). */
const waitShown = (selector: string, text: string) =>
  waitUntil(`(document.querySelector(${JSON.stringify(selector)})?.innerText ?? '') === ${JSON.stringify(text)}`);
const waitTextIncludes = (selector: string, text: string) => waitUntil(`${textOf(selector)}.includes(${JSON.stringify(text)})`);

async function operatorToken(): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: t.auth('admin'), payload: { name: 'ui-test-operator', role: 'operator' } });
  expect(res.statusCode).toBe(201);
  return (res.json() as { token: string }).token;
}

async function powerViaApi(id: string, action: string): Promise<number> {
  const res = await t.app.inject({ method: 'POST', url: `/api/v1/nodes/${id}/power`, headers: t.auth('operator'), payload: { action } });
  return res.statusCode;
}

describe.runIf(peers)('web UI in Chromium', () => {
  test('fleet table, token, live power off, refusals, bulk progress and the statechart', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));

    await page.goto(base);
    await page.waitForSelector('#conn[data-state="live"]');
    await page.waitForSelector(row(fleet.target.id));
    expect(await page.locator('#fleet-counts').textContent()).toContain(`${FLEET_SIZE + 2} nodes`);
    // Only the rows in view exist: the table is virtualised.
    expect(await page.locator('tr.row').count()).toBeLessThan(FLEET_SIZE);
    await page.evaluate('window.loadMarker = 42');

    // Without a token an action is refused, and the page says what to do.
    const offButton = page.locator(`${row(fleet.target.id)} button[data-action="off"]`);
    await offButton.click();
    const needToken = page.locator('.notice-error[data-code="unauthorized"]').first();
    await needToken.waitFor();
    expect(await needToken.textContent()).toMatch(/operator token/);
    await needToken.locator('.notice-close').click();
    expect(t.host.getNode(fleet.target.id)?.power.desired).toBeNull();

    // A person pastes an operator token.
    await page.click('#token-button');
    await page.fill('#token-input', await operatorToken());
    await page.click('#token-save');
    await waitTextIncludes('#token-button', 'operator');
    expect(await page.evaluate('localStorage.getItem("switchboard.token")')).toMatch(/.+/);
    await page.click('#token-button');

    // Power off through the row's button: the row goes through in-flight and ends observed off, live.
    const observed = page.locator(`${row(fleet.target.id)} .c-observed .pill`);
    expect(await observed.textContent()).toBe('on');
    await offButton.click();
    await waitUntil(`${textOf(`${row(fleet.target.id)} .c-inflight .pill`)} !== ''`);
    await waitText(`${row(fleet.target.id)} .c-observed .pill`, 'off');
    expect(await page.locator(`${row(fleet.target.id)} .c-desired`).textContent()).toBe('off');
    expect(await page.evaluate('window.loadMarker')).toBe(42);
    expect(t.host.getNode(fleet.target.id)?.power.observed).toBe('off');

    // Fill the slow node's two slots through the API; its Off button turns off and says why.
    expect(await powerViaApi(fleet.slow.id, 'off')).toBe(202);
    expect(await powerViaApi(fleet.slow.id, 'soft_off')).toBe(202);
    const slowOff = page.locator(`${row(fleet.slow.id)} button[data-action="off"]`);
    await page.fill('#fleet-filter', 'slow');
    await page.waitForSelector(`${row(fleet.slow.id)} button[data-action="off"]:disabled`);
    expect(await slowOff.getAttribute('title')).toMatch(/Both slots taken/);

    // A bulk off that includes it: that node is refused with slots_full, in words, with the next step.
    await page.check(`${row(fleet.slow.id)} .row-check`);
    await page.fill('#fleet-filter', 'r01-');
    await page.waitForSelector(`tr.row[data-id="${fleet.nodes[2]!.id}"]`);
    await page.check(`${row(fleet.nodes[2]!.id)} .row-check`);
    await page.check(`${row(fleet.nodes[3]!.id)} .row-check`);
    expect(await page.locator('#selection-count').textContent()).toBe('3 selected');
    await page.click('button[data-bulk-action="off"]');
    await page.waitForSelector('#bulk-progress[aria-valuenow="100"]');
    const report = page.locator('#bulk-report .report-group[data-code="slots_full"]');
    await report.waitFor();
    const reportText = await report.textContent();
    expect(reportText).toContain('slow-01');
    expect(reportText).toContain('wait for one to finish');
    expect(reportText).toMatch(/Wait for the in-flight op to finish, then retry/);
    expect(await page.locator('#bulk-summary').textContent()).toMatch(/3\/3 sent · 2 accepted · 1 refused/);
    await page.fill('#fleet-filter', '');
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${RESULTS}ui-fleet.png` });

    // Bulk over the whole fleet in chunks: the bar reaches 100 % and every node is answered.
    await page.click('button:text("Clear")');
    await page.selectOption('#status-filter', 'new');
    await waitTextIncludes('#fleet-counts', 'shown');
    await page.check('#select-all');
    const selected = Number((await page.locator('#selection-count').textContent())?.split(' ')[0]);
    expect(selected).toBeGreaterThan(50);
    await page.click('button[data-bulk-action="query"]');
    await page.waitForSelector('#bulk-progress[aria-valuenow="100"][data-state]:not([data-state="running"])');
    expect(await page.locator('#bulk-summary').textContent()).toContain(`${selected}/${selected} sent`);
    await page.selectOption('#status-filter', '');

    // The node page: history, then the statechart with its current states, highlighted live.
    await page.click(`${row(fleet.target.id)} .c-name a`);
    await page.waitForSelector('#node-head h1');
    await page.locator('#event-timeline .tl-item[data-kind="observed_changed"]').first().waitFor();
    await page.locator('#ops-table tr[data-state="succeeded"]').first().waitFor();
    await page.click('#tab-chart');
    const canvas = page.locator('#chart-canvas');
    await page.waitForSelector('#chart-canvas[data-current~="node.lifecycle.new"][data-current~="node.power.idle"]');
    expect(await page.locator('#chart-canvas g.node.is-current title').allTextContents()).toEqual(
      expect.arrayContaining(['node.lifecycle.new', 'node.power.idle']));
    expect(await powerViaApi(fleet.target.id, 'soft_off')).toBe(202);
    await page.waitForSelector('#chart-canvas[data-current~="node.power.dispatching"]');
    await page.waitForSelector('#chart-canvas[data-current~="node.power.idle"]');
    await page.screenshot({ path: `${RESULTS}ui-statechart.png` });
    expect(await canvas.getAttribute('data-current')).toContain('node.lifecycle.new');

    // Back to the history: the soft off just sent is in the timeline and the ops table, live.
    await page.click('#tab-history');
    await page.locator('#ops-table tr[data-state="succeeded"]').nth(1).waitFor();
    await page.locator('#event-timeline .tl-item[data-kind="op_succeeded"]').nth(1).waitFor();
    await page.screenshot({ path: `${RESULTS}ui-node.png` });

    // The statechart page on its own: the chart and the gating table, nothing highlighted.
    await page.click('.nav a[data-route="chart"]');
    await page.waitForSelector('#chart-canvas svg g.node');
    await page.waitForSelector('.gating-table td.yes');
    expect(await page.locator('#chart-canvas g.node.is-current').count()).toBe(0);
    expect(errors).toEqual([]);
  }, 60_000);

  test('a node waiting out an abandoned command, one queued for its BMC, one unreadable: row, node page, countdown', async () => {
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    const view = (id: string) => t.host.getNode(id)!;
    const settled = (id: string) => eventually(() => {
      const n = t.host.getNode(id);
      return n !== undefined && n.power.inFlight === null && n.power.command === null && n.power.observed !== 'unknown' ? n : undefined;
    }, 10_000, `node ${id} settled`);
    // Switchboard gives up on a command after 300 ms; the BMC may then act on it for 15 s more.
    const SETTLE_MS = 15_000;
    const hung = await t.simNode('hung-01', {
      latencyMs: 20, initialPower: 'on', bmc: 'bmc-shared',
      timing: { commandBudgetMs: 300, requestTimeoutMs: 300, settleMs: SETTLE_MS, stepTimeoutMs: 60_000 },
    });
    const behind = await t.simNode('hung-02', { latencyMs: 20, initialPower: 'off', bmc: 'bmc-shared' });
    const dark = await t.simNode('dark-01', { latencyMs: 20, initialPower: 'on' });
    await Promise.all([settled(hung.id), settled(behind.id), settled(dark.id)]);

    // The BMC stops answering (and, as a slow BMC would, may still act later): the off is abandoned.
    t.fleet.setFault(hung.id, { hang: true });
    expect(await powerViaApi(hung.id, 'off')).toBe(202);
    const waiting = await eventually(() => (view(hung.id).power.command?.state === 'waiting_out' ? view(hung.id) : undefined), 5_000, 'waiting out');
    const until = waiting.power.command!.until!;
    expect(new Date(until).getTime() - Date.now()).toBeGreaterThan(10_000);
    // Another node on the same BMC waits for it.
    expect(await powerViaApi(behind.id, 'query')).toBe(202);
    await eventually(() => view(behind.id).power.command?.state === 'queued_for_bmc' || undefined, 5_000, 'queued for the BMC');
    // A BMC that cannot be read.
    t.fleet.setFault(dark.id, { unreachable: true });
    expect(await powerViaApi(dark.id, 'query')).toBe(202);
    const unreadable = await eventually(() => (view(dark.id).power.readError !== null ? view(dark.id) : undefined), 5_000, 'read error');

    const clock = (iso: string) => new Date(iso).toTimeString().slice(0, 8);
    await page.goto(`${base}/#/`);
    await page.waitForSelector('#conn[data-state="live"]');
    await page.fill('#fleet-filter', '');
    await page.waitForSelector(row(hung.id));
    const hungCmd = `${row(hung.id)} .c-inflight .cmd`;
    await waitShown(hungCmd, `waiting → ${clock(until)}`);
    expect(await page.locator(hungCmd).getAttribute('title')).toMatch(/BMC may still be acting on it until .*Nothing else is sent/);
    expect(await page.locator(`${row(hung.id)} .c-inflight .inflight`).isHidden()).toBe(true);
    // A queued command is not a committed change, so the stream does not carry it: a reload shows it.
    await page.reload();
    await waitShown(`${row(behind.id)} .c-inflight .cmd`, 'queued for BMC');
    const badge = page.locator(`${row(dark.id)} .badge-unreadable`);
    await badge.waitFor();
    expect(await badge.getAttribute('title')).toContain(unreadable.power.readError!);
    expect(await page.locator(`${row(dark.id)} .c-observed .pill.is-unreadable`).count()).toBe(1);
    // The power filter finds the waiting ones.
    await page.selectOption('#power-filter', 'waiting');
    await waitTextIncludes('#fleet-counts', '2 shown');
    await page.selectOption('#power-filter', '');
    await page.screenshot({ path: `${RESULTS}ui-waiting.png` });
    await page.setViewportSize({ width: 1024, height: 768 });
    // Narrow: the chip keeps the time and drops the words; nothing spills out of its cell.
    await waitShown(hungCmd, `until ${clock(until)}`);
    await waitShown(`${row(behind.id)} .c-inflight .cmd`, 'queued: BMC');
    await page.screenshot({ path: `${RESULTS}ui-waiting-1024.png` });
    const fits = (selector: string) => page.evaluate(`(() => {
      const el = document.querySelector(${JSON.stringify(selector)});
      const cell = el.closest('td').getBoundingClientRect();
      const box = el.getBoundingClientRect();
      return box.right <= cell.right + 0.5 && el.scrollWidth <= el.clientWidth + 1;
    })()`);
    expect(await fits(hungCmd)).toBe(true);
    expect(await fits(`${row(behind.id)} .c-inflight .cmd`)).toBe(true);
    expect(await fits(`${row(dark.id)} .badge-unreadable`)).toBe(true);

    // The node page: the wait with a countdown that ticks, the timing, the abandoned command in the history.
    await page.click(`${row(hung.id)} .c-name a`);
    await page.waitForSelector('#node-command[data-state="waiting_out"]');
    expect(await page.locator('#node-command').textContent()).toContain(`until ${clock(until)}`);
    const left = page.locator('#command-countdown');
    const first = await left.textContent();
    expect(first).toMatch(/^\d+ s left$/);
    await waitUntil(`${textOf('#command-countdown')} !== ${JSON.stringify(first)} && /^\\d+ s left$/.test(${textOf('#command-countdown')})`);
    const timing = await page.locator('#node-timing').textContent();
    for (const part of ['Request timeout300 ms', 'Command budget300 ms', 'Settle time15 s', 'Step timeout1 min', 'Attempts3 per step']) expect(timing).toContain(part);
    const abandoned = page.locator('#event-timeline .tl-item[data-kind="command_abandoned"]').first();
    await abandoned.waitFor();
    expect(await abandoned.locator('.tl-kind').textContent()).toBe('command abandoned');
    expect(await abandoned.locator('.tl-text').textContent()).toMatch(/gave up waiting for the .*BMC may still carry it out/);
    await page.screenshot({ path: `${RESULTS}ui-waiting-node-1024.png` });
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.screenshot({ path: `${RESULTS}ui-waiting-node.png` });
    await page.goto(`${base}/#/node/${dark.id}`);
    await page.waitForSelector('#node-read-error');
    expect(await page.locator('#node-read-error').textContent()).toContain(unreadable.power.readError!);
    await page.locator('#event-timeline .tl-item[data-kind="bmc_unreadable"]').first().waitFor();
    await page.screenshot({ path: `${RESULTS}ui-unreadable-node.png` });

    // The BMC answers again: when the wait ends the countdown goes with it, and the off goes through.
    t.fleet.setFault(hung.id, {});
    await page.goto(`${base}/#/node/${hung.id}`);
    await page.waitForSelector('#command-countdown');
    await page.waitForSelector('#node-command[data-state="waiting_out"]', { state: 'detached', timeout: SETTLE_MS + 10_000 });
    expect(await page.locator('#command-countdown').count()).toBe(0);
    await waitText('#node-observed', 'observed off');
    expect(errors).toEqual([]);
  }, 60_000);
});

test.skipIf(!peers)('the page ran under the Content-Security-Policy without a refusal', () => {
  expect(cspRefusals).toEqual([]);
});
