/**
 * One table row of the fleet: built once, then patched cell by cell (text and class only when
 * they changed), so a stream message costs a few DOM writes, not a re-render.
 */
import { h, setClass, setText } from './dom.js';
import {
  ACTION_LABEL, COMMAND_WORDS, POWER_ACTIONS, actionWords, commandSentence, inFlightText, originSuffix, secondsClock, statusTone, words,
} from './format.js';

const SHORT = { on: 'On', off: 'Off', soft_off: 'Soft', cycle: 'Cycle', query: 'Query' };

export function buildRow() {
  const check = h('input', { type: 'checkbox', class: 'row-check', 'aria-label': 'Select node' });
  const link = h('a', { class: 'node-link' });
  const status = h('span');
  const observed = h('span');
  const desired = h('span');
  const inFlight = h('span');
  const command = h('span', { hidden: true });
  const pending = h('span');
  const unreadable = h('span', { class: 'badge-unreadable', hidden: true }, h('span', { class: 'w-md' }, 'BMC '), 'unreadable');
  const error = h('span', { class: 'err-text' });
  const buttons = POWER_ACTIONS.map((action) =>
    h('button', { class: `btn btn-xs act-${action}`, dataset: { action }, title: ACTION_LABEL[action] }, SHORT[action]));
  const tr = h('tr', { class: 'row' },
    h('td', { class: 'c-sel' }, check),
    h('td', { class: 'c-name' }, link),
    h('td', { class: 'c-status' }, status),
    h('td', { class: 'c-observed' }, observed),
    h('td', { class: 'c-desired' }, desired),
    h('td', { class: 'c-inflight' }, h('div', { class: 'cell-line' }, inFlight, command)),
    h('td', { class: 'c-pending' }, pending),
    h('td', { class: 'c-error' }, h('div', { class: 'cell-line' }, unreadable, error)),
    h('td', { class: 'c-actions' }, h('div', { class: 'btn-group' }, buttons)));
  tr.cells$ = { check, link, status, observed, desired, inFlight, command, pending, unreadable, error, buttons };
  tr.sig$ = '';
  return tr;
}

/** Why a button is off, in words (the tooltip). */
export function disabledReason(node, action) {
  const p = node.power;
  if (p.inFlight !== null && p.pending !== null && action !== 'query') {
    return `Both slots taken: ${actionWords(p.inFlight.action)} in flight, ${actionWords(p.pending.action)} pending`;
  }
  return `${ACTION_LABEL[action]} is not allowed while the node is ${words(node.status)}`;
}

export function fillRow(tr, node, selected) {
  const p = node.power;
  const sig = `${node.updatedAt}|${node.status}|${p.observed}|${p.desired}|${p.phase}|${JSON.stringify(p.inFlight)}|${JSON.stringify(p.pending)}|${JSON.stringify(p.command)}|${p.readError}|${p.lastError}|${node.allowed.power.join()}|${node.fault}`;
  const c = tr.cells$;
  if (c.check.checked !== selected) c.check.checked = selected;
  if (tr.classList.contains('is-selected') !== selected) tr.classList.toggle('is-selected', selected);
  if (tr.dataset.id !== node.id) {
    tr.dataset.id = node.id;
    c.link.href = `#/node/${encodeURIComponent(node.id)}`;
  }
  if (sig === tr.sig$) return;
  const prevObserved = tr.dataset.observed;
  tr.sig$ = sig;
  setText(c.link, node.name);
  c.link.title = `${node.id} · ${node.driver} · BMC ${node.bmc}`;
  setText(c.status, words(node.status));
  setClass(c.status, `pill status-${statusTone(node.status)}`);
  setText(c.observed, p.observed);
  setClass(c.observed, `pill obs-${p.observed}${p.readError ? ' is-unreadable' : ''}`);
  c.observed.title = p.readError ? `BMC unreadable: ${p.readError}. Last reading: ${p.observed}. Switchboard checks again on its own.` : '';
  tr.dataset.observed = p.observed;
  const drift = p.desired !== null && p.desired !== p.observed;
  setText(c.desired, p.desired ?? '—');
  setClass(c.desired, drift ? 'desired is-drift' : 'desired');
  c.desired.title = drift ? `Desired ${p.desired}, observed ${p.observed}` : '';
  fillCommand(c, p);
  setText(c.pending, p.pending ? actionWords(p.pending.action) + originSuffix(p.pending.origin) : '');
  setClass(c.pending, p.pending ? 'pill pending' : '');
  const err = node.fault ?? p.lastError ?? p.readError ?? '';
  setText(c.error, err);
  c.error.title = err;
  c.unreadable.hidden = !p.readError;
  c.unreadable.title = p.readError ? `The BMC could not be read: ${p.readError}. This clears by itself when the BMC answers again.` : '';
  const allowed = new Set(node.allowed.power);
  for (const btn of c.buttons) {
    const action = btn.dataset.action;
    const ok = allowed.has(action);
    if (btn.disabled === ok) btn.disabled = !ok;
    btn.title = ok ? `${ACTION_LABEL[action]} ${node.name}` : disabledReason(node, action);
  }
  if (prevObserved !== undefined && prevObserved !== p.observed) flash(tr);
}

/**
 * The in-flight cell: the op, or — while its command waits (queued, or waiting out an abandoned
 * command) — that wait in a chip, which says more than the op does then. The op is in the title.
 */
function fillCommand(c, p) {
  const op = p.inFlight ? inFlightText(p.inFlight, p.phase) + originSuffix(p.inFlight.origin) : '';
  const cmd = p.command && p.command.state !== 'sent' ? p.command : null;
  c.inFlight.hidden = cmd !== null;
  setText(c.inFlight, op);
  setClass(c.inFlight, p.inFlight ? `pill inflight phase-${p.phase}` : '');
  c.command.hidden = cmd === null;
  if (cmd === null) return;
  const until = cmd.state === 'waiting_out' && cmd.until ? secondsClock(cmd.until) : null;
  const text = until ? `${COMMAND_WORDS.waiting_out} until ${until}` : COMMAND_WORDS[cmd.state];
  if (c.command.dataset.text !== text) {
    c.command.dataset.text = text;
    c.command.replaceChildren(...chipParts(cmd.state, until));
  }
  setClass(c.command, `pill cmd cmd-${cmd.state}`);
  c.command.dataset.state = cmd.state;
  c.command.title = `${op ? `In flight: ${op}. ` : ''}${commandSentence(cmd, p.inFlight)}`;
}

/**
 * The chip's words in three widths (CSS shows the one the column has room for; the title has
 * the whole sentence): wide "waiting out until 12:03:41", medium "waiting → 12:03:41", narrow
 * "until 12:03:41"; "queued for BMC" / "queued: BMC", "queued: global cap" / "queued: cap".
 */
function chipParts(state, until) {
  const variants = (xl, md, sm) => [h('span', { class: 'w-xl' }, xl), h('span', { class: 'w-md' }, md), h('span', { class: 'w-sm' }, sm)];
  if (until !== null) return [...variants('waiting out until ', 'waiting → ', 'until '), until];
  if (state === 'queued_for_bmc') return ['queued', ...variants(' for BMC', ' for BMC', ': BMC')];
  if (state === 'queued_for_global_cap') return ['queued: ', ...variants('global cap', 'global cap', 'cap')];
  return [COMMAND_WORDS[state] ?? state];
}

function flash(tr) {
  tr.classList.remove('flash');
  void tr.offsetWidth; // restart the animation
  tr.classList.add('flash');
}
