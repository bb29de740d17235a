/** The statechart on its own, with the gating table (which status permits what) beside it. */
import { ChartPanel } from './chart.js';
import { h } from './dom.js';
import { ACTION_LABEL, words } from './format.js';
import { gating } from './gating.js';

export function mountChart(root) {
  const chart = new ChartPanel();
  chart.highlight(undefined);
  const table = h('div', { class: 'card gating' }, h('div', { class: 'muted' }, 'Loading the gating table…'));
  root.replaceChildren(h('section', { class: 'chart-page' },
    h('div', { class: 'crumbs' }, h('a', { href: '#/' }, 'Fleet'), ' / Statechart'),
    chart.el,
    table));
  gating().then((g) => {
    const actions = g.powerActions;
    table.replaceChildren(
      h('header', { class: 'card-head' }, h('h2', {}, 'Which status permits which power op')),
      h('table', { class: 'gating-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Status'), actions.map((a) => h('th', {}, ACTION_LABEL[a] ?? a)), h('th', {}, 'Lifecycle events'))),
        h('tbody', {}, g.statuses.map((s) => h('tr', {},
          h('td', {}, words(s)),
          actions.map((a) => h('td', { class: g.power[s].includes(a) ? 'yes' : 'no' }, g.power[s].includes(a) ? '✓' : '–')),
          h('td', { class: 'muted' }, Object.entries(g.lifecycle).filter(([, r]) => r.from.includes(s)).map(([e]) => words(e)).join(', ')))))));
  }).catch((err) => table.replaceChildren(h('div', { class: 'error-box' }, `Could not load the gating table: ${err.message}`)));
  return { destroy() {} };
}
