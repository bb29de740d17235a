/**
 * Turns an API error into words for a person: what happened (the server's own message) and
 * what to do next. The server's message is always shown as is; we only add the next step.
 */
import { words } from './format.js';
import { token } from './token.js';

const NEXT = {
  slots_full: 'Both slots are taken (one op in flight, one pending). Wait for the in-flight op to finish, then retry.',
  not_allowed_in_status: null,
  node_busy: 'Wait until the node has nothing in flight or pending.',
  node_not_found: 'The node may have been deleted; the list refreshes by itself.',
  node_faulted: 'Its saved state could not be restored; see the node’s events and ask an admin.',
  not_confirmable: 'Nothing waits for a confirmation on this node.',
  database_unavailable: 'Nothing was changed. Retry in a few seconds.',
  shutting_down: 'Nothing was changed. Retry once the service is back.',
  rate_limited: 'Slow down and retry in a moment.',
  network: 'Check that the Switchboard server is running; the page reconnects by itself.',
};

const TITLE = {
  slots_full: 'Refused: slots full',
  not_allowed_in_status: 'Refused: not allowed in this status',
  unauthorized: 'Needs a token',
  forbidden: 'Your token’s role is too low',
  node_busy: 'Refused: node busy',
  node_not_found: 'Unknown node',
  network: 'Server unreachable',
};

/** `err` is an ApiError or a bulk result's `{code, message, details}`. */
export function explain(err) {
  const code = err.code ?? 'error';
  const details = err.details ?? {};
  const title = TITLE[code] ?? `Failed: ${words(code)}`;
  let next = NEXT[code] ?? null;
  if (code === 'not_allowed_in_status') {
    const allowedIn = Array.isArray(details.allowedIn) ? details.allowedIn.map(words).join(', ') : null;
    next = allowedIn ? `Allowed only in: ${allowedIn}.` : 'Move the node to a status that allows it first (see the gating table in the statechart view).';
  } else if (code === 'unauthorized') {
    next = token.value
      ? 'The stored token was not accepted (unknown or revoked). Paste a valid one under “Token” at the top right.'
      : 'Power and lifecycle actions need an operator token. Click “Token” at the top right and paste one.';
  } else if (code === 'forbidden') {
    next = `This needs the ${details.needed ?? 'operator'} role; your token is ${details.role ?? 'lower'}. Paste an operator or admin token under “Token”.`;
  }
  return { code, title, message: err.message ?? '', next };
}
