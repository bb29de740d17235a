/* global document */
/** Messages in the corner: refusals stay until dismissed, confirmations fade. */
import { h } from './dom.js';

const MAX = 6;

function area() {
  return document.getElementById('notices');
}

export function notify({ kind = 'info', title, message = '', next = '', code, ttlMs }) {
  const root = area();
  if (!root) return;
  const close = () => el.remove();
  const el = h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status', dataset: { code: code ?? '' } },
    h('div', { class: 'notice-head' },
      h('strong', { class: 'notice-title' }, title),
      h('button', { class: 'notice-close', title: 'Dismiss', 'aria-label': 'Dismiss', onclick: close }, '×')),
    message ? h('div', { class: 'notice-message' }, message) : null,
    next ? h('div', { class: 'notice-next' }, next) : null);
  root.prepend(el);
  while (root.children.length > MAX) root.lastElementChild?.remove();
  const ttl = ttlMs ?? (kind === 'error' ? 0 : 4000);
  if (ttl > 0) setTimeout(close, ttl);
}
