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
import type { NodeSettings } from '../machines/types.ts';

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

/** A stored snapshot with the node's current settings, ready for the actor. */
export function withSettings(stored: unknown, settings: NodeSettings): unknown {
  const context = (stored as PersistedShape | null)?.context;
  if (!context || typeof context !== 'object') return stored;
  return { ...(stored as object), context: { ...context, settings } };
}
