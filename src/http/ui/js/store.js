/**
 * The fleet as the stream last described it: a map of node views. Listeners hear about each
 * changed node (with the history events of that change) and about whole resets (snapshots).
 */
const nodes = new Map();
const changeListeners = new Set();
const resetListeners = new Set();

export const store = {
  nodes,
  loaded: false,
  get(id) {
    return nodes.get(id);
  },
  /** A fresh snapshot replaces everything (after every (re)connect). */
  reset(list) {
    nodes.clear();
    for (const node of list) nodes.set(node.id, node);
    this.loaded = true;
    for (const fn of resetListeners) fn();
  },
  change(node, events = [], deleted = false) {
    const before = nodes.get(node.id);
    if (deleted) nodes.delete(node.id);
    else nodes.set(node.id, node);
    for (const fn of changeListeners) fn(node, before, events, deleted);
  },
  /** A node view from a request's reply: newer than the stream's? keep it. */
  offer(node) {
    const known = nodes.get(node.id);
    if (known !== undefined && known.updatedAt > node.updatedAt) return;
    this.change(node, []);
  },
  onChange(fn) {
    changeListeners.add(fn);
    return () => changeListeners.delete(fn);
  },
  onReset(fn) {
    resetListeners.add(fn);
    return () => resetListeners.delete(fn);
  },
};
