/**
 * One node: its power and lifecycle at a glance (with the driver command out and until when it
 * holds the node, a BMC read fault, the effective timing), action buttons enabled from `allowed`, the
 * event timeline and ops history (paged, live), and the statechart with its current states lit.
 */
import { confirmPower, requestLifecycle, requestPower } from './actions.js';
import { ChartPanel } from './chart.js';
import { h } from './dom.js';
import {
  ACTION_LABEL, COMMAND_WORDS, POWER_ACTIONS, TIMING_FIELDS, ago, commandSentence, countdown, dateTime, inFlightText, originSuffix,
  secondsClock, statusTone, timingValue, words, actionWords,
} from './format.js';
import { disabledReason } from './fleet-rows.js';
import { gating } from './gating.js';
import { EventTimeline, OpsTable } from './history.js';
import { store } from './store.js';

function findNode(ref) {
  return store.get(ref) ?? [...store.nodes.values()].find((n) => n.name === ref);
}

function field(label, value, cls = '') {
  return h('div', { class: `field ${cls}` }, h('div', { class: 'field-label' }, label), h('div', { class: 'field-value', title: typeof value === 'string' ? value : undefined }, value));
}

/** The driver command the node has out: its state, since when, until when (ticking), and what it means. */
function commandBlock(p) {
  const c = p.command;
  if (!c) return { el: null, tick: null };
  const left = c.until ? h('span', { class: 'countdown', id: 'command-countdown', title: dateTime(c.until) }, countdown(c.until)) : null;
  const el = h('div', { class: `notice-block cmd-block cmd-block-${c.state}`, id: 'node-command', dataset: { state: c.state } },
    h('div', { class: 'cmd-line' },
      h('span', { class: 'field-label' }, 'BMC command'),
      h('span', { class: `pill cmd cmd-${c.state}` }, COMMAND_WORDS[c.state]),
      h('span', { class: 'muted', title: dateTime(c.since) }, `since ${secondsClock(c.since)}`),
      c.until ? h('span', { class: 'muted', title: dateTime(c.until) }, `until ${secondsClock(c.until)}`) : null,
      left),
    c.state === 'sent' ? null : h('div', { class: 'cmd-why' }, commandSentence(c, p.inFlight)));
  return { el, tick: left === null ? null : () => { left.textContent = countdown(c.until); } };
}

function readErrorBlock(p) {
  if (!p.readError) return null;
  return h('div', { class: 'notice-block read-block', id: 'node-read-error' },
    h('div', { class: 'cmd-line' }, h('span', { class: 'badge-unreadable' }, 'BMC unreadable'), h('span', { class: 'read-message' }, p.readError)),
    h('div', { class: 'cmd-why' }, `The last query failed; observed ${p.observed} is the last reading. Switchboard checks again on its own (with backoff) and this clears when the BMC answers.`));
}

function timingBlock(timing) {
  if (!timing) return null;
  return h('div', { class: 'timing', id: 'node-timing' },
    h('span', { class: 'field-label timing-title' }, 'Timing'),
    h('dl', { class: 'timing-list' }, TIMING_FIELDS.map(([key, label, help]) =>
      h('div', { class: 'timing-item', title: `${help} (${key}: ${timing[key]})`, dataset: { key } },
        h('dt', {}, label), h('dd', {}, timingValue(key, timing[key]))))));
}

export function mountNode(root, ref, tab) {
  let node = findNode(ref);
  const head = h('section', { class: 'card node-head', id: 'node-head' });
  const tabs = h('nav', { class: 'tabs' });
  const body = h('div', { class: 'tab-body' });
  root.replaceChildren(h('section', { class: 'node-page' },
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Fleet'), ' / ', h('span', { id: 'crumb-name' }, node?.name ?? ref)),
    head, tabs, body));

  let operatorEvents = null;
  gating().then((g) => {
    operatorEvents = new Set(Object.entries(g.lifecycle).filter(([, r]) => r.operator).map(([e]) => e));
    renderHead();
  }).catch(() => undefined);

  let events = null;
  let ops = null;
  let chart = null;
  let opsTimer = null;
  let ticker = null;

  function renderHead() {
    clearInterval(ticker);
    ticker = null;
    if (node === undefined) {
      head.replaceChildren(h('div', { class: 'empty' }, store.loaded ? `No node "${ref}". It may have been deleted.` : 'Waiting for the fleet…'));
      return;
    }
    const p = node.power;
    const allowed = new Set(node.allowed.power);
    const powerButtons = POWER_ACTIONS.map((action) => h('button', {
      class: `btn act-${action}`, dataset: { action }, disabled: !allowed.has(action),
      title: allowed.has(action) ? `${ACTION_LABEL[action]} ${node.name}` : disabledReason(node, action),
      onclick: () => requestPower(node, action),
    }, ACTION_LABEL[action]));
    const lifecycle = node.allowed.lifecycle;
    const isOperator = (e) => operatorEvents === null || operatorEvents.has(e);
    const lifeButtons = lifecycle.filter(isOperator).map((event) =>
      h('button', { class: 'btn btn-ghost', dataset: { event }, onclick: () => requestLifecycle(node, event) }, words(event)));
    const reports = lifecycle.filter((e) => !isOperator(e)).map((event) =>
      h('button', { class: 'btn btn-ghost btn-sm', dataset: { event }, title: 'Normally reported by the provisioning system', onclick: () => requestLifecycle(node, event) }, words(event)));
    const confirm = p.phase === 'confirming'
      ? h('div', { class: 'action-row' }, h('span', { class: 'action-label' }, 'Confirm:'),
        h('button', { class: 'btn', onclick: () => confirmPower(node, 'on') }, 'It is on'),
        h('button', { class: 'btn', onclick: () => confirmPower(node, 'off') }, 'It is off'))
      : null;
    const drift = p.desired !== null && p.desired !== p.observed;
    const command = commandBlock(p);
    // The countdown ticks until the next render: a change of state re-renders and drops it.
    if (command.tick !== null) ticker = setInterval(command.tick, 1000);
    head.replaceChildren(
      h('div', { class: 'node-title' },
        h('h1', {}, node.name),
        h('span', { class: `pill status-${statusTone(node.status)}`, id: 'node-status' }, words(node.status)),
        h('span', { class: `pill obs-${p.observed}${p.readError ? ' is-unreadable' : ''}`, id: 'node-observed' }, `observed ${p.observed}`),
        p.readError ? h('span', { class: 'badge-unreadable', title: p.readError }, 'BMC unreadable') : null,
        h('span', { class: `desired${drift ? ' is-drift' : ''}` }, `desired ${p.desired ?? '—'}`),
        node.fault ? h('span', { class: 'pill obs-error' }, 'faulted') : null),
      h('div', { class: 'fields' },
        field('In flight', p.inFlight ? h('span', { class: `pill inflight phase-${p.phase}` }, inFlightText(p.inFlight, p.phase) + originSuffix(p.inFlight.origin)) : '—'),
        field('Pending', p.pending ? h('span', { class: 'pill pending' }, actionWords(p.pending.action) + originSuffix(p.pending.origin)) : '—'),
        field('Power phase', p.phase),
        field('Driver', node.driver),
        field('BMC', node.bmc),
        field('Drift policy', node.driftPolicy),
        field('Soft off escalates', node.softOffEscalate ? 'yes' : 'no'),
        field('Updated', h('span', { title: dateTime(node.updatedAt) }, ago(node.updatedAt))),
        field('Id', h('code', { title: node.id }, node.id)),
        field('Last error', node.fault ?? p.lastError ?? '—', node.fault || p.lastError ? 'is-error wide' : '')),
      ...[command.el, readErrorBlock(p), timingBlock(node.timing)].filter((el) => el !== null),
      h('div', { class: 'actions' },
        h('div', { class: 'action-row' }, h('span', { class: 'action-label' }, 'Power:'), h('div', { class: 'btn-group' }, powerButtons)),
        h('div', { class: 'action-row' }, h('span', { class: 'action-label' }, 'Lifecycle:'),
          lifeButtons.length ? lifeButtons : h('span', { class: 'muted' }, 'none in this status'),
          reports.length ? h('span', { class: 'action-label sub' }, 'Report:') : null, reports),
        confirm));
  }

  function showTab(name) {
    for (const a of tabs.querySelectorAll('a')) a.classList.toggle('active', a.dataset.tab === name);
    if (name === 'chart') {
      if (chart === null) chart = new ChartPanel();
      chart.highlight(node);
      body.replaceChildren(chart.el);
    } else {
      if (events === null && node !== undefined) {
        events = new EventTimeline(node.id);
        ops = new OpsTable(node.id);
        void events.loadFirst();
        void ops.loadFirst();
      }
      body.replaceChildren(h('div', { class: 'history-grid' }, events?.el ?? '', ops?.el ?? ''));
    }
  }

  const id = () => node?.id ?? ref;
  tabs.replaceChildren(
    h('a', { href: `#/node/${encodeURIComponent(id())}`, dataset: { tab: 'history' }, id: 'tab-history' }, 'History'),
    h('a', { href: `#/node/${encodeURIComponent(id())}/chart`, dataset: { tab: 'chart' }, id: 'tab-chart' }, 'Statechart'));

  const offChange = store.onChange((changed, _before, newEvents, deleted) => {
    if (changed.id !== node?.id) return;
    node = deleted ? undefined : changed;
    renderHead();
    chart?.highlight(node);
    if (newEvents.length > 0) {
      events?.prepend(newEvents);
      if (ops !== null && newEvents.some((e) => e.opId !== null)) {
        clearTimeout(opsTimer);
        opsTimer = setTimeout(() => void ops.loadFirst(), 250);
      }
    }
  });
  const offReset = store.onReset(() => {
    const before = node;
    node = findNode(before?.id ?? ref);
    renderHead();
    chart?.highlight(node);
    if (before === undefined && node !== undefined) showTab(tab);
    // Events may have been missed while disconnected.
    void events?.loadFirst();
    void ops?.loadFirst();
  });

  renderHead();
  showTab(tab);
  return {
    destroy() {
      offChange();
      offReset();
      clearTimeout(opsTimer);
      clearInterval(ticker);
    },
  };
}
