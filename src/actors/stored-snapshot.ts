/**
 * What node_snapshots.snapshot holds: the actor's persisted snapshot without `context.settings`.
 *
 * A node's settings are a function of its nodes row (drift policy, soft-off escalation) and its
 * driver's capabilities (settingsFor in the host), so the host derives them again at every
 * restore. Storing them in each snapshot wrote the same ~160 bytes with every transition (a fifth
 * of the snapshot) and kept a second copy that could disagree with the row: a PATCH whose
 * CONFIGURE transition failed to commit left the row changed and the snapshot not, so a restart
 * brought the old policy back. Snapshots stored with settings (before this) restore the same way;
 * their stored settings are ignored.
 */
import { nodeMachine } from '../machines/node-machine.ts';
import type { NodeContext, NodeSettings } from '../machines/types.ts';

type MachineState = ReturnType<typeof nodeMachine.transition>;

interface PersistedShape {
  context?: Record<string, unknown> | null;
}

/** The persisted snapshot as it is stored: everything but the settings. */
export function toStoredSnapshot(persisted: unknown): unknown {
  const context = (persisted as PersistedShape).context;
  if (!context || typeof context !== 'object' || !('settings' in context)) return persisted;
  const { settings: _settings, ...rest } = context;
  return { ...(persisted as object), context: rest };
}

function isEmptyObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  for (const _ in value) return false;
  return true;
}

/** The one shape the chart has at rest: active, no children, no history. Anything else goes XState's own way. */
export function isPlainActive(s: { status?: unknown; children?: unknown; historyValue?: unknown } | null | undefined): boolean {
  return typeof s === 'object' && s !== null && s.status === 'active' && isEmptyObject(s.children) && isEmptyObject(s.historyValue);
}

/**
 * What the host stores after a transition, straight from the machine's state. For the states the
 * chart has (no children, no history) XState's getPersistedSnapshot only copies the state's JSON
 * fields and walks the context for actor refs, which a node's context never holds; building the
 * object here spares that walk and a second copy of the context on every transition. Anything
 * else goes the stock way. test/actors/stored-snapshot.test.ts checks both give the same JSON.
 */
export function storedSnapshotOf(state: MachineState): unknown {
  if (!isPlainActive(state)) return toStoredSnapshot(nodeMachine.getPersistedSnapshot(state));
  const { settings: _settings, ...context }: NodeContext = state.context;
  return { status: 'active', value: state.value, historyValue: {}, context, children: {} };
}

/**
 * A stored snapshot with the node's current settings, ready for the actor. In place: the caller
 * owns the snapshot outright (one just decoded from its row), which spares two copies per node.
 */
export function attachSettings(stored: unknown, settings: NodeSettings): unknown {
  const context = (stored as PersistedShape | null)?.context;
  if (!context || typeof context !== 'object') return stored;
  context.settings = settings;
  return stored;
}
