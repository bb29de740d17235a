/* global requestAnimationFrame, window, HTMLElement, Event */
/**
 * The fleet table. Virtualised: only the rows in view exist in the DOM, reused as you scroll.
 * Stream changes patch the one row they touch; the filtered list is recomputed (once per frame)
 * only when a change can move a node in or out of the filter or the order.
 */
import { frameScheduler, h, setText } from './dom.js';
import { requestPower } from './actions.js';
import { STATUSES, words } from './format.js';
import { buildRow, fillRow } from './fleet-rows.js';
import { BulkPanel } from './bulk-panel.js';
import { store } from './store.js';

const ROW_H = 30;
const OVERSCAN = 8;

/** Kept across views, so going to a node and back keeps the filter and the selection. */
const state = { text: '', status: '', power: '', sort: 'name', dir: 1, selected: new Set(), scrollTop: 0 };

const POWER_FILTERS = [
  ['', 'Any power'], ['on', 'Observed on'], ['off', 'Observed off'], ['unknown', 'Unknown'], ['error', 'Error'],
  ['busy', 'Busy (in flight / pending)'], ['waiting', 'Command waiting (queued / waiting out)'], ['unreadable', 'BMC unreadable'],
  ['drift', 'Desired ≠ observed'], ['failed', 'With last error'],
];

function matches(node) {
  if (state.status !== '' && node.status !== state.status) return false;
  const p = node.power;
  switch (state.power) {
    case '': break;
    case 'busy': if (p.inFlight === null && p.pending === null) return false; break;
    case 'waiting': if (!p.command || p.command.state === 'sent') return false; break;
    case 'unreadable': if (!p.readError) return false; break;
    case 'drift': if (p.desired === null || p.desired === p.observed) return false; break;
    case 'failed': if (p.lastError === null && node.fault === null) return false; break;
    default: if (p.observed !== state.power) return false;
  }
  if (state.text !== '') {
    const t = state.text;
    if (!node.name.toLowerCase().includes(t) && !node.id.toLowerCase().includes(t) && !node.bmc.toLowerCase().includes(t)) return false;
  }
  return true;
}

const SORT_KEYS = {
  name: (n) => n.name,
  status: (n) => `${n.status}\u0000${n.name}`,
  observed: (n) => `${n.power.observed}\u0000${n.name}`,
};

export function mountFleet(root) {
  const filterInput = h('input', { type: 'search', class: 'input', id: 'fleet-filter', placeholder: 'Filter by name, id or BMC…  ( / )', value: state.text, 'aria-label': 'Filter nodes' });
  const statusSelect = h('select', { class: 'input', id: 'status-filter', 'aria-label': 'Status filter' },
    h('option', { value: '' }, 'All statuses'), STATUSES.map((s) => h('option', { value: s }, words(s))));
  statusSelect.value = state.status;
  const powerSelect = h('select', { class: 'input', id: 'power-filter', 'aria-label': 'Power filter' },
    POWER_FILTERS.map(([value, label]) => h('option', { value }, label)));
  powerSelect.value = state.power;
  const counts = h('div', { class: 'counts', id: 'fleet-counts' });
  const selectAll = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all shown nodes' });
  const sortHeads = {};
  const th = (label, cls, sortKey) => {
    const el = h('th', { class: cls }, label);
    if (sortKey) {
      el.classList.add('sortable');
      el.addEventListener('click', () => {
        if (state.sort === sortKey) state.dir = -state.dir;
        else { state.sort = sortKey; state.dir = 1; }
        listDirty = true;
        schedule();
      });
      sortHeads[sortKey] = el;
    }
    return el;
  };
  const tbody = h('tbody');
  const topPad = h('tr', { class: 'pad', 'aria-hidden': 'true' }, h('td', { colspan: 9 }));
  const bottomPad = h('tr', { class: 'pad', 'aria-hidden': 'true' }, h('td', { colspan: 9 }));
  const table = h('table', { class: 'fleet-table', id: 'fleet-table' },
    h('colgroup', {},
      h('col', { class: 'w-sel' }), h('col', { class: 'w-name' }), h('col', { class: 'w-status' }), h('col', { class: 'w-obs' }),
      h('col', { class: 'w-des' }), h('col', { class: 'w-inflight' }), h('col', { class: 'w-pending' }), h('col', { class: 'w-error' }),
      h('col', { class: 'w-actions' })),
    h('thead', {}, h('tr', {},
      th(selectAll, 'c-sel'), th('Name', 'c-name', 'name'), th('Status', 'c-status', 'status'), th('Observed', 'c-observed', 'observed'),
      th('Desired', 'c-desired'), th('In flight', 'c-inflight'), th('Pending', 'c-pending'), th('Last error', 'c-error'),
      th('Actions', 'c-actions'))),
    tbody);
  const empty = h('div', { class: 'empty', hidden: true });
  const wrap = h('div', { class: 'table-wrap' }, table, empty);
  const bulk = new BulkPanel({ selected: state.selected, onSelectionChanged: () => refreshSelection() });
  const view = h('section', { class: 'fleet' },
    h('div', { class: 'toolbar' }, filterInput, statusSelect, powerSelect, counts),
    bulk.el,
    wrap);
  root.replaceChildren(view);

  let ids = [];
  const rowEls = new Map();
  const spare = [];
  let listDirty = true;
  let countsDirty = true;
  const dirty = new Set();

  function recomputeList() {
    const key = SORT_KEYS[state.sort];
    const list = [];
    for (const node of store.nodes.values()) if (matches(node)) list.push(node);
    const keyed = list.map((n) => [key(n), n.id]);
    keyed.sort((a, b) => (a[0] < b[0] ? -state.dir : a[0] > b[0] ? state.dir : 0));
    ids = keyed.map((k) => k[1]);
    for (const [k, el] of Object.entries(sortHeads)) el.dataset.sort = k === state.sort ? (state.dir > 0 ? 'asc' : 'desc') : '';
  }

  function renderWindow() {
    const height = wrap.clientHeight || 600;
    const first = Math.max(0, Math.floor(wrap.scrollTop / ROW_H) - OVERSCAN);
    const last = Math.min(ids.length, Math.ceil((wrap.scrollTop + height) / ROW_H) + OVERSCAN);
    const wanted = new Set(ids.slice(first, last));
    for (const [id, tr] of rowEls) {
      if (!wanted.has(id)) {
        rowEls.delete(id);
        spare.push(tr);
      }
    }
    const rows = [];
    for (let i = first; i < last; i++) {
      const id = ids[i];
      let tr = rowEls.get(id);
      if (tr === undefined) {
        tr = spare.pop() ?? buildRow();
        tr.sig$ = '';
        delete tr.dataset.observed;
        rowEls.set(id, tr);
      }
      fillRow(tr, store.get(id), state.selected.has(id));
      rows.push(tr);
    }
    topPad.firstChild.style.height = `${first * ROW_H}px`;
    bottomPad.firstChild.style.height = `${(ids.length - last) * ROW_H}px`;
    tbody.replaceChildren(topPad, ...rows, bottomPad);
    empty.hidden = ids.length > 0;
    if (ids.length === 0) {
      setText(empty, !store.loaded ? 'Waiting for the fleet…' : store.nodes.size === 0 ? 'No nodes yet. Create some with POST /api/v1/nodes (or start with --demo 50).' : 'No node matches the filter.');
    }
    refreshSelectAll();
  }

  function updateCounts() {
    let on = 0; let off = 0; let error = 0; let busy = 0; let drift = 0;
    for (const n of store.nodes.values()) {
      const p = n.power;
      if (p.observed === 'on') on++;
      else if (p.observed === 'off') off++;
      else if (p.observed === 'error') error++;
      if (p.inFlight !== null || p.pending !== null) busy++;
      if (p.desired !== null && p.desired !== p.observed) drift++;
    }
    counts.replaceChildren(
      h('span', { class: 'count' }, h('b', {}, String(store.nodes.size)), ' nodes'),
      h('span', { class: 'count c-on' }, h('i', { class: 'dot obs-on' }), h('b', {}, String(on)), ' on'),
      h('span', { class: 'count c-off' }, h('i', { class: 'dot obs-off' }), h('b', {}, String(off)), ' off'),
      h('span', { class: 'count c-err' }, h('i', { class: 'dot obs-error' }), h('b', {}, String(error)), ' error'),
      h('span', { class: 'count c-busy' }, h('i', { class: 'dot busy' }), h('b', {}, String(busy)), ' busy'),
      h('span', { class: 'count c-drift' }, h('b', {}, String(drift)), ' desired ≠ observed'),
      ...(ids.length !== store.nodes.size ? [h('span', { class: 'count shown' }, `${ids.length} shown`)] : []));
  }

  function refreshSelectAll() {
    let picked = 0;
    for (const id of ids) if (state.selected.has(id)) picked++;
    selectAll.checked = ids.length > 0 && picked === ids.length;
    selectAll.indeterminate = picked > 0 && picked < ids.length;
  }

  function refreshSelection() {
    for (const [id, tr] of rowEls) fillRow(tr, store.get(id), state.selected.has(id));
    refreshSelectAll();
    bulk.refresh();
  }

  const schedule = frameScheduler(() => {
    if (listDirty) {
      listDirty = false;
      dirty.clear();
      recomputeList();
      renderWindow();
      countsDirty = true;
    } else {
      for (const id of dirty) {
        const tr = rowEls.get(id);
        const node = store.get(id);
        if (tr !== undefined && node !== undefined) fillRow(tr, node, state.selected.has(id));
      }
      dirty.clear();
    }
    if (countsDirty) {
      countsDirty = false;
      updateCounts();
    }
  });

  const offChange = store.onChange((node, before, _events, deleted) => {
    countsDirty = true;
    if (deleted) state.selected.delete(node.id);
    if (deleted || before === undefined || matches(before) !== matches(node) || SORT_KEYS[state.sort](before) !== SORT_KEYS[state.sort](node)) {
      listDirty = true;
    } else dirty.add(node.id);
    schedule();
  });
  const offReset = store.onReset(() => {
    for (const id of [...state.selected]) if (!store.nodes.has(id)) state.selected.delete(id);
    listDirty = true;
    schedule();
    bulk.refresh();
  });

  let textTimer = null;
  filterInput.addEventListener('input', () => {
    clearTimeout(textTimer);
    textTimer = setTimeout(() => {
      state.text = filterInput.value.trim().toLowerCase();
      listDirty = true;
      schedule();
    }, 60);
  });
  statusSelect.addEventListener('change', () => { state.status = statusSelect.value; listDirty = true; schedule(); });
  powerSelect.addEventListener('change', () => { state.power = powerSelect.value; listDirty = true; schedule(); });
  wrap.addEventListener('scroll', () => {
    state.scrollTop = wrap.scrollTop;
    requestAnimationFrame(renderWindow);
  }, { passive: true });
  selectAll.addEventListener('change', () => {
    if (selectAll.checked) for (const id of ids) state.selected.add(id);
    else for (const id of ids) state.selected.delete(id);
    refreshSelection();
  });

  let lastIndex = -1;
  tbody.addEventListener('click', (ev) => {
    const target = ev.target;
    const tr = target.closest('tr.row');
    if (!tr) return;
    const id = tr.dataset.id;
    const node = store.get(id);
    if (node === undefined) return;
    const button = target.closest('button[data-action]');
    if (button) {
      void requestPower(node, button.dataset.action);
      return;
    }
    if (target.classList.contains('row-check')) {
      const index = ids.indexOf(id);
      if (ev.shiftKey && lastIndex >= 0) {
        const [a, b] = index < lastIndex ? [index, lastIndex] : [lastIndex, index];
        for (let i = a; i <= b; i++) if (target.checked) state.selected.add(ids[i]); else state.selected.delete(ids[i]);
      } else if (target.checked) state.selected.add(id);
      else state.selected.delete(id);
      lastIndex = index;
      refreshSelection();
    }
  });

  const onResize = () => requestAnimationFrame(renderWindow);
  window.addEventListener('resize', onResize);
  const onKey = (ev) => {
    const typing = ev.target instanceof HTMLElement && ev.target.matches('input, select, textarea');
    if (ev.key === '/' && !typing) {
      ev.preventDefault();
      filterInput.focus();
    } else if (ev.key === 'Escape' && ev.target === filterInput && filterInput.value !== '') {
      filterInput.value = '';
      filterInput.dispatchEvent(new Event('input'));
    }
  };
  window.addEventListener('keydown', onKey);
  requestAnimationFrame(() => {
    wrap.scrollTop = state.scrollTop;
    schedule();
  });
  bulk.refresh();

  return {
    destroy() {
      offChange();
      offReset();
      window.removeEventListener('resize', onResize);
      window.removeEventListener('keydown', onKey);
      bulk.destroy();
    },
  };
}
