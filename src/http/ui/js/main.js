/* global document, window, location */
/** Entry: the header (connection state, token), the hash router, and the stream. */
import { mountChart } from './chart-view.js';
import { mountFleet } from './fleet-view.js';
import { useVocabulary } from './format.js';
import { gating } from './gating.js';
import { mountNode } from './node-view.js';
import { connect, onStreamState } from './stream.js';
import { mountTokenControl } from './token-panel.js';
import { token } from './token.js';

const main = document.getElementById('view');
const conn = document.getElementById('conn');
const connText = document.getElementById('conn-text');
const banner = document.getElementById('stale-banner');
let current = null;

function route() {
  current?.destroy();
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
  const parts = hash.split('/');
  for (const a of document.querySelectorAll('.nav a')) a.classList.toggle('active', a.dataset.route === (parts[0] || 'fleet'));
  if (parts[0] === 'node' && parts[1]) current = mountNode(main, parts[1], parts[2] === 'chart' ? 'chart' : 'history');
  else if (parts[0] === 'chart') current = mountChart(main);
  else current = mountFleet(main);
  document.title = parts[0] === 'node' && parts[1] ? `${parts[1]} · Switchboard` : 'Switchboard';
}

onStreamState((state) => {
  conn.dataset.state = state.kind;
  connText.textContent = state.text;
  conn.title = state.kind === 'live' ? 'Receiving live changes' : 'Live updates are paused; the page reconnects by itself';
  banner.hidden = state.kind === 'live' || state.kind === 'connecting';
  banner.textContent = state.kind === 'auth'
    ? 'This server needs a token to read. Click “Token” at the top right and paste a viewer, operator or admin token.'
    : `Live updates are paused (${state.text.toLowerCase()}). What you see may be out of date.`;
});

/**
 * The views need the chart's words (statuses, actions, labels) from /api/v1/gating. Until the
 * API gave them (no server yet, or a token needed to read) the views render without them; the
 * words are asked for again when the token changes or a little later, and the view re-renders.
 */
function start() {
  gating().then((g) => {
    useVocabulary(g);
    route();
  }, () => {
    if (current === null) route();
    const retry = setTimeout(again, 3000);
    const stop = token.onChange(again);
    function again() {
      clearTimeout(retry);
      stop();
      start();
    }
  });
}

mountTokenControl(document.getElementById('token-slot'));
window.addEventListener('hashchange', route);
start();
connect();
