/**
 * A node's history lists: events (a timeline) and ops (a table), newest first, paged with the
 * API's cursors ("Load older"), with live additions from the stream.
 */
import { api, nodePath } from './api.js';
import { h, setText } from './dom.js';
import { actionWords, ago, clockTime, dateTime, duration, words } from './format.js';

const PAGE = 50;

export function eventSummary(e) {
  const d = e.detail ?? {};
  if (d.refusal) return `${words(d.refusal.code)}: ${d.refusal.message}`;
  if (typeof d.message === 'string') return d.message;
  if ('from' in d && 'to' in d) return `${d.from ?? '—'} → ${d.to ?? '—'}`;
  const parts = [];
  if (d.request) parts.push(`request ${actionWords(d.request)}`);
  if (d.action) parts.push(actionWords(d.action));
  if (d.step && d.step !== d.action) parts.push(`step ${words(d.step)}`);
  if (d.attempt > 1) parts.push(`attempt ${d.attempt}`);
  if (d.supersededBy) parts.push(`superseded by ${d.supersededBy}`);
  if (d.error) parts.push(`— ${d.error}`);
  if (d.name) parts.push(`${d.name} (${d.driver ?? ''}, BMC ${d.bmc ?? ''})`);
  return parts.join(' ');
}

/** Kinds whose words need more than underscores turned to spaces. */
const KIND_WORDS = {
  command_abandoned: 'command abandoned',
  bmc_unreadable: 'BMC unreadable',
  bmc_readable: 'BMC readable again',
  recovery_started: 'recovery after restart',
  recovery_verified: 'recovery checked',
};

export function kindWords(kind) {
  return KIND_WORDS[kind] ?? words(kind);
}

export function eventTone(kind) {
  if (/refused|failed|error|unresolved|unreadable/.test(kind)) return 'bad';
  if (/succeeded|accepted|bmc_readable/.test(kind)) return 'good';
  if (/in_flight|pending|retry|escalated|coalesced|superseded|drift|abandoned|recovery/.test(kind)) return 'warn';
  return 'plain';
}

class PagedList {
  constructor(url, emptyText) {
    this.url = url;
    this.items = [];
    this.ids = new Set();
    this.cursor = null;
    this.body = h('div', { class: 'list-body' });
    this.more = h('button', { class: 'btn btn-sm btn-ghost load-more', hidden: true, onclick: () => this.loadOlder() }, 'Load older');
    this.status = h('div', { class: 'muted list-status' }, 'Loading…');
    this.emptyText = emptyText;
  }

  async loadFirst() {
    try {
      const { data } = await api('GET', `${this.url}?limit=${PAGE}`);
      const fresh = data.items.filter((i) => !this.ids.has(i.id));
      // Replace what the first page covers (an op's state moves on), keep older pages.
      const firstIds = new Set(data.items.map((i) => i.id));
      const older = this.items.filter((i) => !firstIds.has(i.id));
      if (this.cursor === null || this.items.length === 0) this.cursor = data.nextCursor;
      this.items = [...data.items, ...older.filter((i) => !firstIds.has(i.id))];
      this.ids = new Set(this.items.map((i) => i.id));
      this.render();
      return fresh;
    } catch (err) {
      setText(this.status, `Could not load: ${err.message}`);
      return [];
    }
  }

  async loadOlder() {
    if (this.cursor === null) return;
    this.more.disabled = true;
    try {
      const { data } = await api('GET', `${this.url}?limit=${PAGE}&cursor=${encodeURIComponent(this.cursor)}`);
      for (const item of data.items) if (!this.ids.has(item.id)) { this.items.push(item); this.ids.add(item.id); }
      this.cursor = data.nextCursor;
      this.render();
    } catch (err) {
      setText(this.status, `Could not load older entries: ${err.message}`);
    } finally {
      this.more.disabled = false;
    }
  }

  /** Newest-first additions (from the stream). */
  prepend(items) {
    const fresh = items.filter((i) => !this.ids.has(i.id));
    if (fresh.length === 0) return;
    for (const i of fresh) this.ids.add(i.id);
    this.items = [...fresh.reverse(), ...this.items];
    this.render();
  }

  render() {
    this.body.replaceChildren(...this.items.map((i) => this.renderItem(i)));
    this.more.hidden = this.cursor === null;
    setText(this.status, this.items.length === 0 ? this.emptyText : `${this.items.length} shown${this.cursor === null ? ' (all)' : ''}`);
  }
}

export class EventTimeline extends PagedList {
  constructor(nodeId) {
    super(`${nodePath(nodeId)}/events`, 'No events yet.');
    this.el = h('section', { class: 'card history-card' },
      h('header', { class: 'card-head' }, h('h2', {}, 'Event timeline'), this.status),
      h('div', { class: 'timeline', id: 'event-timeline' }, this.body), this.more);
  }

  renderItem(e) {
    const who = [e.origin, e.actor].filter(Boolean).join(' · ');
    return h('div', { class: `tl-item tone-${eventTone(e.kind)}`, dataset: { kind: e.kind } },
      h('time', { class: 'tl-time', datetime: e.at, title: `${dateTime(e.at)} (${ago(e.at)})` }, clockTime(e.at)),
      h('span', { class: 'tl-dot' }),
      h('div', { class: 'tl-main' },
        h('span', { class: `tl-kind tone-${eventTone(e.kind)}`, title: e.kind }, kindWords(e.kind)),
        h('span', { class: 'tl-text' }, eventSummary(e)),
        who ? h('span', { class: 'tl-who' }, who) : null));
  }
}

export class OpsTable extends PagedList {
  constructor(nodeId) {
    super(`${nodePath(nodeId)}/ops`, 'No ops yet.');
    this.body = h('tbody');
    this.el = h('section', { class: 'card history-card' },
      h('header', { class: 'card-head' }, h('h2', {}, 'Power ops'), this.status),
      h('div', { class: 'ops-wrap' },
        h('table', { class: 'ops-table', id: 'ops-table' },
          h('thead', {}, h('tr', {}, ['Requested', 'Action', 'Origin / by', 'State', 'Tries', 'Took', 'Error'].map((t) => h('th', {}, t)))),
          this.body)),
      this.more);
  }

  renderItem(op) {
    return h('tr', { dataset: { state: op.state } },
      h('td', { title: dateTime(op.requestedAt) }, clockTime(op.requestedAt)),
      h('td', {}, actionWords(op.action)),
      h('td', { class: 'muted' }, [op.origin, op.requestedBy].filter(Boolean).join(' · ')),
      h('td', {}, h('span', { class: `pill op-${op.state}` }, words(op.state))),
      h('td', { class: 'num' }, String(op.attempts)),
      h('td', { class: 'num' }, duration(op.startedAt ?? op.requestedAt, op.finishedAt)),
      h('td', { class: 'err-text', title: op.error ?? '' }, op.error ?? ''));
  }
}
