/**
 * One table row of the fleet: built once, then patched cell by cell (text and class only when
 * they changed), so a stream message costs a few DOM writes, not a re-render.
 */
import { h, setClass, setText } from './dom.js';
import { ACTION_LABEL, POWER_ACTIONS, actionWords, inFlightText, originSuffix, statusTone, words } from './format.js';

const SHORT = { on: 'On', off: 'Off', soft_off: 'Soft', cycle: 'Cycle', query: 'Query' };

export function buildRow() {
  const check = h('input', { type: 'checkbox', class: 'row-check', 'aria-label': 'Select node' });
  const link = h('a', { class: 'node-link' });
  const status = h('span');
  const observed = h('span');
  const desired = h('span');
  const inFlight = h('span');
  const pending = h('span');
  const error = h('span', { class: 'err-text' });
  const buttons = POWER_ACTIONS.map((action) =>
    h('button', { class: `btn btn-xs act-${action}`, dataset: { action }, title: ACTION_LABEL[action] }, SHORT[action]));
  const tr = h('tr', { class: 'row' },
    h('td', { class: 'c-sel' }, check),
    h('td', { class: 'c-name' }, link),
    h('td', { class: 'c-status' }, status),
    h('td', { class: 'c-observed' }, observed),
    h('td', { class: 'c-desired' }, desired),
    h('td', { class: 'c-inflight' }, inFlight),
    h('td', { class: 'c-pending' }, pending),
    h('td', { class: 'c-error' }, error),
    h('td', { class: 'c-actions' }, h('div', { class: 'btn-group' }, buttons)));
  tr.cells$ = { check, link, status, observed, desired, inFlight, pending, error, buttons };
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
  const sig = `${node.updatedAt}|${node.status}|${p.observed}|${p.desired}|${p.phase}|${JSON.stringify(p.inFlight)}|${JSON.stringify(p.pending)}|${p.lastError}|${node.allowed.power.join()}|${node.fault}`;
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
  setClass(c.observed, `pill obs-${p.observed}`);
  tr.dataset.observed = p.observed;
  const drift = p.desired !== null && p.desired !== p.observed;
  setText(c.desired, p.desired ?? '—');
  setClass(c.desired, drift ? 'desired is-drift' : 'desired');
  c.desired.title = drift ? `Desired ${p.desired}, observed ${p.observed}` : '';
  setText(c.inFlight, p.inFlight ? inFlightText(p.inFlight, p.phase) + originSuffix(p.inFlight.origin) : '');
  setClass(c.inFlight, p.inFlight ? `pill inflight phase-${p.phase}` : '');
  setText(c.pending, p.pending ? actionWords(p.pending.action) + originSuffix(p.pending.origin) : '');
  setClass(c.pending, p.pending ? 'pill pending' : '');
  const err = node.fault ?? p.lastError ?? '';
  setText(c.error, err);
  c.error.title = err;
  const allowed = new Set(node.allowed.power);
  for (const btn of c.buttons) {
    const action = btn.dataset.action;
    const ok = allowed.has(action);
    if (btn.disabled === ok) btn.disabled = !ok;
    btn.title = ok ? `${ACTION_LABEL[action]} ${node.name}` : disabledReason(node, action);
  }
  if (prevObserved !== undefined && prevObserved !== p.observed) flash(tr);
}

function flash(tr) {
  tr.classList.remove('flash');
  void tr.offsetWidth; // restart the animation
  tr.classList.add('flash');
}
