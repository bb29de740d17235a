/* global document */
/**
 * The token control in the header: shows whether writes are possible, and lets a person paste
 * a token (checked against the API before it is kept) or forget it.
 */
import { ApiError, probeRole } from './api.js';
import { h, setText } from './dom.js';
import { canWrite, token } from './token.js';

export function mountTokenControl(slot) {
  const button = h('button', { class: 'btn btn-sm token-button', id: 'token-button', 'aria-haspopup': 'dialog' });
  const input = h('input', { type: 'password', class: 'input', id: 'token-input', placeholder: 'Paste an API token', autocomplete: 'off', spellcheck: 'false' });
  const save = h('button', { class: 'btn btn-sm btn-primary', id: 'token-save', type: 'submit' }, 'Use token');
  const forget = h('button', { class: 'btn btn-sm btn-ghost', id: 'token-forget', type: 'button' }, 'Forget');
  const message = h('div', { class: 'token-message', id: 'token-message' });
  const form = h('form', { class: 'token-form' }, input, save, forget);
  const panel = h('div', { class: 'token-panel', id: 'token-panel', role: 'dialog', 'aria-label': 'API token', hidden: true },
    h('div', { class: 'token-help' },
      'Reading works without a token in demo mode on localhost. Power and lifecycle actions need an ',
      h('b', {}, 'operator'), ' (or admin) token. It is kept in this browser’s local storage.'),
    form, message);
  slot.replaceChildren(button, panel);

  function render() {
    if (!token.value) {
      setText(button, 'Read-only · add token');
      button.dataset.state = 'none';
    } else {
      setText(button, `Token: ${token.role ?? 'unchecked'}`);
      button.dataset.state = canWrite() ? 'write' : 'read';
    }
    forget.hidden = !token.value;
  }

  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    if (!panel.hidden) input.focus();
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') panel.hidden = true;
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const secret = input.value.trim();
    if (secret === '') {
      setText(message, 'Paste a token first.');
      return;
    }
    save.disabled = true;
    setText(message, 'Checking…');
    message.className = 'token-message';
    try {
      const role = await probeRole(secret);
      token.set(secret, role);
      input.value = '';
      setText(message, role === 'viewer'
        ? 'Token accepted, role viewer: you can read, but power actions need an operator token.'
        : `Token accepted, role ${role}: actions are enabled.`);
      message.className = `token-message ${role === 'viewer' ? 'warn' : 'ok'}`;
    } catch (err) {
      const text = err instanceof ApiError && err.code === 'unauthorized'
        ? 'This token was not accepted: it is unknown or revoked.'
        : `Could not check the token: ${err.message}`;
      setText(message, text);
      message.className = 'token-message bad';
    } finally {
      save.disabled = false;
    }
  });
  forget.addEventListener('click', () => {
    token.clear();
    setText(message, 'Token forgotten. You are read-only now.');
    message.className = 'token-message';
  });
  token.onChange(render);
  render();
}
