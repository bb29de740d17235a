/* global DOMParser, document */
/**
 * The statechart SVG from the API (generated from the machine), inlined so its states can be
 * highlighted: each state is a `<g class="node">` whose `<title>` is its id, e.g.
 * `node.lifecycle.deployed` or `node.power.verifying.polling`.
 */
import { api } from './api.js';
import { h } from './dom.js';

let cached = null;

async function loadSvgText() {
  if (cached === null) {
    cached = api('GET', '/api/v1/statechart?format=svg').then((r) => String(r.data)).catch((err) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}

/** The chart's state ids a node is in now: its lifecycle status and its power phase. */
export function currentStateIds(node) {
  const ids = [`node.lifecycle.${node.status}`];
  const phase = node.power.phase;
  if (phase === 'polling' || phase === 'waiting' || phase === 'confirming') ids.push('node.power.verifying', `node.power.verifying.${phase}`);
  else ids.push(`node.power.${phase}`);
  return ids;
}

export class ChartPanel {
  constructor() {
    this.canvas = h('div', { class: 'chart-canvas', id: 'chart-canvas' }, h('div', { class: 'muted pad' }, 'Loading the statechart…'));
    this.legend = h('div', { class: 'chart-legend', id: 'chart-legend' });
    this.fit = true;
    const zoom = h('button', { class: 'btn btn-sm btn-ghost', onclick: () => this.toggleZoom(zoom) }, 'Actual size');
    this.el = h('div', { class: 'chart-panel' }, h('div', { class: 'chart-tools' }, this.legend, zoom), this.canvas);
    this.states = new Map();
    this.ready = this.load();
    this.current = [];
  }

  async load() {
    try {
      const text = await loadSvgText();
      const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
      const svg = document.importNode(doc.documentElement, true);
      this.naturalWidth = svg.getAttribute('width') ?? '1800pt';
      svg.removeAttribute('width');
      svg.removeAttribute('height');
      svg.classList.add('statechart');
      for (const g of svg.querySelectorAll('g.node, g.cluster')) {
        const title = g.querySelector(':scope > title')?.textContent ?? '';
        const id = g.classList.contains('cluster') ? title.replace(/^cluster_/, '') : title;
        if (!this.states.has(id)) this.states.set(id, g);
        g.dataset.state = id;
      }
      this.canvas.replaceChildren(svg);
      this.svg = svg;
      this.apply();
    } catch (err) {
      this.canvas.replaceChildren(h('div', { class: 'error-box' }, `The statechart could not be loaded: ${err.message}`));
    }
  }

  /** Highlights the node's states (or none, for the plain chart). */
  highlight(node) {
    this.current = node ? currentStateIds(node) : [];
    this.node = node;
    this.apply();
  }

  apply() {
    if (!this.svg) return;
    for (const g of this.svg.querySelectorAll('.is-current')) g.classList.remove('is-current');
    const found = [];
    for (const id of this.current) {
      const g = this.states.get(id);
      if (g) {
        g.classList.add('is-current');
        found.push(id);
      }
    }
    this.canvas.dataset.current = found.join(' ');
    if (this.node) {
      const p = this.node.power;
      this.legend.replaceChildren(
        h('span', { class: 'legend-swatch' }), 'Now: ',
        h('code', {}, `lifecycle.${this.node.status}`), ' + ', h('code', {}, `power.${p.phase === 'polling' || p.phase === 'waiting' || p.phase === 'confirming' ? `verifying.${p.phase}` : p.phase}`));
    } else {
      this.legend.replaceChildren('Generated from the machine definition. Open a node to see its current states highlighted.');
    }
  }

  toggleZoom(button) {
    this.fit = !this.fit;
    this.canvas.classList.toggle('actual', !this.fit);
    if (this.svg) this.svg.style.width = this.fit ? '' : this.naturalWidth;
    button.textContent = this.fit ? 'Actual size' : 'Fit to width';
    if (!this.fit) this.svg?.querySelector('.is-current')?.scrollIntoView({ block: 'center', inline: 'center' });
  }
}
