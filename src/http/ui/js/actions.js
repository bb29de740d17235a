/** Single-node requests from buttons: the reply's node view goes to the store, refusals to a notice in words. */
import { api, ApiError, nodePath } from './api.js';
import { explain } from './explain.js';
import { actionWords, words } from './format.js';
import { notify } from './notices.js';
import { store } from './store.js';

function refused(node, what, err) {
  const e = err instanceof ApiError ? err : new ApiError(0, 'error', String(err));
  const { title, message, next, code } = explain(e);
  notify({ kind: 'error', title: `${node.name}: ${what} — ${title.replace(/^Refused: /, 'refused, ')}`, message, next, code });
}

export async function requestPower(node, action) {
  try {
    const { status, data } = await api('POST', `${nodePath(node.id)}/power`, { action });
    if (data?.node) store.offer(data.node);
    const verb = status === 200 ? 'already requested (coalesced with the existing op)' : 'accepted';
    notify({ kind: 'ok', title: `${node.name}: ${actionWords(action)} ${verb}` });
    return true;
  } catch (err) {
    refused(node, `${actionWords(action)}`, err);
    return false;
  }
}

export async function requestLifecycle(node, event) {
  try {
    const { data } = await api('POST', `${nodePath(node.id)}/lifecycle`, { event });
    if (data?.node) store.offer(data.node);
    notify({ kind: 'ok', title: `${node.name}: ${words(event)} accepted` });
    return true;
  } catch (err) {
    refused(node, words(event), err);
    return false;
  }
}

export async function confirmPower(node, observed) {
  try {
    const { data } = await api('POST', `${nodePath(node.id)}/power/confirm`, { observed });
    if (data?.node) store.offer(data.node);
    notify({ kind: 'ok', title: `${node.name}: confirmed ${observed}` });
  } catch (err) {
    refused(node, 'confirm', err);
  }
}
