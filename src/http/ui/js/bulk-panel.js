/**
 * The bulk bar above the fleet table: what is selected, one button per power action, a
 * progress bar that moves per chunk, and a report of every refusal in the server's words.
 */
import { h, setText } from './dom.js';
import { runBulk } from './bulk.js';
import { explain } from './explain.js';
import { ACTION_LABEL, POWER_ACTIONS, actionWords } from './format.js';
import { notify } from './notices.js';
import { store } from './store.js';

const MAX_LISTED = 200;

export class BulkPanel {
  constructor({ selected, onSelectionChanged }) {
    this.selected = selected;
    this.onSelectionChanged = onSelectionChanged;
    this.running = null;
    this.count = h('span', { class: 'sel-count', id: 'selection-count' });
    this.buttons = POWER_ACTIONS.map((action) =>
      h('button', { class: `btn btn-sm act-${action}`, dataset: { bulkAction: action }, onclick: () => this.start(action) }, ACTION_LABEL[action]));
    this.clear = h('button', { class: 'btn btn-sm btn-ghost', onclick: () => { this.selected.clear(); this.onSelectionChanged(); } }, 'Clear');
    this.stop = h('button', { class: 'btn btn-sm btn-ghost', hidden: true, onclick: () => this.running?.abort() }, 'Stop');
    this.bar = h('div', { class: 'progress-bar' });
    this.progress = h('div', { class: 'progress', id: 'bulk-progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': 'Bulk progress', hidden: true }, this.bar);
    this.summary = h('span', { class: 'bulk-summary', id: 'bulk-summary' });
    this.report = h('div', { class: 'bulk-report', id: 'bulk-report', hidden: true });
    this.el = h('div', { class: 'bulk' },
      h('div', { class: 'bulkbar' },
        this.count,
        h('span', { class: 'bulk-label' }, 'Power:'),
        h('div', { class: 'btn-group' }, this.buttons),
        this.clear, this.stop, this.progress, this.summary),
      this.report);
  }

  refresh() {
    const n = this.selected.size;
    setText(this.count, n === 0 ? 'Select nodes for a bulk action' : `${n} selected`);
    this.count.classList.toggle('has-selection', n > 0);
    for (const b of this.buttons) b.disabled = n === 0 || this.running !== null;
    this.clear.disabled = n === 0 || this.running !== null;
  }

  async start(action) {
    const ids = [...this.selected].filter((id) => store.nodes.has(id));
    if (ids.length === 0 || this.running !== null) return;
    const controller = new AbortController();
    this.running = controller;
    this.stop.hidden = false;
    this.progress.hidden = false;
    this.report.hidden = true;
    this.refresh();
    const nameOf = (id) => store.get(id)?.name ?? id;
    this.show(action, { total: ids.length, done: 0, accepted: 0, coalesced: 0, refused: 0, failed: 0, problems: [] });
    const tally = await runBulk(ids, action, { nameOf, signal: controller.signal, onProgress: (t) => this.show(action, t) });
    this.running = null;
    this.stop.hidden = true;
    this.refresh();
    this.show(action, tally, controller.signal.aborted);
    this.showReport(action, tally);
    if (tally.stopped) {
      const { title, message, next } = explain(tally.stopped);
      notify({ kind: 'error', title: `Bulk ${actionWords(action)}: ${title}`, message, next, code: tally.stopped.code });
    }
  }

  show(action, t, aborted = false) {
    const pct = t.total === 0 ? 100 : Math.round((t.done / t.total) * 100);
    this.bar.style.width = `${pct}%`;
    this.progress.setAttribute('aria-valuenow', String(pct));
    this.progress.dataset.state = t.done < t.total ? (aborted ? 'stopped' : 'running') : t.refused + t.failed > 0 ? 'partial' : 'done';
    const parts = [`${actionWords(action)}: ${t.done}/${t.total} sent`, `${t.accepted} accepted`];
    if (t.coalesced) parts.push(`${t.coalesced} already requested`);
    if (t.refused) parts.push(`${t.refused} refused`);
    if (t.failed) parts.push(`${t.failed} failed`);
    if (aborted && t.done < t.total) parts.push('stopped');
    setText(this.summary, parts.join(' · '));
  }

  showReport(action, tally) {
    if (tally.problems.length === 0) {
      this.report.hidden = true;
      return;
    }
    const groups = new Map();
    for (const p of tally.problems) {
      const key = p.error.code;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    const sections = [];
    for (const [code, items] of groups) {
      const { title, next } = explain(items[0].error);
      sections.push(h('div', { class: 'report-group', dataset: { code } },
        h('div', { class: 'report-title' }, h('strong', {}, `${title} — ${items.length} node${items.length === 1 ? '' : 's'}`),
          h('button', { class: 'btn btn-xs btn-ghost', onclick: () => {
            this.selected.clear();
            for (const item of items) if (store.nodes.has(item.id)) this.selected.add(item.id);
            this.onSelectionChanged();
          } }, 'Select these')),
        next ? h('div', { class: 'report-next' }, next) : null,
        h('ul', { class: 'report-list' },
          items.slice(0, MAX_LISTED).map((item) => h('li', {}, h('a', { href: `#/node/${encodeURIComponent(item.id)}` }, item.name), ': ', item.error.message)),
          items.length > MAX_LISTED ? h('li', { class: 'muted' }, `…and ${items.length - MAX_LISTED} more`) : null)));
    }
    this.report.replaceChildren(
      h('div', { class: 'report-head' },
        h('span', {}, `Bulk ${actionWords(action)}: ${tally.refused + tally.failed} of ${tally.total} not done`),
        h('button', { class: 'btn btn-xs btn-ghost', onclick: () => { this.report.hidden = true; } }, 'Dismiss')),
      ...sections);
    this.report.hidden = false;
  }

  destroy() {
    // A running bulk finishes on its own; its replies still update the store via the stream.
  }
}
