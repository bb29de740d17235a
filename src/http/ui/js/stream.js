/* global WebSocket, location */
/**
 * The live stream: a WebSocket to /api/v1/stream that feeds the store, reconnects with
 * exponential backoff (with jitter, capped), and reports its state for the header.
 */
import { api, ApiError } from './api.js';
import { store } from './store.js';
import { token } from './token.js';

const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

const listeners = new Set();
let state = { kind: 'connecting', text: 'Connecting…' };
let socket = null;
let timer = null;
let failures = 0;

function setState(kind, text, extra = {}) {
  state = { kind, text, ...extra };
  for (const fn of listeners) fn(state);
}

export const streamState = () => state;
export function onStreamState(fn) {
  listeners.add(fn);
  fn(state);
  return () => listeners.delete(fn);
}

function url() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = token.value ? `?token=${encodeURIComponent(token.value)}` : '';
  return `${scheme}//${location.host}/api/v1/stream${query}`;
}

/** A socket that fails before opening hides the HTTP status; ask the API why. */
async function needsToken() {
  try {
    await api('GET', '/api/v1/nodes?limit=1');
    return false;
  } catch (err) {
    return err instanceof ApiError && (err.code === 'unauthorized' || err.code === 'forbidden');
  }
}

function scheduleReconnect() {
  const delay = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(failures, 10));
  const jittered = Math.round(delay * (0.75 + Math.random() * 0.5));
  failures++;
  const at = Date.now() + jittered;
  setState('reconnecting', `Reconnecting in ${Math.ceil(jittered / 1000)} s`, { at });
  timer = setTimeout(connect, jittered);
}

export function connect() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
  if (socket !== null) {
    socket.onclose = null;
    socket.close();
  }
  setState('connecting', failures > 0 ? 'Reconnecting…' : 'Connecting…');
  let opened = false;
  const ws = new WebSocket(url());
  socket = ws;
  ws.onopen = () => {
    opened = true;
  };
  ws.onmessage = (msg) => {
    let data;
    try {
      data = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (data.type === 'snapshot') {
      failures = 0;
      store.reset(data.nodes);
      setState('live', 'Live');
    } else if (data.type === 'change') {
      store.change(data.node, data.events ?? [], data.deleted === true);
    }
  };
  ws.onclose = async (ev) => {
    if (socket !== ws) return;
    socket = null;
    if (ev.code === 1008 || (!opened && (await needsToken()))) {
      if (socket !== null || timer !== null) return;
      // Retry slowly: a token may be pasted (that reconnects at once), or reads may open again.
      setState('auth', token.value ? 'Token refused' : 'Needs a token');
      timer = setTimeout(connect, MAX_DELAY_MS);
      return;
    }
    if (socket === null && timer === null) scheduleReconnect();
  };
}

/** A new token: reconnect at once with it. */
token.onChange(() => {
  failures = 0;
  connect();
});
